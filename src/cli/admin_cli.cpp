// CLI11 registration of the admin commands (status, list, repair, rename, delete): options,
// --help footers with examples, and dispatch. Besides cli.cpp, the only file that includes
// CLI11; kept apart so that the commands' definitions do not crowd the main parser.

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace twinbox::cli {
namespace {

constexpr const char* kStatusFooter = R"FOOTER(
Reads the state database only: no network, no lock (works while a sync runs), changes
nothing. Per mailbox pair: names on both sides, paired messages, last sync, interrupted
copies, and the problem that stopped the last pass on a side, if any. A missing state
database is reported (exit 0: nothing has been synced yet).

Examples:
  twinbox status
  twinbox status --config ~/.config/twinbox/work.conf
  twinbox status --json | jq '.mailboxes[] | select(.problems.local or .problems.remote)'

Exit status: 0 (also when there is no state yet), 3 config, 7 the state cannot be read.)FOOTER";

constexpr const char* kListFooter = R"FOOTER(
Connects to both sides and shows every mailbox, its special-use role and message count,
which mailbox of the other side it pairs with, what is not synced and why (exclude,
mailboxes, \All/\Flagged, \Noselect), and what a sync would create, rename or delete.
Changes nothing on the servers or in the state.

Examples:
  twinbox list
  twinbox list --json | jq -r '.pairs[] | "\(.local) <-> \(.remote)"'

Exit status: 0, 3 config, 4 authentication, 5 TLS, 6 network, 9 protocol.)FOOTER";

constexpr const char* kRepairFooter = R"FOOTER(
Compares both sides of each synced mailbox (or only the MAILBOX arguments) with the state
by content: Message-ID, size and INTERNALDATE of every message, SHA-256 of the bodies where
look-alikes must be told apart. Keeps the pairs that still match, drops those that do not,
pairs messages proven identical, and marks messages without a twin so that the next sync
copies them. Never copies, changes flags or deletes anything on a server: run 'twinbox
sync' afterwards. Use it after restoring a server from backup or losing part of the state.

Examples:
  twinbox repair
  twinbox repair INBOX Archive/2024
  twinbox repair --dry-run --json

Exit status: 0, 2 some mailboxes were skipped (see the messages), 3 config or a MAILBOX
that is not synced, 4-6 connection, 7 state locked by another run.)FOOTER";

constexpr const char* kRenameFooter = R"FOOTER(
Renames mailbox OLD to NEW on both sides (mailboxes below OLD follow) and in the state, so
no mail is copied again. Names use '/' as separator, as 'twinbox list' prints them. Refused
for INBOX, when OLD exists on neither side, and when NEW exists already. If the second
RENAME fails, run the same command again, or 'twinbox sync' (it recognises the rename).

Examples:
  twinbox rename Projects/2024 Archive/Projects-2024
  twinbox rename -c ~/.config/twinbox/work.conf "Old Stuff" Attic

Exit status: 0, 3 config or refused (the message says why), 4-6 connection, 7 state
locked by another run, 9 a server refused the RENAME.)FOOTER";

constexpr const char* kDeleteFooter = R"FOOTER(
Deletes MAILBOX on both sides and forgets it in the state. Refused while either side holds
a message the other side has not seen (new since the last sync, never synced, an interrupted
copy): run 'twinbox sync' first, or add --force to delete such mail too. If the second DELETE
fails, run the same command again.

Examples:
  twinbox delete Old/Newsletters
  twinbox delete --force Junk-2019

Exit status: 0, 3 config or refused (the message says why), 4-6 connection, 7 state
locked by another run, 9 a server refused the DELETE.)FOOTER";

CLI::App* admin_subcommand(CLI::App& app, const char* name, const char* what, const char* footer,
                           std::string& config) {
  auto* sub = app.add_subcommand(name, what);
  sub->footer(footer);
  sub->add_option("-c,--config", config, "Config file")->type_name("FILE");
  return sub;
}

void add_debug(CLI::App* sub, bool& debug) {
  sub->add_flag("--debug", debug, "Protocol trace of both sides on stderr (secrets redacted)");
}

}  // namespace

void add_admin_commands(CLI::App& app, AdminCommands& a) {
  auto* status = admin_subcommand(app, "status", "Show the state of each mailbox pair (offline)",
                                  kStatusFooter, a.status.config);
  status->add_flag("--json", a.status.json, "One JSON object on stdout (see twinbox(1))");

  auto* list = admin_subcommand(app, "list", "Show the mailboxes of both sides and how they pair",
                                kListFooter, a.list.config);
  add_debug(list, a.list.debug);
  list->add_flag("--json", a.list.json, "One JSON object on stdout (see twinbox(1))");

  auto* repair = admin_subcommand(app, "repair", "Re-check message pairs by content; fix the state",
                                  kRepairFooter, a.repair.config);
  repair->add_option("mailbox", a.repair.mailboxes, "Only these mailboxes (default: all synced)");
  repair->add_flag("-n,--dry-run", a.repair.dry_run, "Report what would be fixed; write nothing");
  add_debug(repair, a.repair.debug);
  repair->add_flag("--json", a.repair.json, "One JSON object on stdout (see twinbox(1))");

  auto* rename = admin_subcommand(app, "rename", "Rename a mailbox on both sides and in the state",
                                  kRenameFooter, a.rename.config);
  rename->add_option("old", a.rename.from, "Mailbox to rename")->required();
  rename->add_option("new", a.rename.to, "Its new name")->required();
  add_debug(rename, a.rename.debug);

  auto* del = admin_subcommand(app, "delete", "Delete a mailbox on both sides and in the state",
                               kDeleteFooter, a.del.config);
  del->add_option("mailbox", a.del.mailbox, "Mailbox to delete")->required();
  del->add_flag("--force", a.del.force, "Delete even mail the other side has not seen");
  add_debug(del, a.del.debug);
}

std::optional<int> run_admin_command(const CLI::App& app, const AdminCommands& a) {
  if (app.got_subcommand("status")) return status_command(a.status);
  if (app.got_subcommand("list")) return list_command(a.list);
  if (app.got_subcommand("repair")) return repair_command(a.repair);
  if (app.got_subcommand("rename")) return rename_command(a.rename);
  if (app.got_subcommand("delete")) return delete_command(a.del);
  return std::nullopt;
}

}  // namespace twinbox::cli
