#!/usr/bin/env bash
# Benchmarks twinbox side by side with InterIMAP, mbsync and the raw-copy limit (issue 8).
#
#   scripts/bench.sh [--messages N] [--mailboxes M] [--runs R] [--seed S]
#                    [--tools LIST] [--compress-table yes|no] [--json FILE] [--keep]
#                    [--dovecot-login default|warm]
#
#   --messages N      corpus size (default 10000)
#   --mailboxes M     mailboxes (default 20)
#   --runs R          runs per tool; figures are medians (default 3)
#   --seed S          corpus and workload seed (default 1)
#   --tools LIST      comma-separated subset of twinbox,interimap,mbsync (default all)
#   --compress-table  also run every tool with COMPRESS=DEFLATE (default yes)
#   --compress-runs R runs for the COMPRESS=DEFLATE table (default 1)
#   --json FILE       results (default bench-results.json in the current directory)
#   --workdir DIR     where the servers keep their mail (default /dev/shm: on tmpfs the
#                     servers' fsync calls do not dominate the figures; else /tmp)
#   --tool-timeout S  a tool run taking longer is stopped and reported as failed
#                     (default 60 + N/50 seconds)
#   --keep            keep the work directory (servers are stopped anyway)
#   --dovecot-login   default: Dovecot starts an imap-login and an imap process for every
#                     connection (about 40 ms before the first command here); warm: its
#                     high-performance mode (scripts/dovecot.sh --login warm), as providers
#                     run it, so the no-op figures show the tools rather than process start-up
#   --no-build        use the binaries already in the build directory (BUILD_DIR, default
#                     build/release)
#
# Installs what is missing from Debian (dovecot-imapd interimap isync time), builds the Release
# preset (build/release: twinbox, bench_rawcopy, and bench_sync while `twinbox sync` is not
# wired), starts two private Dovecot instances on 127.0.0.1 (scripts/dovecot.sh, maildir,
# CONDSTORE/QRESYNC/LIST-STATUS/COMPRESS available), writes the seeded corpus straight into a
# template account (scripts/bench/corpus.py) and gives every tool and run a fresh copy of it.
#
# Workloads per tool, on fresh identical copies: (a) initial sync of the corpus, (b) no-op
# re-sync, (c) incremental (1 % flags changed on each side, 100 new on A, 50 expunged on B),
# (d) 1,000 messages moved between two mailboxes on A. After each workload the verifier
# (scripts/bench/imapctl.py verify) compares both accounts; a tool that does not converge is
# reported as such, not timed. The raw-copy limit (bench_rawcopy: FETCH BODY.PEEK[] from A,
# MULTIAPPEND with LITERAL+ to B, nothing else) runs in the same loop, and so does the no-op
# limit (bench_rawcopy --noop: LOGIN, one LIST-STATUS and LOGOUT on both servers at once, the
# least a stateful sync can do to learn that nothing changed; its wall time is mostly
# Dovecot's own login and its STATUS of every mailbox; --dovecot-login warm shows how little
# of it is starting an imap-login and an imap process per connection).
#
# Figures: wall time, user+sys CPU and peak RSS of the tool (/usr/bin/time), bytes the servers
# received and sent (Dovecot's "Logged out in=… out=…" log lines: payload bytes, before
# compression), and for the no-op an extra untimed run through a counting proxy
# (scripts/bench/countproxy.py) for round trips and exact wire bytes. Medians of R runs, ratios
# twinbox/peer and twinbox/limit; printed as tables and written as JSON.
#
# Every process is started and stopped by PID; the work directory is removed on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/scripts
N=10000 M=20 R=3 CR=1 SEED=1 TOOLS=twinbox,interimap,mbsync COMPRESS_TABLE=yes KEEP=0 NO_BUILD=0 TOOL_TIMEOUT= LOGIN=default
JSON=$PWD/bench-results.json
WORKROOT=/dev/shm
BUILD=${BUILD_DIR:-$root/build/release}

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while (($#)); do
  case $1 in
    --messages) N=${2:?}; shift 2 ;;
    --mailboxes) M=${2:?}; shift 2 ;;
    --runs) R=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --tools) TOOLS=${2:?}; shift 2 ;;
    --compress-table) COMPRESS_TABLE=${2:?}; shift 2 ;;
    --compress-runs) CR=${2:?}; shift 2 ;;
    --json) JSON=$(realpath -m "${2:?}"); shift 2 ;;
    --workdir) WORKROOT=${2:?}; shift 2 ;;
    --tool-timeout) TOOL_TIMEOUT=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --dovecot-login) LOGIN=${2:?}; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    -h | --help) sed -n '2,51p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 ]] || die "--messages must be a number >= 10"
