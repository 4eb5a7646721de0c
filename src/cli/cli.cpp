// The command line: CLI11 subcommands filled into plain argument structs (commands.hpp), run,
// and every exception that may reach here (CLI11, nlohmann/json, bad_alloc) mapped to an exit
// status. With admin_cli.cpp (status, list, repair, rename, delete), the only files of the
// program that include CLI11.

#include <iostream>
#include <new>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/cli/cli.hpp>
#include <twinbox/cli/exit_codes.hpp>

#include "commands.hpp"

namespace twinbox::cli {
namespace {

constexpr const char* kMainFooter = R"(
Commands:
  sync     synchronize the two accounts of a config file once (cron, systemd timer)
  watch    keep synchronizing: react to changes on either side as they happen
  check    validate the config, log in to both sides, show what each server offers
  serve    run the embedded IMAP server
  demo     two embedded servers with sample mail, synced both ways, result shown
  status   what the state database says about each mailbox pair (offline)
  list     the mailboxes of both sides, how they pair, what is excluded
  repair   re-check message pairs by content and fix the state (copies nothing)
  rename   rename a mailbox on both sides and in the state
  delete   delete a mailbox on both sides and in the state

Examples:
  twinbox demo
  twinbox check
  twinbox sync
  twinbox sync --config ~/.config/twinbox/work.conf --json
  twinbox watch
  twinbox status --json
  twinbox rename Projects/2024 Archive/2024
  twinbox serve --listen 127.0.0.1:1143 --db ~/mail.db --user me:secret

Exit status: 0 success, 2 partial (some mailboxes failed), 3 config or usage error,
4 authentication, 5 TLS, 6 network, 7 state locked / local storage, 8 internal error,
9 server protocol error. See twinbox(1) and twinbox.conf(5).)";

constexpr const char* kSyncFooter = R"(
Config file: --config FILE, else $XDG_CONFIG_HOME/twinbox/config (~/.config/twinbox/config).
MAILBOX arguments restrict the run to those mailboxes (names with '/' as separator).

Output: one line per mailbox that changed, with what was done to each side, then a summary.
On a terminal, a live progress display on stderr (current mailbox and whole run: messages,
bytes, rate, ETA); -q turns it off. With --json, one JSON object per line (events: totals,
mailbox_start, copied, moved, expunged, flags, log, mailbox, plan, problem, error, summary).

Examples:
  twinbox sync                             sync everything the default config selects
  twinbox sync INBOX Archive/2024          only these two mailboxes
  twinbox sync -n                          show what would be done, change nothing
  twinbox sync -c ~/.config/twinbox/work.conf --quiet     for cron: only errors
  twinbox sync --json | jq 'select(.event=="summary")'
  twinbox sync -vv --log-file ~/.local/state/twinbox/sync.log     every message, also logged
  twinbox sync --allow-mass-delete INBOX   after the deletion guard stopped INBOX

Exit status: 0 success (1 with --exit-code when something changed), 2 partial, 3 config,
4 authentication, 5 TLS, 6 network, 7 state locked / local storage, 8 internal, 9 protocol.)";

constexpr const char* kWatchFooter = R"(
Syncs everything once, then watches both sides (NOTIFY where the server offers it, else
IDLE on INBOX plus a LIST-STATUS poll every poll_interval seconds) and syncs the mailboxes
that changed, a moment after the change. Runs until SIGINT or SIGTERM; SIGHUP reloads the
config file. Network errors are retried with backoff; authentication and config errors end it.

Examples:
  twinbox watch
  twinbox watch --config ~/.config/twinbox/work.conf --verbose
  systemd: ExecStart=/usr/bin/twinbox watch --config %h/.config/twinbox/config)";

constexpr const char* kCheckFooter = R"(
Loads and validates the config, connects and logs in to both sides, and prints each
server's capabilities and the sync path it gets (QRESYNC, CONDSTORE or plain). Changes
nothing on either server and does not open the state database.

Examples:
  twinbox check
  twinbox check --config ~/.config/twinbox/gmail.conf --debug
  twinbox check --json | jq '.local.sync_path, .remote.sync_path')";

constexpr const char* kServeFooter = R"(
A real IMAP4rev1 server (CONDSTORE, QRESYNC, IDLE, UIDPLUS, MOVE, ...) storing mail in
SQLite. Listening on a non-loopback address needs --tls-cert/--tls-key (STARTTLS) or
--allow-plaintext. With port 0 the chosen port is printed alone on stdout.
SIGINT or SIGTERM stops the server.

