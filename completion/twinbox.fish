# fish completion for twinbox(1). Installed to share/fish/vendor_completions.d/twinbox.fish.

set -l commands sync watch check serve demo status list repair rename delete

function __twinbox_config_files
    set -l dir (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/twinbox
    if test -d $dir
        for f in $dir/*
            test -f $f; and echo $f
        end
    end
    __fish_complete_path (commandline -ct)
end

complete -c twinbox -f
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Show help'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Show the version'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a sync -d 'Synchronize both accounts once'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a watch -d 'Keep both accounts in sync continuously'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a check -d 'Validate the config and log in to both sides'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a serve -d 'Run the embedded IMAP server'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a demo -d 'Sync two embedded servers with sample mail'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a status -d 'Show the state of each mailbox pair (offline)'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a list -d 'Show the mailboxes of both sides and how they pair'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a repair -d 'Re-check message pairs by content, fix the state'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a rename -d 'Rename a mailbox on both sides and in the state'
complete -c twinbox -n "not __fish_seen_subcommand_from $commands" -a delete -d 'Delete a mailbox on both sides and in the state'

# sync
complete -c twinbox -n "__fish_seen_subcommand_from sync watch check" -s c -l config -r -a '(__twinbox_config_files)' -d 'Config file'
complete -c twinbox -n "__fish_seen_subcommand_from sync watch check" -l debug -d 'Protocol trace on stderr'
complete -c twinbox -n "__fish_seen_subcommand_from sync" -s n -l dry-run -d 'Print what would be done, change nothing'
complete -c twinbox -n "__fish_seen_subcommand_from sync" -l allow-mass-delete -d 'Carry out expunges the deletion guard stopped'
complete -c twinbox -n "__fish_seen_subcommand_from sync watch" -s q -l quiet -d 'Print only errors, no progress display'
complete -c twinbox -n "__fish_seen_subcommand_from sync watch" -s v -l verbose -d 'Print each step (-vv: each message)'
complete -c twinbox -n "__fish_seen_subcommand_from sync watch" -l json -d 'One JSON object per line'
complete -c twinbox -n "__fish_seen_subcommand_from sync watch" -l log-file -r -F -d 'Also append timestamped events to FILE'
complete -c twinbox -n "__fish_seen_subcommand_from sync" -l exit-code -d 'Exit 1 when something changed'

# status, list, repair, rename, delete
complete -c twinbox -n "__fish_seen_subcommand_from status list repair rename delete" -s c -l config -r -a '(__twinbox_config_files)' -d 'Config file'
complete -c twinbox -n "__fish_seen_subcommand_from list repair rename delete" -l debug -d 'Protocol trace on stderr'
complete -c twinbox -n "__fish_seen_subcommand_from check status list repair" -l json -d 'One JSON object'
complete -c twinbox -n "__fish_seen_subcommand_from repair" -s n -l dry-run -d 'Report what would be fixed, write nothing'
complete -c twinbox -n "__fish_seen_subcommand_from delete" -l force -d 'Delete even mail the other side has not seen'

# serve
complete -c twinbox -n "__fish_seen_subcommand_from serve" -s l -l listen -x -a '127.0.0.1:1143 127.0.0.1:0 0.0.0.0:143' -d 'HOST:PORT to listen on'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l db -r -F -d 'SQLite mail store or :memory:'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -s u -l user -x -d 'Accepted login NAME:PASS'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l users-file -r -F -d 'File of NAME:PASS lines'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l tls-cert -r -F -d 'PEM certificate chain'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l tls-key -r -F -d 'PEM private key'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l tls-port -x -d 'Implicit TLS port'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l stdio -d 'One pre-authenticated session on stdin/stdout'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l disable -x -a 'QRESYNC CONDSTORE UIDPLUS MOVE LITERAL+ LIST-STATUS LIST-EXTENDED ESEARCH ENABLE COMPRESS=DEFLATE NOTIFY IDLE SPECIAL-USE OBJECTID UNSELECT NAMESPACE ID MULTIAPPEND SEARCHRES STARTTLS SASL-IR' -d 'Switch extensions off'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l seed-demo -x -d 'Sample messages per user'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l allow-plaintext -d 'Listen on a non-loopback address without TLS'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l no-fsync -d 'Do not fsync each commit'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l max-connections -x -d 'Connections served at once'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l idle-timeout -x -d 'Log out a session after SECONDS without input'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l auth-lockout-after -x -d 'Lock out a client address after N failed logins'
complete -c twinbox -n "__fish_seen_subcommand_from serve" -l test-controls -d 'Enable test-only switches'

# demo
complete -c twinbox -n "__fish_seen_subcommand_from demo" -l messages -x -d 'Sample messages per side'
complete -c twinbox -n "__fish_seen_subcommand_from demo" -s v -l verbose -d 'Print each step'

complete -c twinbox -n "__fish_seen_subcommand_from $commands" -s h -l help -d 'Show help'
