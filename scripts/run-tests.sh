#!/usr/bin/env bash
# Run every tier of the suite, scaled in time. pytest's exit code 5 ("no tests collected") fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export HARNESS_TIME_SCALE=${HARNESS_TIME_SCALE:-0.05}
# The tiers run in HARNESS_TEST_WORKERS parallel workers (default 3), one test file per worker at a time
# (`--dist loadfile`: a file's module-scoped stack is booted once; every stack takes free ports and its own
# directories). Most of the suite waits on scaled time rather than computing, so three workers on 2 cores
# overlap the waits: measured 5 min 36 s instead of 13 min serial. HARNESS_TEST_WORKERS=0 runs it serially.
# Tests marked `serial` act on the whole engine (`harness down` reaps every dead owner's stack) and run alone after.
workers=${HARNESS_TEST_WORKERS:-3}
run() {  # pytest -m "$1" with the rest; exit code 5 ("no tests collected") fails on purpose unless $2 allows it
  local marks=$1 allow_none=$2
  shift 2
  .venv/bin/python -m pytest -m "$marks" "$@"
  local rc=$?
  if [ "$rc" -eq 5 ] && [ "$allow_none" = "no" ]; then
    echo "pytest collected no tests for -m '$marks': failing on purpose" >&2
    return 1
  fi
  [ "$rc" -eq 5 ] && return 0
  return "$rc"
}
if [ "$workers" = "0" ]; then
  run "not realtime" no --durations=15 "$@"
  exit $?
fi
# The caller's own arguments go to both runs; a selection of theirs may hold no serial test, and that is fine.
[ "$#" -gt 0 ] && none_serial=yes || none_serial=no
run "not realtime and not serial" no -n "$workers" --dist loadfile --durations=15 "$@"
rc=$?
run "serial and not realtime" "$none_serial" "$@"
rc2=$?
[ "$rc" -ne 0 ] && exit "$rc"
exit "$rc2"
