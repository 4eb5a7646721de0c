#!/usr/bin/env bash
# Bytes and round trips of a sync on each delta-reader path (issue 6): QRESYNC, CONDSTORE only
# (with and without ESEARCH) and plain. Two embedded servers (in memory, real TCP on 127.0.0.1)
# with the extensions switched off, a 10,000-message mailbox synced once, then a no-op and a small
# incremental sync (20 flag changes, 10 new, 5 expunged), each through counting relays.
# Embedded servers only: the figures are the client's wire traffic, which is what the path
# decides; Dovecot would differ by its answer texts. Not part of ctest.
#
#   scripts/bench-paths.sh [--messages N] [--flags F] [--new A] [--expunge X] [--paths LIST]
#
# Builds bench_paths in its own Release directory (BUILD_DIR, default build/bench-paths) and
# prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build/bench-paths}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target bench_paths >"$dir/build.log" 2>&1 ||
  { cat "$dir/build.log" >&2; exit 1; }
echo "# $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$dir/tests/bench/bench_paths" "$@"
