#!/usr/bin/env bash
# Soak test of `twinbox watch` (not run in CI):
#
#   scripts/soak.sh MINUTES [--twinbox PATH] [--rate SECONDS] [--max-messages N] [--keep]
#
# Starts two private Dovecot instances (scripts/dovecot.sh), runs `twinbox watch` between
# them, and for MINUTES makes steady changes on both sides through doveadm (new messages,
# flag changes, expunges, in INBOX and Archive), one every --rate seconds (default 1).
# A mailbox holding --max-messages (default 30) gets an expunge instead of a new message, so
# the mail (and the state) stop growing after a few minutes: RSS growth after that is a leak.
# Then it lets watch settle, stops it with SIGTERM (must exit 0) and checks that both sides
# hold the same messages with the same flags and that no Message-ID is there twice.
# Prints the RSS of the watch process at start, every minute and at the end.
# Exit status: 0 converged, 1 not converged / watch failed, 2 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
minutes=${1:-}
[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 ]] || { sed -n 2,12p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
shift
twinbox=""
rate=1
max_messages=30
keep=0
while (($#)); do
  case $1 in
    --twinbox) twinbox=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --max-messages) max_messages=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ -z $twinbox ]]; then
  for c in "$root"/build/release/twinbox "$root"/build/ci/twinbox "$root"/build/*/twinbox; do
    [[ -x $c ]] && { twinbox=$c; break; }
  done
fi
[[ -x $twinbox ]] || { echo "soak.sh: no twinbox binary (build it, or pass --twinbox PATH)" >&2; exit 2; }

work=$(mktemp -d /tmp/twinbox-soak.XXXXXX)
chmod 755 "$work"  # Dovecot's unprivileged processes must reach the instance dirs
watch_pid=""
cleanup() {
  [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null || true
  "$here/dovecot.sh" stop "$work/a" --fast >/dev/null 2>&1 || true
  "$here/dovecot.sh" stop "$work/b" --fast >/dev/null 2>&1 || true
  if ((keep)); then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log() { printf '%s soak: %s\n' "$(date +%H:%M:%S)" "$*"; }
port() { sed -n "s/.*imap=\([0-9]*\).*/\1/p" "$1/ports"; }
doveadm() { local d=$1; shift; "$here/dovecot.sh" doveadm "$d" "$@"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$watch_pid/status" 2>/dev/null || echo 0; }

"$here/dovecot.sh" start "$work/a" >/dev/null
"$here/dovecot.sh" start "$work/b" >/dev/null
cat >"$work/soak.conf" <<EOF
state = $work/state.db
type = imap
tls = none
host = 127.0.0.1
username = alice
password = secret
poll_interval = 60
[local]
port = $(port "$work/a")
[remote]
port = $(port "$work/b")
EOF
chmod 600 "$work/soak.conf"

n=0
message() {
  printf 'From: soak <soak@twinbox.test>\r\nTo: alice@twinbox.test\r\nSubject: soak %s\r\nMessage-ID: <%s@soak.twinbox.test>\r\nDate: %s\r\n\r\nBody of %s.\r\n' \
    "$1" "$1" "$(date -R)" "$1"
}
new_message() {  # side-dir mailbox
  n=$((n + 1))
  message "m$n-$(basename "$1")" | doveadm "$1" save -u alice -m "$2"
}
# A few messages on both sides before watch starts.
for i in 1 2 3 4 5; do new_message "$work/a" INBOX; new_message "$work/b" Archive; done

"$twinbox" watch --verbose --config "$work/soak.conf" >"$work/watch.log" 2>&1 &
watch_pid=$!
deadline=$((SECONDS + 60))
until grep -q "watching both sides\|remote: watching" "$work/watch.log" && grep -q "round 1 " "$work/watch.log"; do
  ((SECONDS < deadline)) || { log "watch did not start:"; tail -20 "$work/watch.log"; exit 1; }
  kill -0 "$watch_pid" 2>/dev/null || { log "watch exited:"; tail -20 "$work/watch.log"; exit 1; }
  sleep 0.2
done
rss_start=$(rss_kb)
log "watch pid $watch_pid started; RSS ${rss_start} kB; changing both sides for $minutes min"

# One random change on a random side.
change() {
  local side=$work/a mbox=INBOX uids op
  ((RANDOM % 2)) && side=$work/b
  ((RANDOM % 3 == 0)) && mbox=Archive
  uids=$(doveadm "$side" search -u alice mailbox "$mbox" ALL 2>/dev/null | awk '{print $2}')
  op=$((RANDOM % 4))
  ((op <= 1 && $(wc -w <<<"$uids") >= max_messages)) && op=3
  case $op in
    0 | 1) new_message "$side" "$mbox" ;;
    2) [[ -n $uids ]] && doveadm "$side" flags add -u alice '\Flagged $soak' mailbox "$mbox" uid "${uids%%$'\n'*}" || true ;;
    3) [[ -n $uids ]] && doveadm "$side" expunge -u alice mailbox "$mbox" uid "${uids%%$'\n'*}" || true ;;
  esac
}

