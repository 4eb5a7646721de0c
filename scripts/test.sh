#!/usr/bin/env bash
# The one test command: installs what is missing (Debian 12), builds, runs every test.
#   scripts/test.sh            CI build (-Werror) + all ctest labels + fuzz smoke
#   scripts/test.sh --asan     the same suite under ASan+UBSan (build/asan)
#   scripts/test.sh --no-fuzz  skip the clang/libFuzzer smoke runs
set -euo pipefail
cd "$(dirname "$0")/.."

preset=ci
fuzz=1
for arg in "$@"; do
  case "$arg" in
    --asan) preset=asan ;;
    --no-fuzz) fuzz=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(build-essential cmake pkg-config ccache openssl libssl-dev libsqlite3-dev libcli11-dev
  nlohmann-json3-dev doctest-dev zlib1g-dev dovecot-imapd clang-14 libclang-rt-14-dev
  tmux zsh fish)  # tmux: progress display in a pseudo-terminal; zsh, fish: completions loaded
scripts/install-deps.sh "${packages[@]}"
# The suite installed zsh, fish and tmux above: with CI set, tests needing them fail if absent
# instead of being skipped.
export CI="${CI:-1}"

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" --timeout 600 --output-on-failure

if ((fuzz)) && [[ $preset == ci ]] && command -v clang++-14 >/dev/null; then
  scripts/fuzz.sh --smoke 10
fi
