#!/usr/bin/env bash
# Benchmarks the embedded IMAP server (`twinbox serve`) against Dovecot in one run (issue 4).
#
#   scripts/bench-server.sh [--messages N] [--size BYTES] [--fetch-runs R] [--workdir DIR]
#                           [--no-fsync-row yes|no] [--no-dovecot] [--no-build]
#
#   --messages N      messages appended and fetched (default 5000)
#   --size BYTES      octets per message (default 4096)
#   --fetch-runs R    UID FETCH 1:* BODY.PEEK[] repetitions; the median is reported (default 5)
#   --workdir DIR     where both servers keep their mail (default /dev/shm when it exists,
#                     else /tmp). Both servers fsync; on tmpfs an fsync costs next to nothing,
#                     on a disk it dominates APPEND for both (see "Durability" below).
#   --no-fsync-row    also run `twinbox serve --no-fsync` (default yes)
#   --no-dovecot      skip Dovecot (when it is not installed)
#   --no-build        use the binaries already in BUILD_DIR (default build/release)
#
# What runs, all on 127.0.0.1, one server at a time, each on a fresh mail store:
#   twinbox serve --db FILE   (SQLite in WAL mode; default durability: synchronous=FULL, the WAL
#                             is fsync'ed at every commit, one commit per APPEND)
#   twinbox serve --no-fsync  (synchronous=NORMAL: durable at checkpoints only), optional
#   Dovecot                   (scripts/dovecot.sh: maildir; default mail_fsync=optimized, every
#                             saved message file is fsync'ed before the APPEND's OK)
# and against each, tests/bench/bench_server (one connection): N pipelined APPENDs with
# LITERAL+ (`{n+}`), then R times UID FETCH 1:* BODY.PEEK[] with every body checked, and the
# peak RSS of the process serving the session (twinbox: the server process, which serves
# only this session here; Dovecot: the session's `imap` process; login and master processes
# not counted).
#
# Output: a table (msgs/s, MB/s with MB = 10^6 octets, peak RSS), the machine load before the
# run, and the durability of each row. Every process is started and stopped by PID; the work
# directory is removed on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/scripts
N=5000 SIZE=4096 RUNS=5 NOFSYNC_ROW=yes DOVECOT=yes NO_BUILD=0
WORKROOT=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && WORKROOT=/dev/shm
BUILD=${BUILD_DIR:-$root/build/release}

die() { echo "bench-server.sh: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --messages) N=${2:?--messages needs a number}; shift 2 ;;
    --size) SIZE=${2:?--size needs a number}; shift 2 ;;
    --fetch-runs) RUNS=${2:?--fetch-runs needs a number}; shift 2 ;;
    --workdir) WORKROOT=${2:?--workdir needs a directory}; shift 2 ;;
    --no-fsync-row) NOFSYNC_ROW=${2:?--no-fsync-row needs yes or no}; shift 2 ;;
    --no-dovecot) DOVECOT=no; shift ;;
    --no-build) NO_BUILD=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $SIZE =~ ^[0-9]+$ && $RUNS =~ ^[0-9]+$ ]] ||
  die "--messages, --size and --fetch-runs take numbers"

if ((!NO_BUILD)); then
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "configuring $BUILD (cmake --preset release)"
    (cd "$root" && cmake --preset release >/dev/null) || die "cmake --preset release failed"
  fi
  log "building twinbox and bench_server in $BUILD"
  cmake --build "$BUILD" -j"$(nproc)" --target twinbox bench_server >/dev/null ||
    die "build failed (cmake --build $BUILD --target twinbox bench_server)"
fi
TWINBOX=$BUILD/twinbox
DRIVER=$BUILD/tests/bench/bench_server
[[ -x $TWINBOX && -x $DRIVER ]] || die "$TWINBOX or $DRIVER missing (build them or drop --no-build)"
if [[ $DOVECOT == yes && ! -x /usr/sbin/dovecot ]]; then
  die "Dovecot is not installed (apt-get install dovecot-imapd), or pass --no-dovecot"
fi