Examples:
  twinbox serve --listen 127.0.0.1:1143 --db ~/mail.db --user me:secret
  twinbox serve --listen 0.0.0.0:143 --tls-cert cert.pem --tls-key key.pem --tls-port 993 \
                --db /var/lib/twinbox/mail.db --users-file /etc/twinbox/users
  twinbox serve --listen 127.0.0.1:0 --user test:test --seed-demo 50 --disable QRESYNC
  twinbox serve --stdio --db ~/mail.db --user me     (as a tunnel: command = twinbox serve ...))";

constexpr const char* kDemoFooter = R"(
Starts two embedded IMAP servers on 127.0.0.1 with different sample mail (and a few
messages already on both), writes a config and state database to a temporary directory,
syncs, changes both sides (new mail, a flag conflict, a deletion, a move), syncs again and
shows both sides are identical. Cleans up after itself; takes a few seconds.

Examples:
  twinbox demo
  twinbox demo --messages 100 --verbose)";

/// -q / -v (repeatable) as given on the command line.
struct OutputFlags {
  bool quiet = false;
  int verbose = 0;
  [[nodiscard]] Verbosity verbosity() const {
    if (quiet) return Verbosity::Quiet;
    return verbose >= 2 ? Verbosity::Messages : verbose == 1 ? Verbosity::Verbose : Verbosity::Normal;
  }
};

/// The output options shared by the commands that report sync events (sync, watch).
void add_output_options(CLI::App* cmd, OutputFlags& o, bool& json, std::string& log_file) {
  auto* q = cmd->add_flag("-q,--quiet", o.quiet, "Print only errors (and no progress display)");
  cmd->add_flag("-v,--verbose", o.verbose,
                "Also print each step (mailbox starts, creations, renames, ...); -vv also "
                "each message copied, moved, expunged or re-flagged")
      ->excludes(q);
  cmd->add_flag("--json", json, "One JSON object per line on stdout (see twinbox(1))");
  cmd->add_option("--log-file", log_file,
                  "Also append every event, timestamped, to FILE (created mode 0600)")
      ->type_name("FILE");
}

void add_sync(CLI::App& app, SyncArgs& a, OutputFlags& out) {
  auto* sync = app.add_subcommand("sync", "Synchronize both accounts once");
  sync->footer(kSyncFooter);
  sync->add_option("mailbox", a.mailboxes, "Only these mailboxes (default: all the config selects)");
  sync->add_option("-c,--config", a.config, "Config file")->type_name("FILE");
  sync->add_flag("-n,--dry-run", a.dry_run, "Print what would be done; change nothing, anywhere");
  sync->add_flag("--allow-mass-delete", a.allow_mass_delete,
                 "Carry out expunges the deletion guard stopped (max_delete_percent)");
  sync->add_flag("--debug", a.debug, "Protocol trace of both sides on stderr (secrets redacted)");
  add_output_options(sync, out, a.json, a.log_file);
  sync->add_flag("--exit-code", a.exit_code, "Exit with 1 instead of 0 when something changed");
}

