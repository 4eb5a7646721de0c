#!/usr/bin/env bash
# `cmake --install BUILD_DIR` into a temporary DESTDIR with prefix /usr: checks that exactly
# the expected files are installed (binary, man pages, completions, systemd user units), with
# the modes a package needs, and that the installed binary runs. Used by ctest (install_layout).
set -euo pipefail
build=${1:?usage: check-install.sh BUILD_DIR}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

DESTDIR="$dest" cmake --install "$build" --prefix /usr >/dev/null

expected=(
  usr/bin/twinbox
  usr/lib/systemd/user/twinbox-sync@.service
  usr/lib/systemd/user/twinbox-sync@.timer
  usr/lib/systemd/user/twinbox-watch@.service
  usr/share/bash-completion/completions/twinbox
  usr/share/fish/vendor_completions.d/twinbox.fish
  usr/share/man/man1/twinbox.1
  usr/share/man/man5/twinbox.conf.5
  usr/share/zsh/vendor-completions/_twinbox
)
actual=$(cd "$dest" && find . -type f -printf '%P\n' | LC_ALL=C sort)
if ! diff -u <(printf '%s\n' "${expected[@]}" | LC_ALL=C sort) <(printf '%s\n' "$actual"); then
  echo "check-install: installed files differ from the expected layout (- expected, + installed)" >&2
  exit 1
fi
echo "installed into DESTDIR with prefix /usr:"
printf '  /%s\n' "${expected[@]}"

fail=0
for f in "${expected[@]}"; do
  mode=$(stat -c %a "$dest/$f")
  want=644
  [[ $f == usr/bin/* ]] && want=755
  if [[ $mode != "$want" ]]; then
    echo "check-install: /$f has mode $mode, expected $want" >&2
    fail=1
  fi
done
"$dest/usr/bin/twinbox" --version | grep -q '^twinbox ' || { echo "check-install: installed binary does not run" >&2; fail=1; }
# The units name the command they run and belong to systemd's user manager.
grep -q '^ExecStart=/usr/bin/env twinbox watch ' "$dest/usr/lib/systemd/user/twinbox-watch@.service" || fail=1
grep -q '^ExecStart=/usr/bin/env twinbox sync ' "$dest/usr/lib/systemd/user/twinbox-sync@.service" || fail=1
exit $fail
