#!/usr/bin/env bash
# Run every tier of the suite, scaled in time. pytest's exit code 5 ("no tests collected") fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export HARNESS_TIME_SCALE=${HARNESS_TIME_SCALE:-0.05}
# HARNESS_TEST_WORKERS=N runs the tiers in N parallel workers, one test file per worker at a time (`--dist
# loadfile`: a file's module-scoped stack is booted once). Off by default: at the CI scale a front's timers are a
# second or less, and on 2 cores two workers' stacks leave too little headroom (measured: 10 min instead of 15,
# but in three runs a 504 at 0.81 s from a 0.75 s front, a stream that outlived its 10 s bound, slow restarts).
workers=${HARNESS_TEST_WORKERS:-0}
parallel=()
[ "$workers" != "0" ] && parallel=(-n "$workers" --dist loadfile)
.venv/bin/python -m pytest -m "not realtime" "${parallel[@]}" --durations=15 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit "$rc"