[[ $M =~ ^[0-9]+$ && $M -ge 2 ]] || die "--mailboxes must be a number >= 2"
[[ $R =~ ^[0-9]+$ && $R -ge 1 ]] || die "--runs must be a number >= 1"
[[ $CR =~ ^[0-9]+$ && $CR -ge 1 ]] || die "--compress-runs must be a number >= 1"
TOOL_TIMEOUT=${TOOL_TIMEOUT:-$((60 + N / 50))}
[[ $COMPRESS_TABLE == yes || $COMPRESS_TABLE == no ]] || die "--compress-table yes|no"
[[ $LOGIN == default || $LOGIN == warm ]] || die "--dovecot-login default|warm"
IFS=, read -r -a tools <<<"$TOOLS"
for t in "${tools[@]}"; do
  [[ $t == twinbox || $t == interimap || $t == mbsync ]] || die "unknown tool '$t'"
done

# --- Dependencies ---------------------------------------------------------------------------
missing=()
for pkg in dovecot-imapd interimap isync time; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (apt-get install them)"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
fi
command -v python3 >/dev/null || die "python3 is required"

# --- Build (Release) ------------------------------------------------------------------------
RAWCOPY=$BUILD/tests/bench/bench_rawcopy
TWINBOX_CMD=()
build() { ((NO_BUILD)) || cmake --build "$BUILD" -j"$(nproc)" --target "$1" >/dev/null 2>&1; }
if ((!NO_BUILD)) && [[ ! -f $BUILD/CMakeCache.txt ]]; then
  log "configuring $BUILD (cmake --preset release)"
  (cd "$root" && cmake --preset release >/dev/null) || die "cmake --preset release failed"
fi
((NO_BUILD)) || log "building bench_rawcopy, twinbox (or bench_sync) in $BUILD"
build bench_rawcopy && [[ -x $RAWCOPY ]] || die "building bench_rawcopy failed (cmake --build $BUILD --target bench_rawcopy)"
if [[ " ${tools[*]} " == *" twinbox "* ]]; then
  if build twinbox && "$BUILD/twinbox" sync --help >/dev/null 2>&1; then
    TWINBOX_CMD=("$BUILD/twinbox" sync)
  elif build bench_sync && [[ -x $BUILD/tests/bench/bench_sync ]]; then
    log "twinbox has no 'sync' command yet: using tests/bench/bench_sync (same config, same engine)"
    TWINBOX_CMD=("$BUILD/tests/bench/bench_sync")
  else
    die "neither 'twinbox sync' nor bench_sync could be built in $BUILD"
  fi
fi

