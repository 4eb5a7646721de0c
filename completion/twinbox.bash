# bash completion for twinbox(1)                                  -*- shell-script -*-
# Installed to share/bash-completion/completions/twinbox.

_twinbox_config_files() {
  # Files in the config directory first, then ordinary file completion.
  local dir="${XDG_CONFIG_HOME:-$HOME/.config}/twinbox"
  local f
  if [[ -d $dir ]]; then
    for f in "$dir"/*; do
      [[ -f $f && $f == "$cur"* ]] && COMPREPLY+=("$f")
    done
  fi
  COMPREPLY+=($(compgen -f -- "$cur"))
}

_twinbox() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  COMPREPLY=()

  local commands="sync watch check serve demo status list repair rename delete"
  local cmd="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      sync | watch | check | serve | demo | status | list | repair | rename | delete)
        cmd=${words[i]}
        break
        ;;
    esac
  done

  case $prev in
    -c | --config)
      _twinbox_config_files
      return
      ;;
    --db | --users-file | --tls-cert | --tls-key | --log-file)
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    --disable)
      COMPREPLY=($(compgen -W "QRESYNC CONDSTORE UIDPLUS MOVE LITERAL+ LIST-STATUS LIST-EXTENDED ESEARCH ENABLE COMPRESS=DEFLATE NOTIFY IDLE SPECIAL-USE OBJECTID UNSELECT NAMESPACE ID MULTIAPPEND SEARCHRES STARTTLS SASL-IR" -- "${cur##*,}"))
      return
      ;;
    -l | --listen)
      COMPREPLY=($(compgen -W "127.0.0.1:1143 127.0.0.1:0 [::1]:1143 0.0.0.0:143" -- "$cur"))
      return
      ;;
    -u | --user | --tls-port | --seed-demo | --max-connections | --idle-timeout | --auth-lockout-after | --messages)
      return
      ;;
  esac

  local opts
  case $cmd in
    "")
      opts="$commands -h --help -V --version"
      ;;
    sync)
      opts="-c --config -n --dry-run --allow-mass-delete --debug -q --quiet -v --verbose --json --log-file --exit-code -h --help"
      ;;
    watch)
      opts="-c --config --debug -q --quiet -v --verbose --json --log-file -h --help"
      ;;
    check)
      opts="-c --config --debug --json -h --help"
      ;;
    status)
      opts="-c --config --json -h --help"
      ;;
    list)
      opts="-c --config --debug --json -h --help"
      ;;
    repair)
      opts="-c --config -n --dry-run --debug --json -h --help"
      ;;
    rename)
      opts="-c --config --debug -h --help"
      ;;
    delete)
      opts="-c --config --force --debug -h --help"
      ;;
    serve)
      opts="-l --listen --db -u --user --users-file --tls-cert --tls-key --tls-port --stdio --disable --seed-demo --allow-plaintext --no-fsync --max-connections --idle-timeout --auth-lockout-after --test-controls -h --help"
      ;;
    demo)
      opts="--messages -v --verbose -h --help"
      ;;
  esac
  if [[ -z $cmd || $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  fi
}
complete -F _twinbox twinbox