end=$((SECONDS + minutes * 60))
next_report=$((SECONDS + 60))
changes=0
rss_max=$rss_start
while ((SECONDS < end)); do
  change
  changes=$((changes + 1))
  kill -0 "$watch_pid" 2>/dev/null || { log "watch died:"; tail -20 "$work/watch.log"; exit 1; }
  r=$(rss_kb)
  ((r > rss_max)) && rss_max=$r
  if ((SECONDS >= next_report)); then
    log "$changes changes so far; RSS $r kB"
    next_report=$((SECONDS + 60))
  fi
  sleep "$rate"
done

snapshot() {  # dir -> sorted "mailbox message-id flags" lines (\Recent dropped)
  local d=$1 mb
  for mb in INBOX Archive; do
    doveadm "$d" fetch -u alice "hdr.message-id flags" mailbox "$mb" ALL 2>/dev/null |
      awk -v mb="$mb" '/^hdr.message-id:/ {id=$2} /^flags:/ {f=""; for (i=2;i<=NF;i++) if ($i != "\\Recent") f=f" "$i; print mb, id, f}'
  done | sort
}
# Settle: wait until both sides hold the same messages and flags, bounded by 150 s (more than
# the 60 s safety poll), and report how long the last changes took to arrive.
log "changes stopped ($changes); waiting for both sides to agree"
stopped_at=$SECONDS
deadline=$((SECONDS + 150))
settle_s=-1
while ((SECONDS < deadline)); do
  snapshot "$work/a" >"$work/a.txt"
  snapshot "$work/b" >"$work/b.txt"
  if cmp -s "$work/a.txt" "$work/b.txt"; then settle_s=$((SECONDS - stopped_at)); break; fi
  kill -0 "$watch_pid" 2>/dev/null || break
  sleep 0.5
done
if ((settle_s >= 0)); then log "both sides agree ${settle_s} s after the last change"
else log "both sides still differ 150 s after the last change"; fi
rss_end=$(rss_kb)
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
watch_pid=""
log "watch exited with status $rc after SIGTERM"
snapshot "$work/a" >"$work/a.txt"
snapshot "$work/b" >"$work/b.txt"
dups_a=$(awk '{print $1, $2}' "$work/a.txt" | sort | uniq -d | wc -l)
dups_b=$(awk '{print $1, $2}' "$work/b.txt" | sort | uniq -d | wc -l)
rounds=$(grep -c "round [0-9]* (" "$work/watch.log" || true)
failed=$(grep -c "failed" "$work/watch.log" || true)
echo "---"
echo "minutes:          $minutes"
echo "changes:          $changes"
echo "messages:         local $(wc -l <"$work/a.txt"), remote $(wc -l <"$work/b.txt")"
echo "duplicates:       local $dups_a, remote $dups_b"
echo "rounds logged:    $rounds (lines mentioning 'failed': $failed)"
echo "settled after:    ${settle_s} s (-1: never)"
echo "RSS (kB):         start $rss_start, end $rss_end, max $rss_max"
echo "exit on SIGTERM:  $rc"
if ((rc == 0 && dups_a == 0 && dups_b == 0)) && cmp -s "$work/a.txt" "$work/b.txt"; then
  echo "result:           CONVERGED"
  exit 0
fi
echo "result:           NOT CONVERGED"
diff "$work/a.txt" "$work/b.txt" | head -20 || true
keep=1
exit 1
