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
run() {  # pytest with the given marker expression; exit code 5 ("no tests collected") fails on purpose
  .venv/bin/python -m pytest -m "$1" "${@:2}"
  local rc=$?
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests for -m '$1': failing on purpose" >&2; return 1; fi
  return "$rc"
}
if [ "$workers" = "0" ] || [ "$#" -gt 0 ]; then  # serially, or a selection of the caller's own in one run
  [ "$workers" = "0" ] && par=() || par=(-n "$workers" --dist loadfile)
  run "not realtime" "${par[@]}" --durations=15 "$@"
  exit $?
fi
run "not realtime and not serial" -n "$workers" --dist loadfile --durations=15 "$@"
rc=$?
run "serial and not realtime" "$@"
rc2=$?
[ "$rc" -ne 0 ] && exit "$rc"
exit "$rc2"
