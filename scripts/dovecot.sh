#!/usr/bin/env bash
# A private, throw-away Dovecot instance for tests (never touches /etc/dovecot).
#
#   scripts/dovecot.sh start DIR [--users FILE] [--special-use create|no] [--timeout SECS]
#                                [--cert NAME] [--namespace slash|courier] [--login default|warm]
#       Writes DIR/dovecot.conf, a passwd-file, a test CA and server certificate (DIR/ca), mail
#       storage under DIR/mail, and starts /usr/sbin/dovecot on 127.0.0.1 with two free ports:
#       imap (STARTTLS offered, plaintext LOGIN allowed: loopback tests) and imaps.
#       Prints and writes DIR/ports ("imap=N imaps=N"); writes DIR/dovecot.pid.
#       --users FILE: lines "user:password" (default alice:secret and bob:secret).
#       --special-use: create (default) makes Drafts/Sent/Trash/Junk/Archive at first login,
#       no leaves them to the client (they still get their SPECIAL-USE flag once created).
#       --cert NAME: serve DIR/ca/NAME.pem (default server; see make-test-ca.sh for wronghost,
#       expired, selfsigned, untrusted: TLS negative tests against a real server).
#       --namespace courier: the personal namespace is Courier-style, prefix "INBOX." with
#       separator "." (default slash: no prefix, separator "/").
#       --login warm: Dovecot's high-performance login mode (imap-login serves many connections,
#       service_count = 0, and one imap-login and two imap processes wait ready,
#       process_min_avail), as busy providers run it; default starts both per connection.
#   scripts/dovecot.sh stop DIR [--fast]        stops the instance by its PID (SIGTERM; --fast:
#                                               SIGKILL, for throw-away instances), waits for exit
#   scripts/dovecot.sh tunnel-cmd DIR USER      prints a command running a PREAUTH imap session
#   scripts/dovecot.sh doveadm DIR ARGS...      runs doveadm against the instance
#   scripts/dovecot.sh env DIR                  prints shell assignments (DOVECOT_IMAP_PORT, ...)
#
# Files in DIR: dovecot.conf users ports dovecot.pid dovecot.log ca/ (make-test-ca.sh: ca.pem,
# server.pem, server.key, server.spki-sha256, ...)
# mail/<user>/ (maildir) run/ (base_dir) state/.
#
# Privileges: as root, Dovecot runs its usual unprivileged helpers (dovecot, dovenull) and
# mail is owned by the `dovecot` system user (Dovecot refuses mail_uid 0). As another user,
# everything runs as that user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
DOVEADM=${DOVEADM:-/usr/bin/doveadm}
IMAP_BIN=${IMAP_BIN:-/usr/lib/dovecot/imap}

die() { echo "dovecot.sh: $*" >&2; exit 1; }

usage() { sed -n "4,29p" "$0" | sed 's/^# \{0,1\}//'; }

need_dovecot() {
  [[ -x $DOVECOT ]] || die "$DOVECOT not found: install Debian's dovecot-imapd (apt-get install dovecot-imapd)"
  [[ -x $IMAP_BIN ]] || die "$IMAP_BIN not found: install Debian's dovecot-imapd"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Prints a port that nothing listens on right now, below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 on Debian): a port picked inside it can be taken
