#!/usr/bin/env bash
# libFuzzer campaigns (clang 14, ASan+UBSan).
#   scripts/fuzz.sh TARGET SECONDS   run one target (e.g. fuzz_response 3600)
#   scripts/fuzz.sh --smoke [SECS]   every target over its corpus, then SECS (default 20) of fuzzing
#   scripts/fuzz.sh --list           list targets
# Crashes are written to tests/fuzz/crash-*; add each as a regression input to the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset fuzz >/dev/null
build=build/fuzz
targets() { ls tests/fuzz/fuzz_*.cpp 2>/dev/null | xargs -n1 basename | sed 's/\.cpp$//'; }

run_one() {
  local t=$1 secs=$2 corpus=tests/fuzz/corpus/${1#fuzz_}
  mkdir -p "$corpus" "$build/corpus-$t"
  cmake --build "$build" -j "$(nproc)" --target "$t" >/dev/null
  echo "== $t: ${secs}s over $corpus"
  "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=tests/fuzz/crash- -print_final_stats=1 "$build/corpus-$t" "$corpus" 2>&1 |
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE|==|SUMMARY)' || true
  test "${PIPESTATUS[0]}" -eq 0
}

case "${1:-}" in
  --list) targets ;;
  --smoke)
    secs=${2:-20}
    for t in $(targets); do run_one "$t" "$secs"; done ;;
  "" | -h | --help) sed -n '2,6p' "$0" ;;
  *) run_one "$1" "${2:-60}" ;;
esac
