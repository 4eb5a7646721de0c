#!/usr/bin/env bash
# valgrind memcheck of whole syncs (issue 10; not run in CI: about a minute or more).
#
#   scripts/memcheck.sh [--twinbox PATH] [--messages N] [--keep]
#
# Starts two private Dovecot instances (scripts/dovecot.sh), seeds mail on both sides
# (N messages per side, default 20, in INBOX and Archive, some flagged), then runs
# `twinbox sync` three times under valgrind memcheck:
#   1. the initial sync: copies both ways;
#   2. after changes on both sides through doveadm: flags added and removed, expunges, a
#      message moved INBOX -> Archive, new messages;
#   3. a no-op sync (must change nothing).
# After each sync both sides must hold the same messages with the same flags. Any memcheck
# error or definite/indirect/possible leak fails the script (valgrind --error-exitcode).
# Exit status: 0 clean, 1 memcheck errors / sync failed / sides differ, 2 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
twinbox="" messages=20 keep=0
while (($#)); do
  case $1 in
    --twinbox) twinbox=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n 2,15p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memcheck.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $messages =~ ^[0-9]+$ && $messages -ge 4 ]] || { echo "memcheck.sh: --messages needs a number >= 4" >&2; exit 2; }
if [[ -z $twinbox ]]; then
  for c in "$root"/build/ci/twinbox "$root"/build/release/twinbox "$root"/build/dev/twinbox; do
    [[ -x $c ]] && { twinbox=$c; break; }
  done