# --- Work directory, servers, cleanup -------------------------------------------------------
[[ -d $WORKROOT && -w $WORKROOT ]] || WORKROOT=/tmp
WORK=$(mktemp -d "$WORKROOT/twinbox-bench.XXXXXX")
chmod 755 "$WORK"
PROXY_PIDS=()
cleanup() {
  local rc=$? pid
  for pid in "${PROXY_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  for d in "$WORK/a" "$WORK/b"; do
    [[ -f $d/dovecot.pid ]] && "$here/dovecot.sh" stop "$d" --fast >/dev/null 2>&1 || true
  done
  if ((KEEP)); then
    echo "bench.sh: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

modes=(0)
TOOL_TIMEOUT=${TOOL_TIMEOUT:-$((60 + N / 50))}
[[ $COMPRESS_TABLE == yes ]] && modes+=(1)
run_tools=(raw "${tools[@]}")
{
  echo "tmpl:secret"
  for c in "${modes[@]}"; do
    for ((r = 1; r <= (c ? CR : R); r++)); do
      for t in "${run_tools[@]}"; do echo "${t}${c}r${r}:secret"; done
    done
  done
} >"$WORK/users"

log "starting two Dovecot instances"
"$here/dovecot.sh" start "$WORK/a" --users "$WORK/users" --login "$LOGIN" >/dev/null
"$here/dovecot.sh" start "$WORK/b" --users "$WORK/users" --login "$LOGIN" >/dev/null
PORT_A=$(sed -n 's/.*imap=\([0-9]*\).*/\1/p' "$WORK/a/ports")
PORT_B=$(sed -n 's/.*imap=\([0-9]*\).*/\1/p' "$WORK/b/ports")
dovecot_version=$(/usr/sbin/dovecot --version | cut -d' ' -f1)

log "writing the corpus: $N messages in $M mailboxes (seed $SEED)"
corpus_info=$(python3 "$here/bench/corpus.py" maildir "$WORK/a/mail/tmpl" \
  --messages "$N" --mailboxes "$M" --seed "$SEED")
log "corpus: $corpus_info"
[[ $(id -u) -eq 0 ]] && chown -R dovecot:dovecot "$WORK/a/mail/tmpl"
# Dovecot indexes the template once; every copy starts with the same UIDs and indexes.
"$here/dovecot.sh" doveadm "$WORK/a" mailbox status -u tmpl "messages uidvalidity" '*' >/dev/null

mkdir -p "$WORK/state" "$WORK/cfg" "$WORK/out"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# --- Tool configurations --------------------------------------------------------------------
# write_config TOOL USER COMPRESS(0|1) -> prints the command line to run
write_config() {
  local tool=$1 user=$2 c=$3 f
  case $tool in
    twinbox)
      f=$WORK/cfg/$user.conf
      cat >"$f" <<EOF
state = $WORK/state/$user.db
[local]
type = imap
tls = none
host = 127.0.0.1
port = $PORT_A
username = $user
password = secret
compress = $([[ $c == 1 ]] && echo yes || echo no)
[remote]
type = imap
tls = none
host = 127.0.0.1
port = $PORT_B
username = $user
password = secret
compress = $([[ $c == 1 ]] && echo yes || echo no)
EOF
      chmod 600 "$f"
      echo "${TWINBOX_CMD[*]} --config $f"
      ;;
    interimap)
      f=$WORK/cfg/$user.interimap
      cat >"$f" <<EOF
database = $WORK/state/$user.interimap.db
[local]
type = imap
host = 127.0.0.1
port = $PORT_A
username = $user
password = secret
STARTTLS = NO
compress = $([[ $c == 1 ]] && echo YES || echo NO)
[remote]
type = imap
host = 127.0.0.1
port = $PORT_B
username = $user
password = secret
STARTTLS = NO
compress = $([[ $c == 1 ]] && echo YES || echo NO)
EOF
      chmod 600 "$f"
      echo "interimap --quiet --config=$f"
      ;;
    mbsync)
      f=$WORK/cfg/$user.mbsyncrc
      mkdir -p "$WORK/state/$user.mbsync"
      local disable=""
      [[ $c == 1 ]] || disable="DisableExtension COMPRESS=DEFLATE"
      cat >"$f" <<EOF
IMAPAccount a
Host 127.0.0.1
Port $PORT_A
User $user
Pass secret
SSLType None
AuthMechs LOGIN
$disable

IMAPAccount b
Host 127.0.0.1
Port $PORT_B
User $user
Pass secret
SSLType None
AuthMechs LOGIN
$disable

IMAPStore a
Account a

IMAPStore b
Account b

Channel bench
Far :a:
Near :b:
Patterns *
Create Both
Expunge Both
CopyArrivalDate yes
SyncState $WORK/state/$user.mbsync/
EOF
      chmod 600 "$f"
      echo "mbsync -q -c $f bench"
      ;;
    raw)
      echo "$RAWCOPY 127.0.0.1:$PORT_A $user secret 127.0.0.1:$PORT_B $user secret"
      ;;
  esac
}