void add_serve(CLI::App& app, ServeArgs& a) {
  auto* serve = app.add_subcommand("serve", "Run the embedded IMAP server");
  serve->footer(kServeFooter);
  serve->add_option("-l,--listen", a.listen, "Address to listen on (port 0: any free port)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  serve->add_option("--db", a.db, "SQLite mail store, or :memory:")
      ->type_name("FILE")
      ->capture_default_str();
  serve->add_option("-u,--user", a.users, "Accepted login (repeatable)")->type_name("NAME:PASS");
  serve->add_option("--users-file", a.users_file, "File of NAME:PASS lines (# comments)")
      ->type_name("FILE");
  serve->add_option("--tls-cert", a.tls_cert, "PEM certificate chain (enables STARTTLS)")
      ->type_name("FILE");
  serve->add_option("--tls-key", a.tls_key, "PEM private key")->type_name("FILE");
  serve->add_option("--tls-port", a.tls_port, "Also listen for implicit TLS (imaps) on this port")
      ->type_name("PORT");
  serve->add_flag("--stdio", a.stdio,
                  "Serve one pre-authenticated session for the first --user on stdin/stdout");
  serve->add_option("--disable", a.disable, "Switch off extensions, e.g. QRESYNC,CONDSTORE")
      ->type_name("EXT[,EXT]")
      ->delimiter(',');
  serve->add_option("--seed-demo", a.seed_demo, "Fill each user's mailboxes with N sample messages")
      ->type_name("N");
  serve->add_flag("--allow-plaintext", a.allow_plaintext,
                  "Listen on a non-loopback address without TLS");
  serve->add_flag("--no-fsync", a.no_fsync, "Do not fsync each commit of a --db file (faster)");
  serve->add_option("--max-connections", a.max_connections, "Connections served at once")
      ->capture_default_str();
  serve->add_option("--idle-timeout", a.idle_timeout,
                    "Log out a session after SECONDS without input (IDLE included)")
      ->type_name("SECONDS")
      ->capture_default_str();
  serve->add_option("--auth-lockout-after", a.auth_lockout_after,
                    "Lock out a client address after N failed logins (0 = never)")
      ->type_name("N")
      ->capture_default_str();
  serve->add_flag("--test-controls", a.test_controls, "Enable the test-only --test-* switches");
  // Test-only switches, hidden from --help (documented in twinbox(1) under TESTING).
  serve->add_option("--test-uidvalidity", a.test_uidvalidity)->group("");
  serve->add_option("--test-drop-after-bytes", a.test_drop_after_bytes)->group("");
  serve->add_flag("--test-drop-after-append", a.test_drop_after_append)->group("");
  serve->add_flag("--test-copyuid-tagged", a.test_copyuid_tagged)->group("");
  serve->add_flag("--test-always-modified", a.test_always_modified)->group("");
  serve->add_option("--test-auth-fail-delay-ms", a.test_auth_fail_delay_ms)->group("");
}

int run_app(int argc, char** argv) {
  CLI::App app{"twinbox: keeps two IMAP accounts identical, both ways", "twinbox"};
  app.set_version_flag("-V,--version", std::string("twinbox ") + TWINBOX_VERSION);
  app.footer(kMainFooter);
  app.require_subcommand(0, 1);
  app.fallthrough();  // --test-crash-after may follow the command name
  std::uint64_t crash_after = 0;
  app.add_option("--test-crash-after", crash_after,
                 "Test only: exit with 77 at the N-th mutating step")
      ->group("");
  bool internal_error = false;
  app.add_flag("--test-internal-error", internal_error,
               "Test only: throw where a library would, to check exit status 8")
      ->group("");

  SyncArgs sync_args;
  OutputFlags sync_out;
  add_sync(app, sync_args, sync_out);

  WatchArgs watch_args;
  OutputFlags watch_out;
  auto* watch = app.add_subcommand("watch", "Keep both accounts in sync continuously");
  watch->footer(kWatchFooter);
  watch->add_option("-c,--config", watch_args.config, "Config file")->type_name("FILE");
  watch->add_flag("--debug", watch_args.debug, "Protocol trace on stderr (secrets redacted)");
  add_output_options(watch, watch_out, watch_args.json, watch_args.log_file);

  CheckArgs check_args;
  auto* check = app.add_subcommand("check", "Validate the config and log in to both sides");
  check->footer(kCheckFooter);
  check->add_option("-c,--config", check_args.config, "Config file")->type_name("FILE");
  check->add_flag("--debug", check_args.debug, "Protocol trace on stderr (secrets redacted)");
  check->add_flag("--json", check_args.json, "One JSON object on stdout (see twinbox(1))");

  ServeArgs serve_args;
  add_serve(app, serve_args);

  DemoArgs demo_args;
  auto* demo = app.add_subcommand("demo", "Sync two embedded servers with sample mail");
  demo->footer(kDemoFooter);
  demo->add_option("--messages", demo_args.messages, "Sample messages per side")
      ->capture_default_str()
      ->check(CLI::Range(4, 10000));
  demo->add_flag("-v,--verbose", demo_args.verbose, "Also print each step of the syncs");

  AdminCommands admin_args;
  add_admin_commands(app, admin_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : to_int(ExitCode::Config);
  }
  if (crash_after > 0) set_crash_after(crash_after);
  // An exception from a library (nlohmann/json, CLI11 past parsing, the standard library) is a
  // bug in twinbox; run() maps it to exit 8. This hook lets the tests reach that path.
  if (internal_error) throw std::logic_error("--test-internal-error");

  if (app.got_subcommand("sync")) {
    sync_args.verbosity = sync_out.verbosity();
    return sync_command(sync_args);
  }
  if (app.got_subcommand("watch")) {
    watch_args.verbosity = watch_out.verbosity();
    return watch_command(watch_args);
  }
  if (app.got_subcommand("check")) return check_command(check_args);
  if (app.got_subcommand("serve")) return serve_command(serve_args);
  if (app.got_subcommand("demo")) return demo_command(demo_args);
  if (auto status = run_admin_command(app, admin_args)) return *status;
  std::cerr << app.help() << "\ntwinbox: a command is required\n";
  return to_int(ExitCode::Config);
}

}  // namespace

int run(int argc, char** argv) {
  try {
    return run_app(argc, argv);
  } catch (const std::bad_alloc&) {
    std::cerr << "twinbox: out of memory\n";
  } catch (const std::exception& e) {
    // nlohmann::json::exception and anything else a library threw: a bug in twinbox.
    std::cerr << "twinbox: internal error: " << e.what() << " (please report this)\n";
  } catch (...) {
    std::cerr << "twinbox: internal error: unknown exception (please report this)\n";
  }
  return to_int(ExitCode::Internal);
}

}  // namespace twinbox::cli
