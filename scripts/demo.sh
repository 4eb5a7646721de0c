#!/usr/bin/env bash
# The demo in one command on a fresh Debian 12 machine: installs what is missing (as root,
# with apt-get), builds twinbox (Release), then runs `twinbox demo`: two embedded IMAP servers
# with sample mail on both sides, synced, changed on both sides, synced again, result shown.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config ccache libssl-dev libsqlite3-dev libcli11-dev
  nlohmann-json3-dev doctest-dev zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "demo.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "demo.sh: missing packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target twinbox >/dev/null
exec build/release/twinbox demo "$@"
