#!/usr/bin/env -S zsh -f
# zsh-complete.zsh DIR LINE: prints, one per line, the matches zsh's completion system offers
# when TAB is pressed after LINE, with the completion functions of DIR first in $fpath.
#
# Completion widgets only run inside the line editor of an interactive shell, so an
# interactive `zsh -f -i` runs in a pseudo-terminal (zsh/zpty), loads compinit and wraps the
# compadd builtin to print each match it is given ("match:" prefix) before adding it; a
# comppostfuncs hook prints a marker when the completion is done. Reads are bounded by the
# caller's timeout. Exit status 2 when zsh cannot do this (no zsh/zpty module).
emulate -L zsh
zmodload zsh/zpty || { print -u2 'zsh-complete: the zsh/zpty module is missing'; exit 2 }
(( $# == 2 )) || { print -u2 'usage: zsh-complete.zsh DIR LINE'; exit 2 }
local dir=$1 line=$2 setup out l
setup=$(mktemp) || exit 2
trap 'rm -f -- $setup; zpty -d twinbox_complete 2>/dev/null' EXIT

cat >$setup <<EOF
PS1='' RPS1=''
fpath=(${(q)dir} \$fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
  # Matches asked for as an array (-O, -A, -D) are not offered: pass those through.
  if (( \${@[(I)-[OAD]]} )); then builtin compadd "\$@"; return; fi
  local -a matches
  builtin compadd -O matches "\$@"
  local m
  for m in \$matches; do print -r -- "match:\$m"; done
  builtin compadd "\$@"
}
twinbox_complete_done() { print -r -- 'completion-done' }
comppostfuncs=(twinbox_complete_done)
print -r -- 'setup-done'
EOF

zpty twinbox_complete zsh -f -i
zpty -w twinbox_complete "source ${(q)setup}"
zpty -r twinbox_complete out '*setup-done*' || exit 2
zpty -w -n twinbox_complete "$line"$'\t'
zpty -r twinbox_complete out '*completion-done*' || exit 2
for l in ${(f)out}; do
  [[ $l == *match:* ]] && print -r -- ${${l#*match:}%%$'\r'}
done
exit 0
