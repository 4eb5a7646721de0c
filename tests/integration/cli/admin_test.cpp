// `twinbox status`, `list`, `check --json`, `rename` and `delete` run as a user runs them,
// against a `twinbox serve` child: their output against the JSON schemas of twinbox(1), their
// effect on both sides and in the state, and their refusals (unknown mailbox, OLD missing, NEW
// exists, mail the other side has not seen, the state locked by another run).

#include <set>

#include "admin_fixture.hpp"

namespace twinbox::test {
namespace {

using namespace admin;

/// `list --json`: the documented object, each side's delimiter one character.
void check_list_schema(const json& j) {
  check_documented("list", j);
  for (const char* side : {"local", "remote"}) {
    CHECK(j[side]["delimiter"].get<std::string>().size() == 1);
  }
}

const json* find_by(const json& array, const char* key, const std::string& value) {
  for (const auto& e : array) {
    if (e[key] == value) return &e;
  }
  return nullptr;
}

TEST_CASE("status: missing state, then every pair after a sync, offline and while locked") {
  Server server;
  Account acct(server);
  auto none = acct.run("status");
  CHECK_MESSAGE(none.status == 0, none.out << none.err);
  CHECK(contains(none.out, "does not exist"));
  auto none_json = parse_one(acct.run("status", {"--json"}));
  check_documented("status", none_json);
  CHECK(none_json["exists"] == false);

  REQUIRE(acct.run("sync").status == 0);
  HeldLock lock(acct.state);  // status needs no lock: a running sync does not stop it
  auto j = parse_one(acct.run("status", {"--json"}));
  check_documented("status", j);
  CHECK(j["exists"] == true);
  const json* inbox = find_by(j["mailboxes"], "mailbox", "INBOX");
  REQUIRE(inbox != nullptr);
  CHECK((*inbox)["messages"].get<unsigned>() > 0);
  CHECK((*inbox)["last_sync"]["local"].is_number_integer());
  CHECK((*inbox)["pending_intents"] == 0);
  const json* sent = find_by(j["mailboxes"], "mailbox", "Sent");
  REQUIRE(sent != nullptr);
  CHECK((*sent)["special_use"] == "\\Sent");
  CHECK(j["totals"]["mailboxes"].get<std::size_t>() == j["mailboxes"].size());

  auto text = acct.run("status");
  CHECK(text.status == 0);
  CHECK(contains(text.out, "INBOX: "));
  CHECK(contains(text.out, "last sync 20"));
}

TEST_CASE("list: both sides, pairs, roles, exclusions and what a sync would create") {
  Server server;
  Account acct(server, "exclude = Trash\n");
  {
    Mail alice(server, "alice");
    alice.create("OnlyAlice");
  }
  auto j = parse_one(acct.run("list", {"--json"}));
  check_list_schema(j);
  CHECK(j["state_found"] == false);
  const json* inbox = find_by(j["pairs"], "mailbox", "INBOX");
  REQUIRE(inbox != nullptr);
  CHECK((*inbox)["stored"] == false);
  const json* sent = find_by(j["pairs"], "mailbox", "Sent");
  REQUIRE(sent != nullptr);
  CHECK((*sent)["special_use"] == "\\Sent");
  const json* only = find_by(j["pairs"], "mailbox", "OnlyAlice");
  REQUIRE(only != nullptr);
  CHECK((*only)["create_on"] == "remote");
  CHECK(find_by(j["pairs"], "mailbox", "Trash") == nullptr);
  const json* trash = find_by(j["local"]["mailboxes"], "mailbox", "Trash");
  REQUIRE(trash != nullptr);
  CHECK(contains((*trash)["excluded"].get<std::string>(), "exclude = Trash"));
  CHECK((*trash)["paired_with"].is_null());

  auto text = acct.run("list");
  CHECK_MESSAGE(text.status == 0, text.err);
  CHECK(contains(text.out, "OnlyAlice"));
  CHECK(contains(text.out, "creates it on the remote side"));
  CHECK(contains(text.out, "not synced:"));
  CHECK(::access(acct.state.c_str(), F_OK) != 0);  // list wrote no state

  REQUIRE(acct.run("sync").status == 0);
  auto after = parse_one(acct.run("list", {"--json"}));
  check_list_schema(after);
  CHECK(after["state_found"] == true);
  CHECK((*find_by(after["pairs"], "mailbox", "OnlyAlice"))["stored"] == true);
}

TEST_CASE("check --json: capabilities and sync path of each side") {
  Server server;
  Account acct(server);
  auto r = acct.run("check", {"--json"});
  REQUIRE_MESSAGE(r.status == 0, r.out << r.err);
  auto j = parse_one(r);
  check_documented("check", j);
  CHECK(j["ok"] == true);
  for (const char* side : {"local", "remote"}) {
    const json& s = j[side];
    CHECK(s["ok"] == true);
    CHECK(s["sync_path"] == "QRESYNC");
  }
}

TEST_CASE("rename: both sides and the state; refusals; finishing an interrupted rename") {
  Server server;
  Account acct(server);
  {
    Mail alice(server, "alice");
    alice.create("Team");
    alice.create("Team/Sub");
    alice.append("Team", "team-1");
    alice.append("Team/Sub", "sub-1");
  }
  REQUIRE(acct.run("sync").status == 0);

  auto unknown = acct.run("rename", {"Nope", "Other"});
  CHECK_MESSAGE(unknown.status == 3, unknown.out << unknown.err);
  CHECK(contains(unknown.err, "no mailbox Nope"));
  auto exists = acct.run("rename", {"Team", "Sent"});
  CHECK(exists.status == 3);
  CHECK_MESSAGE(contains(exists.err, "already exists"), exists.err);
  CHECK(acct.run("rename", {"INBOX", "Old"}).status == 3);
  {
    HeldLock lock(acct.state);
    auto locked = acct.run("rename", {"Team", "Crew"});
    CHECK(locked.status == 7);
    CHECK_MESSAGE(contains(locked.err, "another twinbox run"), locked.err);
  }

  auto ok = acct.run("rename", {"Team", "Crew"});
  REQUIRE_MESSAGE(ok.status == 0, ok.out << ok.err);
  CHECK(contains(ok.out, "renamed Team to Crew on the local side"));
  CHECK(contains(ok.out, "2 mailbox pairs renamed"));
  for (const char* user : {"alice", "bob"}) {
    Mail m(server, user);
    CHECK(m.has("Crew"));
    CHECK(m.has("Crew/Sub"));
    CHECK(!m.has("Team"));
    CHECK(m.messages("Crew/Sub") == 1);
  }
  auto st = parse_one(acct.run("status", {"--json"}));
  CHECK(find_by(st["mailboxes"], "mailbox", "Crew/Sub") != nullptr);
  CHECK(find_by(st["mailboxes"], "mailbox", "Team") == nullptr);
  // Nothing is copied again: the next sync is a no-op.
  auto sync = acct.run("sync", {"--exit-code"});
  CHECK_MESSAGE(sync.status == 0, sync.out << sync.err);

  // Renamed on one side only (as a failed second RENAME leaves it): the same command finishes.
  {
    Mail alice(server, "alice");
    REQUIRE(alice.session->wait(alice.session->rename("Crew", "Band"), Mail::soon()).has_value());
  }
  auto resume = acct.run("rename", {"Crew", "Band"});
  REQUIRE_MESSAGE(resume.status == 0, resume.out << resume.err);
  CHECK(contains(resume.out, "local side was renamed already"));
  CHECK(contains(resume.out, "renamed Crew to Band on the remote side"));
  Mail bob(server, "bob");
  CHECK(bob.has("Band/Sub"));
  CHECK(acct.run("sync", {"--exit-code"}).status == 0);
}

TEST_CASE("delete: refused while a side holds unseen mail, then on both sides and the state") {
  Server server;
  Account acct(server);
  {
    Mail alice(server, "alice");
    alice.create("Lists");
    alice.append("Lists", "list-1");
    alice.append("Lists", "list-2");
  }
  REQUIRE(acct.run("sync").status == 0);
  CHECK(acct.run("delete", {"Nowhere"}).status == 3);
  CHECK(acct.run("delete", {"INBOX"}).status == 3);
  {
    Mail bob(server, "bob");
    bob.append("Lists", "list-3");  // alice has not seen it
  }
  auto refused = acct.run("delete", {"Lists"});
  CHECK_MESSAGE(refused.status == 3, refused.out << refused.err);
  CHECK_MESSAGE(contains(refused.err, "remote side holds 1 message the local side has not seen"),
                refused.err);
  {
    Mail alice(server, "alice");
    CHECK(alice.has("Lists"));  // nothing was deleted
  }
  {
    HeldLock lock(acct.state);
    CHECK(acct.run("delete", {"Lists"}).status == 7);
  }
  REQUIRE(acct.run("sync").status == 0);
  auto ok = acct.run("delete", {"Lists"});
  REQUIRE_MESSAGE(ok.status == 0, ok.out << ok.err);
  CHECK(contains(ok.out, "deleted Lists on the local side (3 messages)"));
  CHECK(contains(ok.out, "state: mailbox pair removed"));
  for (const char* user : {"alice", "bob"}) {
    Mail m(server, user);
    CHECK(!m.has("Lists"));
  }
  auto st = parse_one(acct.run("status", {"--json"}));
  CHECK(find_by(st["mailboxes"], "mailbox", "Lists") == nullptr);
  CHECK(acct.run("sync", {"--exit-code"}).status == 0);  // not re-created

  // --force deletes mail nobody synced.
  {
    Mail alice(server, "alice");
    alice.create("Scratch");
    alice.append("Scratch", "scratch-1");
  }
  CHECK(acct.run("delete", {"Scratch"}).status == 3);
  auto forced = acct.run("delete", {"--force", "Scratch"});
  CHECK_MESSAGE(forced.status == 0, forced.out << forced.err);
  CHECK(contains(forced.out, "state: it was not synced"));
}

TEST_CASE("--help of each admin command shows examples and exit status") {
  for (const char* cmd : {"status", "list", "repair", "rename", "delete"}) {
    auto h = run_twinbox({cmd, "--help"});
    CHECK_MESSAGE(h.status == 0, cmd);
    CHECK_MESSAGE(contains(h.out, "Examples:"), cmd);
    CHECK_MESSAGE(contains(h.out, "Exit status"), cmd);
    CHECK_MESSAGE(contains(h.out, std::string("twinbox ") + cmd), cmd);
  }
  auto main_help = run_twinbox({"--help"});
  for (const char* cmd : {"status", "list", "repair", "rename", "delete"}) {
    CHECK_MESSAGE(contains(main_help.out, std::string("  ") + cmd + " "), cmd);
  }
}

}  // namespace
}  // namespace twinbox::test
