#!/usr/bin/env bash
# Builds the response-parser benchmark in Release and runs it (single core).
#   scripts/bench-parser.sh [build-dir]      default build/bench-parser
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/bench-parser}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target bench_response
"$dir/tests/bench/bench_response"
