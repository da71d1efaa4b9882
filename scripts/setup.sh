#!/usr/bin/env bash
# Idempotent, cached setup: Debian packages, the project venv, Toxiproxy (Go build, `harness install toxiproxy`).
# Re-running when nothing changed takes seconds: each step checks before it acts.
set -euo pipefail
set -E  # the ERR trap below also fires inside functions and subshells
trap 'echo "[setup] error: scripts/setup.sh line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR
cd "$(dirname "$0")/.."
root=$(pwd)
cache="$root/.cache"
mkdir -p "$cache"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_pkgs+=(nginx-light)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)  # headless: the report tests open report.html in it
for extra in ${HARNESS_EXTRA_DEBS:-}; do dpkg -s "$extra" >/dev/null 2>&1 || need_pkgs+=("$extra"); done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  # policy-rc.d 101: never start the packaged daemons; the harness starts its own on free ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
    $sudo_cmd chmod +x /usr/sbin/policy-rc.d; trap '$sudo_cmd rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
else
  say "Debian packages present (redis-server, nginx)"
fi

# --- Python venv -------------------------------------------------------------------------------
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($py --version)"
  $py -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
# The stamp lives inside the venv: a venv recreated (or replaced) is installed again, whatever the cache holds.
stamp=".venv/.installed.$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing the project and its dev tools into .venv"
  .venv/bin/pip install -q -e ".[containers,report,dev]"
  rm -f .venv/.installed.*; touch "$stamp"
else
  say ".venv up to date"
fi

# --- Toxiproxy (the real Go server + CLI, pinned), into the per-user cache like a pip user's -----
.venv/bin/harness install toxiproxy

# --- Docker engine and the offline images (the containers backend) ----------------------------
if [ "${HARNESS_SKIP_DOCKER:-0}" != "1" ]; then
  bash scripts/ensure-docker.sh
  .venv/bin/harness images build --offline
fi

say "done"