# by any outgoing connection between the check and Dovecot's bind(), which made CI fail with
# "Address already in use". A race with another listener remains; start retries.
pick_port() {
  local p i lo=10000 hi=32767 range
  if read -r range _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((range > lo + 1000)); then
    hi=$((range - 1))
  fi
  for ((i = 0; i < 50; i++)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    if ! port_open "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

make_certs() {
  [[ -x $here/make-test-ca.sh ]] || die "$here/make-test-ca.sh is missing"
  "$here/make-test-ca.sh" "$1" >/dev/null 2>"$1.err" ||
    die "make-test-ca.sh $1 failed: $(cat "$1.err")"
  rm -f "$1.err"
}

# Writes DIR/users (passwd-file) from "user:password" lines.
write_users() {
  local dir=$1 src=$2 line user pass
  : >"$dir/users"
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    user=${line%%:*}
    pass=${line#*:}
    [[ $user != "$line" && -n $user ]] || die "bad users line '$line' (want user:password)"
    printf '%s:{PLAIN}%s::::::\n' "$user" "$pass" >>"$dir/users"
  done <"$src"
  # The auth process runs as default_internal_user and must read it.
  if [[ $(id -u) -eq 0 ]]; then
    chown root:dovecot "$dir/users"
    chmod 640 "$dir/users"
  else
    chmod 600 "$dir/users"
  fi
}

write_config() {
  local dir=$1 imap_port=$2 imaps_port=$3 auto=$4 cert=$5 ns=${6:-slash}
  local login=${7:-default}
  local me uid gid login_user internal_user ns_lines="  separator = /"
  [[ $ns == courier ]] && ns_lines="  separator = .
  prefix = INBOX."
  me=$(id -un)
  if [[ $(id -u) -eq 0 ]]; then
    uid=dovecot gid=dovecot login_user=dovenull internal_user=dovecot
  else
    uid=$(id -u) gid=$(id -g) login_user=$me internal_user=$me
  fi
  # Without root, Dovecot cannot chroot its login and anvil processes.
  local chroot_login="" chroot_anvil=""
  if [[ $(id -u) -ne 0 ]]; then
    chroot_login="  chroot ="
    chroot_anvil="service anvil {
  chroot =
}"
  fi
  local warm_login="" warm_imap=""
  if [[ $login == warm ]]; then
    warm_login="  service_count = 0
  process_min_avail = 1"
    warm_imap="service imap {
  process_min_avail = 2
}"
  fi
  local dh=""
  [[ -r /usr/share/dovecot/dh.pem ]] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
  cat >"$dir/dovecot.conf" <<EOF
# Written by scripts/dovecot.sh for tests; private instance, loopback only.
instance_name = twinbox-test-$(basename "$dir")
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
debug_log_path = $dir/dovecot.log
default_login_user = $login_user
default_internal_user = $internal_user
default_internal_group = $(id -gn "$internal_user")
first_valid_uid = 1
mail_uid = $uid
mail_gid = $gid
mail_location = maildir:$dir/mail/%u
mail_plugins = \$mail_plugins notify
mailbox_list_index = yes
auth_mechanisms = plain login
disable_plaintext_auth = no
# Tests of refused logins must not wait the default 2 s.
auth_failure_delay = 0
ssl = yes
ssl_cert = <$dir/ca/$cert.pem
ssl_key = <$dir/ca/$cert.key
$dh
shutdown_clients = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
  default_fields = home=$dir/home/%u
}
namespace inbox {
  inbox = yes
$ns_lines
  mailbox Drafts {
    special_use = \\Drafts
    auto = $auto
  }
  mailbox Sent {
    special_use = \\Sent
    auto = $auto
  }
  mailbox Trash {
    special_use = \\Trash
    auto = $auto
  }
  mailbox Junk {
    special_use = \\Junk
    auto = $auto
  }
  mailbox Archive {
    special_use = \\Archive
    auto = $auto
  }
}
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
}
service imap-login {
$chroot_login
$warm_login
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
$chroot_anvil
$warm_imap
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
}

# Waits (bounded) until both ports accept or the master exits.
wait_ready() {
  local dir=$1 pid=$2 timeout_s=$3 p
  local deadline=$((SECONDS + timeout_s))
  for p in "${@:4}"; do
    until port_open "$p"; do
      alive "$pid" || return 1
      ((SECONDS < deadline)) || return 2
      sleep 0.05
    done
  done
}

cmd_start() {
  local dir="" users="" auto=create timeout_s=20 cert=server ns=slash login=default
  while (($#)); do
    case $1 in
      --users) users=${2:?--users needs a file}; shift 2 ;;
      --special-use) auto=${2:?--special-use needs create or no}; shift 2 ;;
      --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
      --cert) cert=${2:?--cert needs a name}; shift 2 ;;
      --namespace) ns=${2:?--namespace needs slash or courier}; shift 2 ;;
      --login) login=${2:?--login needs default or warm}; shift 2 ;;
      -*) die "start: unknown option '$1'" ;;
      *) [[ -z $dir ]] || die "start: one DIR only"; dir=$1; shift ;;
    esac
  done
  [[ -n $dir ]] || die "start: DIR missing (usage: dovecot.sh start DIR [--users FILE])"
  [[ $auto == create || $auto == no ]] || die "--special-use must be create or no"
  [[ $ns == slash || $ns == courier ]] || die "--namespace must be slash or courier"
  [[ $login == default || $login == warm ]] || die "--login must be default or warm"
  need_dovecot
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -f $dir/dovecot.pid ]] && alive "$(cat "$dir/dovecot.pid")"; then
    die "an instance is already running in $dir (dovecot.sh stop $dir)"
  fi
  # The mail user (dovecot) must reach DIR/mail, and login processes DIR/run.
  chmod 755 "$dir"
  mkdir -p "$dir/mail" "$dir/home" "$dir/state"
  if [[ $(id -u) -eq 0 ]]; then
    chown dovecot:dovecot "$dir/mail" "$dir/home"
  fi
  if [[ -n $users ]]; then
    [[ -r $users ]] || die "cannot read users file '$users'"
    write_users "$dir" "$users"
  else
    write_users "$dir" <(printf 'alice:secret\nbob:secret\n')
  fi
  [[ -s $dir/ca/server.pem ]] || make_certs "$dir/ca"
  [[ -s $dir/ca/$cert.pem && -s $dir/ca/$cert.key ]] ||
    die "no certificate '$cert' in $dir/ca (make-test-ca.sh makes server, wronghost, expired, selfsigned, untrusted)"

  local attempt imap_port imaps_port pid rc
  for attempt in 1 2 3 4 5; do
    imap_port=$(pick_port)
    imaps_port=$(pick_port)
    [[ $imap_port != "$imaps_port" ]] || continue
    write_config "$dir" "$imap_port" "$imaps_port" "$auto" "$cert" "$ns" "$login"
    : >"$dir/dovecot.log"
    # The daemon must not inherit our stdout/stderr: callers read them until EOF.
    # The master binds its listeners before it daemonizes: a port taken in between fails here,
    # at once, and is retried on new ports like a late failure.
    if ! "$DOVECOT" -c "$dir/dovecot.conf" </dev/null >"$dir/dovecot.stderr" 2>&1; then
      if grep -q "Address already in use" "$dir/dovecot.stderr" "$dir/dovecot.log"; then
        rm -f "$dir/run/master.pid"
        continue
      fi
      die "dovecot failed to start: $(cat "$dir/dovecot.stderr"; tail -n 5 "$dir/dovecot.log")"
    fi
    # The master daemonizes and writes base_dir/master.pid.
    pid=""
    local deadline=$((SECONDS + timeout_s))
    until [[ -s $dir/run/master.pid ]]; do
      ((SECONDS < deadline)) || die "dovecot wrote no master.pid within ${timeout_s}s: $(tail -n 5 "$dir/dovecot.log")"
      sleep 0.05
    done
    pid=$(cat "$dir/run/master.pid")
    rc=0
    wait_ready "$dir" "$pid" "$timeout_s" "$imap_port" "$imaps_port" || rc=$?
    if ((rc == 0)); then
      echo "$pid" >"$dir/dovecot.pid"
      echo "imap=$imap_port imaps=$imaps_port" >"$dir/ports"
      echo "imap=$imap_port imaps=$imaps_port"
      return 0
    fi
    if ((rc == 2)); then
      kill "$pid" 2>/dev/null || true
      die "dovecot did not accept connections within ${timeout_s}s: $(tail -n 5 "$dir/dovecot.log")"
    fi
    # The master exited: retry on a port race, fail on anything else.
    grep -q "Address already in use" "$dir/dovecot.log" ||
      die "dovecot exited during start: $(tail -n 5 "$dir/dovecot.log")"
    rm -f "$dir/run/master.pid"
  done
  die "could not find free ports after 5 attempts"
}

