#!/usr/bin/env bash
# Make a Docker engine reachable, idempotently: leave a running engine alone; otherwise install
# docker.io from Debian if needed and start one dockerd (defaults, no systemd) in the background.
# The engine's log goes to .cache/dockerd.log. Waits at most HARNESS_DOCKERD_WAIT seconds (60).
set -euo pipefail
set -E  # the ERR trap below also fires inside functions and subshells
trap 'echo "[docker] error: scripts/ensure-docker.sh line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR
cd "$(dirname "$0")/.."
root=$(pwd)
log="$root/.cache/dockerd.log"
wait_s=${HARNESS_DOCKERD_WAIT:-60}
say() { printf '\033[1m[docker]\033[0m %s\n' "$*"; }
engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
# Process checks read /proc directly: no dependency on procps, and no non-zero pipeline status
# (under `set -o pipefail`, `ps -C dockerd` finding nothing would end this script silently).
alive() {  # a live, non-zombie process with this pid
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
live_dockerd() {  # pid of a live dockerd, or nothing
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$(cat "$d/comm" 2>/dev/null)" = dockerd ] && alive "$pid" && { echo "$pid"; return 0; }
  done
  return 0
}
sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

if engine_answers; then
  say "engine already running ($(docker info --format '{{.ServerVersion}}' 2>/dev/null)); nothing to do"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing docker.io from Debian (first time only)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    docker.io iptables ca-certificates >/dev/null
fi

# A socket left by a dead engine makes dockerd refuse to start; one live dockerd is never doubled.
pid=$(live_dockerd)
if [ -n "$pid" ]; then
  say "a dockerd process exists (pid $pid) but does not answer yet; waiting for it"
else
  mkdir -p "$(dirname "$log")"
  [ -S /var/run/docker.sock ] && $sudo_cmd rm -f /var/run/docker.sock
  say "starting dockerd in the background (log: ${log#"$root"/})"
  # setsid: the engine outlives the shell (and process group) that started it.
  $sudo_cmd setsid dockerd >>"$log" 2>&1 </dev/null &
  pid=$!
fi

start=$SECONDS
until engine_answers; do
  if ! alive "$pid" || [ $((SECONDS - start)) -ge "$wait_s" ]; then
    if alive "$pid"; then why="did not answer 'docker info' within ${wait_s} s"; else why="exited (pid $pid)"; fi
    echo "[docker] error: the engine $why." >&2
    echo "[docker] last lines of $log:" >&2
    tail -n 25 "$log" >&2 2>/dev/null || echo "  (no log)" >&2
    echo "[docker] hint: look for iptables or storage-driver errors above; set HARNESS_DOCKERD_WAIT to wait longer" >&2
    exit 1
  fi
  sleep 0.5
done
say "engine ready after $((SECONDS - start)) s ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