fi
[[ -x $twinbox ]] || { echo "memcheck.sh: no twinbox binary (build it, or pass --twinbox PATH)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

work=$(mktemp -d /tmp/twinbox-memcheck.XXXXXX)
chmod 755 "$work"  # Dovecot's unprivileged processes must reach the instance dirs
cleanup() {
  "$here/dovecot.sh" stop "$work/a" --fast >/dev/null 2>&1 || true
  "$here/dovecot.sh" stop "$work/b" --fast >/dev/null 2>&1 || true
  if ((keep)); then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log() { printf '%s memcheck: %s\n' "$(date +%H:%M:%S)" "$*"; }
port() { sed -n "s/.*imap=\([0-9]*\).*/\1/p" "$1/ports"; }
doveadm() { local d=$1; shift; "$here/dovecot.sh" doveadm "$d" "$@"; }

"$here/dovecot.sh" start "$work/a" >/dev/null
"$here/dovecot.sh" start "$work/b" >/dev/null
cat >"$work/twinbox.conf" <<EOF
state = $work/state.db
type = imap
tls = none
host = 127.0.0.1
username = alice
password = secret
[local]
port = $(port "$work/a")
[remote]
port = $(port "$work/b")
EOF
chmod 600 "$work/twinbox.conf"

n=0
new_message() {  # side-dir mailbox [size-lines]
  n=$((n + 1))
  local id="m$n-$(basename "$1")" lines=${3:-3} i
  {
    printf 'From: memcheck <mc@twinbox.test>\r\nTo: alice@twinbox.test\r\nSubject: memcheck %s\r\n' "$id"
    printf 'Message-ID: <%s@memcheck.twinbox.test>\r\nDate: %s\r\n\r\n' "$id" "$(date -R)"
    for ((i = 0; i < lines; i++)); do printf 'Line %d of %s, padded to make the body longer.\r\n' "$i" "$id"; done
  } | doveadm "$1" save -u alice -m "$2"
}
first_uids() {  # side-dir mailbox count -> the first `count` UIDs
  doveadm "$1" search -u alice mailbox "$2" ALL | awk -v k="$3" 'NR<=k {print $2}'
}
snapshot() {  # dir -> sorted "mailbox message-id flags" lines (\Recent dropped)
  local d=$1 mb
  for mb in INBOX Archive; do
    doveadm "$d" fetch -u alice "hdr.message-id flags" mailbox "$mb" ALL 2>/dev/null |
      awk -v mb="$mb" '/^hdr.message-id:/ {id=$2} /^flags:/ {f=""; for (i=2;i<=NF;i++) if ($i != "\\Recent") f=f" "$i; print mb, id, f}'
  done | sort
}

# Seed: both sides, both mailboxes, one large message, some flags.
half=$((messages / 2))
for ((i = 0; i < half; i++)); do
  new_message "$work/a" INBOX
  new_message "$work/b" INBOX
  new_message "$work/a" Archive
  new_message "$work/b" Archive
done
new_message "$work/a" INBOX 20000  # about 1 MB: several FETCH/APPEND chunks
for u in $(first_uids "$work/a" INBOX 3); do doveadm "$work/a" flags add -u alice '\Seen $Label1' mailbox INBOX uid "$u"; done
for u in $(first_uids "$work/b" Archive 2); do doveadm "$work/b" flags add -u alice '\Flagged' mailbox Archive uid "$u"; done

vg=(valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
  --errors-for-leak-kinds=definite,indirect,possible --track-fds=no --num-callers=30)
failed=0
sync_under_valgrind() {  # name
  local name=$1 rc=0 t0=$SECONDS
  "${vg[@]}" --log-file="$work/valgrind-$name.log" "$twinbox" sync --config "$work/twinbox.conf" \
    >"$work/sync-$name.out" 2>&1 || rc=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY|in use at exit|All heap blocks|definitely lost|indirectly lost|possibly lost" "$work/valgrind-$name.log" | sed 's/^==[0-9]*== *//' | paste -sd ';' -)
  log "sync $name: exit $rc in $((SECONDS - t0)) s; $summary"
  if ((rc != 0)); then
    failed=1
    log "sync $name failed (exit $rc); output:"; tail -20 "$work/sync-$name.out"
    ((rc == 99)) && { log "valgrind report:"; grep -A30 -E "Invalid|uninitialised|definitely lost|possibly lost|indirectly lost" "$work/valgrind-$name.log" | head -80; }
    keep=1
  fi
  snapshot "$work/a" >"$work/a.txt"
  snapshot "$work/b" >"$work/b.txt"
  if ! cmp -s "$work/a.txt" "$work/b.txt"; then
    failed=1 keep=1
    log "sides differ after sync $name:"; diff "$work/a.txt" "$work/b.txt" | head -20 || true
  fi
}

start=$SECONDS
log "seeded $(doveadm "$work/a" search -u alice ALL | wc -l) messages on local, $(doveadm "$work/b" search -u alice ALL | wc -l) on remote"
sync_under_valgrind initial
log "both sides: $(wc -l <"$work/a.txt") messages"

# Changes on both sides: flags, expunges, a move, new mail.
for u in $(first_uids "$work/a" INBOX 2); do doveadm "$work/a" flags remove -u alice '\Seen' mailbox INBOX uid "$u"; done
for u in $(first_uids "$work/b" INBOX 4 | tail -2); do doveadm "$work/b" flags add -u alice '\Answered $Done' mailbox INBOX uid "$u"; done
for u in $(first_uids "$work/b" Archive 2); do doveadm "$work/b" expunge -u alice mailbox Archive uid "$u"; done
moved=$(first_uids "$work/a" INBOX 6 | tail -1)
doveadm "$work/a" move -u alice Archive mailbox INBOX uid "$moved"
new_message "$work/a" INBOX
new_message "$work/b" Archive
sync_under_valgrind changes
if ! grep -q "[1-9] moved" "$work/sync-changes.out"; then
  log "the second sync did not move the moved message:"; cat "$work/sync-changes.out"; failed=1 keep=1
fi

sync_under_valgrind noop
if ! grep -q "nothing to do" "$work/sync-noop.out"; then
  log "the no-op sync changed something:"; cat "$work/sync-noop.out"; failed=1 keep=1
fi

echo "---"
echo "valgrind:   $(valgrind --version), $twinbox"
echo "messages:   $(wc -l <"$work/a.txt") per side after the last sync"
echo "wall time:  $((SECONDS - start)) s for three syncs under memcheck"
if ((failed == 0)); then echo "result:     CLEAN"; exit 0; fi
echo "result:     FAILED (logs in $work)"
exit 1
