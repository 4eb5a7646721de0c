#!/usr/bin/env bash
# Figures of the sync engine (issue 5 "Tests and measurements"): wall time, CPU (user+sys) and
# peak RSS of an initial sync of 10,000 messages in 20 mailboxes and of a no-op sync, Dovecot
# to Dovecot on this machine. Not part of ctest.
#
#   scripts/bench-sync.sh [--messages N] [--mailboxes M] [--runs R] [other scripts/bench.sh options]
#
# A thin wrapper over scripts/bench.sh (two private Dovecot instances, the seeded corpus written
# straight into maildir, /usr/bin/time around each run, a verifier after each workload): twinbox
# only, one run, no COMPRESS table, in its own Release build directory (BUILD_DIR, default
# build/bench-sync) so it never races another build. The tables bench.sh prints hold the
# figures: "initial" and "no-op" rows (also the incremental and move workloads).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build/bench-sync}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target bench_rawcopy bench_sync >/dev/null
# `twinbox sync` is used when it exists in that build, else bench_sync (same engine).
cmake --build "$dir" -j"$(nproc)" --target twinbox >/dev/null 2>&1 || true
BUILD_DIR=$(pwd)/$dir exec scripts/bench.sh --tools twinbox --runs 1 --compress-table no \
  --no-build --json "$dir/bench-sync.json" "$@"
