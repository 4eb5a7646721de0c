#!/usr/bin/env bash
# Long randomized sync campaigns (issue "Hardening"), beyond what CI runs.
#   scripts/stress.sh [--rounds N] [--seed S] [--seeds K] [--points P] [--no-dovecot] [--build DIR]
#     --rounds N    rounds per seed of the randomized history test (default 200)
#     --seed S      first seed (default: the current time)
#     --seeds K     how many consecutive seeds to run (default 1)
#     --points P    cut points per direction for the fault sweeps (default 40; CI uses 10/6/3)
#     --no-dovecot  skip the Dovecot fault sweep (the embedded-server sweeps still run)
#     --build DIR   build directory (default build/stress, RelWithDebInfo)
# Each failing seed is printed with the command line that replays it. Exit status 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=200 seed=$(date +%s) seeds=1 points=40 dovecot=1 build=build/stress
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --points) points=$2; shift 2 ;;
    --no-dovecot) dovecot=0; shift ;;
    --build) build=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "stress.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target integration_fault_random integration_fault_sync \
  integration_hostile_sync >/dev/null
bin=$build/tests/integration

failed=0
start=$(date +%s)
for ((i = 0; i < seeds; i++)); do
  s=$((seed + i))
  echo "== randomized histories: seed $s, $rounds rounds"
  if ! TWINBOX_STRESS_SEED=$s TWINBOX_STRESS_ROUNDS=$rounds "$bin/integration_fault_random"; then
    echo "FAILED: TWINBOX_STRESS_SEED=$s TWINBOX_STRESS_ROUNDS=$rounds $bin/integration_fault_random"
    failed=1
  fi
done

echo "== fault sweeps: $points cut points per direction"
filter='-tc=*embedded*'
[ "$dovecot" = 1 ] && filter=''
if ! TWINBOX_FAULT_POINTS=$points "$bin/integration_fault_sync" $filter; then
  echo "FAILED: TWINBOX_FAULT_POINTS=$points $bin/integration_fault_sync $filter"
  failed=1
fi
echo "== hostile answers"
"$bin/integration_hostile_sync" || failed=1

echo "== done in $(( $(date +%s) - start )) s; $([ $failed = 0 ] && echo 'all passed' || echo 'FAILURES above')"
exit $failed
