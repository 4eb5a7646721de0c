#!/usr/bin/env bash
# The demo in one command on a fresh Debian 12 machine: installs what is missing (as root,
# with apt-get), builds twinbox (Release), then runs `twinbox demo`: two embedded IMAP servers
# with sample mail on both sides, synced, changed on both sides, synced again, result shown.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config ccache libssl-dev libsqlite3-dev libcli11-dev
  nlohmann-json3-dev doctest-dev zlib1g-dev)
scripts/install-deps.sh "${packages[@]}"

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target twinbox >/dev/null
exec build/release/twinbox demo "$@"