# Signals the master and, when it leads its own process group (it daemonizes with setsid), all
# its children at once: sending SIGTERM to the master alone leaves imap-login waiting 5 s for
# the stats process that already exited.
signal_instance() {
  local sig=$1 pid=$2 pgid
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
  if [[ $pgid == "$pid" ]]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
}

# True while $1 runs. A zombie counts as exited: the daemonized master's parent is PID 1, which
# in some containers reaps only every second or so.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $stat && $stat != Z* ]]
}

cmd_stop() {
  local dir="" fast=0 pid deadline
  while (($#)); do
    case $1 in
      --fast) fast=1; shift ;;
      -*) die "stop: unknown option '$1'" ;;
      *) dir=$1; shift ;;
    esac
  done
  [[ -n $dir ]] || die "stop: DIR missing (usage: dovecot.sh stop DIR [--fast])"
  [[ -f $dir/dovecot.pid ]] || die "no $dir/dovecot.pid: nothing to stop"
  pid=$(cat "$dir/dovecot.pid")
  if alive "$pid"; then
    if ((fast)); then
      signal_instance KILL "$pid"
    else
      signal_instance TERM "$pid"
    fi
    deadline=$((SECONDS + 10))
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        ((fast)) && die "dovecot (pid $pid) did not exit after SIGKILL"
        signal_instance KILL "$pid"
        fast=1
        deadline=$((SECONDS + 5))
      fi
      sleep 0.02
    done
  fi
  rm -f "$dir/dovecot.pid"
}

cmd_tunnel_cmd() {
  local dir=${1:?tunnel-cmd: DIR missing} user=${2:?tunnel-cmd: USER missing}
  dir=$(cd "$dir" && pwd)
  [[ -f $dir/dovecot.conf ]] || die "no $dir/dovecot.conf (run dovecot.sh start $dir first)"
  # Standalone imap: -u looks USER up in the userdb (unknown user: exits), drops to mail_uid,
  # greets with PREAUTH.
  echo "$IMAP_BIN -c $dir/dovecot.conf -u $user"
}

cmd_doveadm() {
  local dir=${1:?doveadm: DIR missing}
  shift
  exec "$DOVEADM" -c "$dir/dovecot.conf" "$@"
}

cmd_env() {
  local dir=${1:?env: DIR missing} kv
  dir=$(cd "$dir" && pwd)
  [[ -f $dir/ports ]] || die "no $dir/ports (is the instance started?)"
  for kv in $(cat "$dir/ports"); do
    echo "DOVECOT_$(echo "${kv%%=*}" | tr '[:lower:]' '[:upper:]')_PORT=${kv#*=}"
  done
  echo "DOVECOT_CA_FILE=$dir/ca/ca.pem"
  echo "DOVECOT_DIR=$dir"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  tunnel-cmd) shift; cmd_tunnel_cmd "$@" ;;
  doveadm) shift; cmd_doveadm "$@" ;;
  env) shift; cmd_env "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
