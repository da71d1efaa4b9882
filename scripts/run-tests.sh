#!/usr/bin/env bash
# Run every tier of the suite, scaled in time. pytest's exit code 5 ("no tests collected") fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export HARNESS_TIME_SCALE=${HARNESS_TIME_SCALE:-0.05}
# Tiers run in parallel, one test file per worker at a time (`--dist loadfile`: a file's module-scoped stack
# is booted once). Most of the suite waits on scaled time, but at the CI scale a front's timers are a second or
# less, so a machine loaded past its cores turns into proxy timeouts: one worker per core (measured on 2 cores:
# 4 workers gave 504s and slow API restarts). HARNESS_TEST_WORKERS=0 runs the suite in one process.
workers=${HARNESS_TEST_WORKERS:-$(nproc)}
parallel=()
[ "$workers" != "0" ] && parallel=(-n "$workers" --dist loadfile)
.venv/bin/python -m pytest -m "not realtime" "${parallel[@]}" --durations=15 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit "$rc"