# Bytes the servers saw for USER since the given log offsets: waits (bounded) until every
# session that logged in has logged out, then sums Dovecot's in=/out= counters.
# Prints "a_in a_out b_in b_out".
log_bytes() {
  local user=$1 off_a=$2 off_b=$3
  python3 - "$WORK/a/dovecot.log" "$off_a" "$WORK/b/dovecot.log" "$off_b" "$user" <<'EOF'
import re, sys, time
user = sys.argv[5]
def scan(path, off):
    with open(path, "rb") as f:
        f.seek(int(off))
        text = f.read().decode("utf-8", "replace")
    logins = len(re.findall(r"imap-login: (?:Info: )?Login: user=<%s>" % re.escape(user), text))
    outs = re.findall(r"imap\(%s\)<[^\n]*? in=(\d+) out=(\d+)" % re.escape(user), text)
    return logins, outs
deadline = time.monotonic() + 5
while True:
    (la, oa), (lb, ob) = scan(sys.argv[1], sys.argv[2]), scan(sys.argv[3], sys.argv[4])
    if (len(oa) >= la and len(ob) >= lb) or time.monotonic() > deadline:
        break
    time.sleep(0.02)
s = lambda outs, i: sum(int(o[i]) for o in outs)
print(s(oa, 0), s(oa, 1), s(ob, 0), s(ob, 1))
EOF
}

# measure TOOL WORKLOAD USER COMPRESS RUN CMD...: runs the command under /usr/bin/time,
# verifies, appends one JSON line to $RESULTS.
measure() {
  local tool=$1 wl=$2 user=$3 c=$4 run=$5
  shift 5
  local tag=$user.$wl off_a off_b rc=0 vrc=0
  off_a=$(stat -c %s "$WORK/a/dovecot.log")
  off_b=$(stat -c %s "$WORK/b/dovecot.log")
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/out/$tag.time" timeout -k 5 "$TOOL_TIMEOUT" "$@" \
    >"$WORK/out/$tag.stdout" 2>"$WORK/out/$tag.stderr" || rc=$?
  local bytes
  bytes=$(log_bytes "$user" "$off_a" "$off_b")
  python3 "$here/bench/imapctl.py" verify "127.0.0.1:$PORT_A:$user:secret" \
    "127.0.0.1:$PORT_B:$user:secret" --json "$WORK/out/$tag.verify" \
    >/dev/null 2>"$WORK/out/$tag.verify.err" || vrc=$?
  [[ -s $WORK/out/$tag.verify ]] || echo '{"converged": false, "problems": ["verifier failed"]}' \
    >"$WORK/out/$tag.verify"
  python3 - "$RESULTS" "$tool" "$wl" "$c" "$run" "$rc" "$WORK/out/$tag.time" \
    "$WORK/out/$tag.verify" "$bytes" "$WORK/out/$tag.stderr" <<'EOF'
import json, sys
out, tool, wl, c, run, rc, tfile, vfile, bytes_, errfile = sys.argv[1:]
t = open(tfile).read().split()[-4:]
v = json.load(open(vfile))
b = [int(x) for x in bytes_.split()]
err = open(errfile, errors="replace").read().strip().splitlines()
rec = {"tool": tool, "workload": wl, "compress": c == "1", "run": int(run), "rc": int(rc),
       "wall": float(t[0]), "cpu": float(t[1]) + float(t[2]), "rss_kb": int(t[3]),
       "server_in": b[0] + b[2], "server_out": b[1] + b[3], "verify": v,
       "stderr_tail": err[-3:]}
open(out, "a").write(json.dumps(rec) + "\n")
EOF
  local status=ok
  ((rc == 0)) || status="exit $rc"
  ((rc == 124 || rc == 137)) && status="timed out after ${TOOL_TIMEOUT}s"
  ((vrc == 0)) || status="$status, did not converge"
  log "  $tool $wl: $(cut -d' ' -f1 "$WORK/out/$tag.time") s wall ($status)"
}

