#!/usr/bin/env bash
# Fails when a layer includes a header of a layer it may not use, or a third-party library
# outside the layers allowed to use it (shared/STYLE.md table).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [base]="base" [imap]="base imap" [net]="base net" [client]="base imap net client"
  [state]="base state" [sync]="base imap client state sync" [server]="base imap net server"
  [cli]="base imap net client state sync server cli"
)
bad=0
for layer in "${!allowed[@]}"; do
  for dir in "src/$layer" "include/twinbox/$layer"; do
    [[ -d $dir ]] || continue
    while IFS=: read -r file _ inc; do
      used=$(sed -E 's|.*<twinbox/([a-z]+)/.*|\1|' <<<"$inc")
      if ! grep -qw "$used" <<<"${allowed[$layer]}"; then
        echo "layer violation: $file ($layer) includes $used: $inc"
        bad=1
      fi
    done < <(grep -rn '#include <twinbox/' "$dir" || true)
  done
done
# Third-party headers: OpenSSL and zlib only in net, SQLite in state and server, CLI11 and
# nlohmann/json only in cli; public headers include none of them.
declare -A third=(
  [openssl/]="net" [zlib.h]="net" [sqlite3.h]="state server" [CLI/]="cli" [nlohmann/]="cli"
)
for lib in "${!third[@]}"; do
  while IFS=: read -r file _ inc; do
    layer=$(sed -E 's|^src/([a-z]+)/.*|\1|' <<<"$file")
    if [[ $file == include/* ]] || ! grep -qw "$layer" <<<"${third[$lib]}"; then
      echo "third-party violation: $file includes $lib (allowed in: ${third[$lib]}; never in include/)"
      bad=1
    fi
  done < <(grep -rn "#include <$lib" src include || true)
done
exit $bad