WORK=$(mktemp -d "$WORKROOT/twinbox-bench-server.XXXXXX")
chmod 755 "$WORK"  # Dovecot's unprivileged processes must reach WORK/dovecot
SERVE_PID=""
cleanup() {
  if [[ -n $SERVE_PID ]]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  [[ -f $WORK/dovecot/dovecot.pid ]] && "$here/dovecot.sh" stop "$WORK/dovecot" --fast || true
  rm -rf "$WORK"
}
trap cleanup EXIT

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$WORK/results
: >"$RESULTS"
driver() {  # label hostport user pass pid [comm]
  local args=("$2" "$3" "$4" --messages "$N" --size "$SIZE" --fetch-runs "$RUNS" --label "$1"
    --server-pid "$5")
  [[ -n ${6:-} ]] && args+=(--session-comm "$6")
  "$DRIVER" "${args[@]}" | tee -a "$RESULTS" >&2 || die "bench_server against $1 failed"
}

# twinbox serve on a fresh SQLite file; prints the port on stdout (port 0).
run_twinbox() {  # label [extra serve args]
  local label=$1
  shift
  local db=$WORK/$label.sqlite
  "$TWINBOX" serve --listen 127.0.0.1:0 --db "$db" --user bench:secret "$@" \
    >"$WORK/$label.port" 2>"$WORK/$label.log" &
  SERVE_PID=$!
  local deadline=$((SECONDS + 20))
  until [[ -s $WORK/$label.port ]]; do
    kill -0 "$SERVE_PID" 2>/dev/null || die "twinbox serve exited: $(cat "$WORK/$label.log")"
    ((SECONDS < deadline)) || die "twinbox serve printed no port within 20 s"
    sleep 0.05
  done
  log "$label: $N messages of $SIZE octets"
  driver "$label" "127.0.0.1:$(head -1 "$WORK/$label.port")" bench secret "$SERVE_PID"
  kill "$SERVE_PID"
  wait "$SERVE_PID" || true
  SERVE_PID=""
}

run_twinbox twinbox
[[ $NOFSYNC_ROW == yes ]] && run_twinbox twinbox-nofsync --no-fsync

if [[ $DOVECOT == yes ]]; then
  printf 'bench:secret\n' >"$WORK/users"
  "$here/dovecot.sh" start "$WORK/dovecot" --users "$WORK/users" --special-use no >/dev/null
  port=$(sed -n 's/.*imap=\([0-9]*\).*/\1/p' "$WORK/dovecot/ports")
  log "dovecot: $N messages of $SIZE octets"
  driver dovecot "127.0.0.1:$port" bench secret "$(cat "$WORK/dovecot/dovecot.pid")" imap
  "$here/dovecot.sh" stop "$WORK/dovecot"
fi

echo
echo "IMAP server benchmark: $N messages of $SIZE octets over 127.0.0.1, fetch = median of $RUNS"
echo "work dir $WORKROOT, load average before the run: $LOAD, $(nproc) CPUs"
awk -v N="$N" '
  $1 == "RESULT" {
    label = $2; op = $3
    for (i = 4; i <= NF; i++) { split($i, kv, "="); v[label, op, kv[1]] = kv[2] }
    if (!(label in seen)) { seen[label] = 1; order[++n] = label }
  }
  END {
    printf "%-16s %12s %10s %12s %10s %12s %12s\n", "server", "APPEND msg/s", "MB/s",
           "FETCH msg/s", "MB/s", "RSS peak MB", "RSS +sess MB"
    for (i = 1; i <= n; i++) {
      l = order[i]
      as = v[l, "append", "seconds"]; fs = v[l, "fetch", "seconds"]
      printf "%-16s %12.0f %10.1f %12.0f %10.1f %12.1f %12.1f\n", l,
             v[l, "append", "msgs"] / as, v[l, "append", "bytes"] / as / 1e6,
             v[l, "fetch", "msgs"] / fs, v[l, "fetch", "bytes"] / fs / 1e6,
             v[l, "rss", "peak_kb"] / 1024, (v[l, "rss", "peak_kb"] - v[l, "rss", "before_kb"]) / 1024
    }
  }' "$RESULTS"
echo
echo "Durability: twinbox = fsync of the SQLite WAL at every commit (one commit per APPEND);"
echo "twinbox-nofsync = synchronous=NORMAL (synced at checkpoints); dovecot = maildir,"
echo "mail_fsync=optimized (each message file fsync'ed before its OK). RSS +sess = peak minus"
echo "the resident size before LOGIN (twinbox: whole server process; dovecot: the imap process)."