# noop_count TOOL USER COMPRESS RUN: one more no-op through counting proxies (untimed).
noop_count() {
  local tool=$1 user=$2 c=$3 run=$4 pa pb cmd
  : >"$WORK/out/proxy.log"
  python3 "$here/bench/countproxy.py" "$PORT_A" "$WORK/out/pa.port" "$WORK/out/proxy.log" &
  pa=$!
  python3 "$here/bench/countproxy.py" "$PORT_B" "$WORK/out/pb.port" "$WORK/out/proxy.log" &
  pb=$!
  PROXY_PIDS=("$pa" "$pb")
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s $WORK/out/pa.port && -s $WORK/out/pb.port ]] && break
    sleep 0.05
  done
  local save_a=$PORT_A save_b=$PORT_B
  PORT_A=$(cat "$WORK/out/pa.port") PORT_B=$(cat "$WORK/out/pb.port")
  cmd=$(write_config "$tool" "$user" "$c")
  PORT_A=$save_a PORT_B=$save_b
  # shellcheck disable=SC2086
  timeout -k 5 "$TOOL_TIMEOUT" $cmd >/dev/null 2>&1 || true
  kill "$pa" "$pb" 2>/dev/null || true
  wait "$pa" "$pb" 2>/dev/null || true
  PROXY_PIDS=()
  rm -f "$WORK/out/pa.port" "$WORK/out/pb.port"
  python3 - "$RESULTS" "$tool" "$c" "$run" "$WORK/out/proxy.log" <<'EOF'
import json, sys
out, tool, c, run, plog = sys.argv[1:]
rows = [json.loads(l) for l in open(plog) if l.strip()]
rec = {"tool": tool, "workload": "noop-wire", "compress": c == "1", "run": int(run),
       "connections": len(rows), "turns": sum(r["turns"] for r in rows),
       "wire_c2s": sum(r["c2s"] for r in rows), "wire_s2c": sum(r["s2c"] for r in rows)}
open(out, "a").write(json.dumps(rec) + "\n")
EOF
  # Restore the real config (the proxy ports are gone).
  write_config "$tool" "$user" "$c" >/dev/null
}

# --- The runs -------------------------------------------------------------------------------
for c in "${modes[@]}"; do
  runs=$R
  ((c)) && runs=$CR
  for ((r = 1; r <= runs; r++)); do
    for t in "${run_tools[@]}"; do
      [[ $t == raw && $c == 1 ]] && continue  # the limit is measured without compression
      user=${t}${c}r${r}
      log "compress=$c run $r/$runs: $t"
      cp -a "$WORK/a/mail/tmpl" "$WORK/a/mail/$user"
      cmd=$(write_config "$t" "$user" "$c")
      # shellcheck disable=SC2086
      measure "$t" initial "$user" "$c" "$r" $cmd
      if [[ $t == raw ]]; then
        # The no-op limit: login + one LIST-STATUS + LOGOUT on both servers at once.
        # shellcheck disable=SC2086
        measure raw noop "$user" "$c" "$r" $RAWCOPY --noop ${cmd#"$RAWCOPY "}
      fi
      if [[ $t != raw ]]; then
        # shellcheck disable=SC2086
        measure "$t" noop "$user" "$c" "$r" $cmd
        noop_count "$t" "$user" "$c" "$r"
        python3 "$here/bench/imapctl.py" incremental "127.0.0.1:$PORT_A:$user:secret" \
          "127.0.0.1:$PORT_B:$user:secret" --seed "$SEED" --base "$N" >/dev/null 2>&1 ||
          log "  incremental mutation failed for $user"
        # shellcheck disable=SC2086
        measure "$t" incremental "$user" "$c" "$r" $cmd
        python3 "$here/bench/imapctl.py" move "127.0.0.1:$PORT_A:$user:secret" \
          --seed "$SEED" --count 1000 >"$WORK/out/$user.move" 2>&1 ||
          log "  move mutation failed for $user"
        # shellcheck disable=SC2086
        measure "$t" move "$user" "$c" "$r" $cmd
      fi
      # Free the disk: this account is done.
      rm -rf "$WORK/a/mail/$user" "$WORK/b/mail/$user"
    done
  done
done

# --- Report ---------------------------------------------------------------------------------
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB RAM"
python3 "$here/bench/report.py" "$RESULTS" "$JSON" \
  --meta "messages=$N" "mailboxes=$M" "runs=$R" "deflate_runs=$CR" "seed=$SEED" "corpus=$corpus_info" \
  "dovecot=$dovecot_version (maildir, two instances on 127.0.0.1, login $LOGIN)" \
  "interimap=$(dpkg-query -W -f='${Version}' interimap)" \
  "mbsync=$(dpkg-query -W -f='${Version}' isync)" \
  "twinbox=${TWINBOX_CMD[*]##*/}" "machine=$machine" "load=$(cut -d' ' -f1-3 /proc/loadavg)" \
  "date=$(date -u +%Y-%m-%dT%H:%MZ)"
