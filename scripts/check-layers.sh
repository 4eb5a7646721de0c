#!/usr/bin/env bash
# Fails when a layer includes a header of a layer it may not use (shared/STYLE.md table).
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
exit $bad
