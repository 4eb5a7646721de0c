// `twinbox repair` on a state damaged behind twinbox's back (pairs lost, pairs pointing at the
// wrong message, look-alikes without Message-ID, a message whose twin is gone): its counts, its
// JSON schema (twinbox(1)), that a dry run writes nothing, that it changes nothing on the
// servers, and that the next sync then copies only what has no twin and expunges nothing.

#include <twinbox/state/store.hpp>

#include "admin_fixture.hpp"

namespace twinbox::test {
namespace {

using namespace admin;

const json& mailbox(const json& report, const std::string& name) {
  for (const auto& m : report["mailboxes"]) {
    if (m["mailbox"] == name) return m;
  }
  FAIL("no mailbox " << name << " in " << report.dump());
  static const json none;
  return none;
}

void append_raw(Mail& m, const std::string& body) {
  std::vector<client::AppendMessage> msg(1);
  msg[0].data = body;
  msg[0].internal_date = "02-Mar-2026 09:00:00 +0000";
  REQUIRE(m.session->wait(m.session->append("INBOX", msg), Mail::soon()).has_value());
}

/// Damages the INBOX pairs of the state (the state lock is held only inside).
void damage_state(const std::string& path) {
  auto store = state::StateStore::open(path);
  REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message));
  auto boxes = store->mailboxes();
  REQUIRE(boxes.has_value());
  state::MailboxPairId inbox = 0;
  for (const auto& b : *boxes) {
    if (b.name[Side::Local] == "INBOX") inbox = b.id;
  }
  REQUIRE(inbox != 0);
  auto pairs = store->pairs(inbox);
  REQUIRE(pairs.has_value());
  auto by_id = [&](const std::string& id) -> state::MessagePair {
    for (const auto& p : *pairs) {
      if (p.identity.message_id == id) return p;
    }
    FAIL("no pair for " << id);
    return {};
  };
  std::vector<Uid> lost;
  for (const char* id : {"<r-1@test>", "<r-2@test>", "<r-3@test>", "<r-6@test>"}) {
    lost.push_back(by_id(id).uid[Side::Local]);
  }
  for (const auto& p : *pairs) {
    if (p.identity.message_id.empty()) lost.push_back(p.uid[Side::Local]);  // the look-alikes
  }
  REQUIRE(lost.size() == 6);
  REQUIRE(store->remove_pairs(inbox, Side::Local, lost).has_value());
  // r-4 and r-5 point at each other's twin.
  state::MessagePair a = by_id("<r-4@test>");
  state::MessagePair b = by_id("<r-5@test>");
  const Uid both[] = {a.uid[Side::Local], b.uid[Side::Local]};
  REQUIRE(store->remove_pairs(inbox, Side::Local, both).has_value());
  std::swap(a.uid[Side::Remote], b.uid[Side::Remote]);
  const state::MessagePair swapped[] = {a, b};
  REQUIRE(store->upsert_pairs(inbox, swapped).has_value());
}

TEST_CASE("repair: lost and wrong pairs are fixed by content; the next sync copies only the rest") {
  Server server;
  Account acct(server);
  CHECK(acct.run("repair").status == 3);  // no state yet
  {
    Mail alice(server, "alice");
    for (const char* id : {"r-1", "r-2", "r-3", "r-4", "r-5", "r-6"}) alice.append("INBOX", id);
    // Look-alikes: no Message-ID, same size and INTERNALDATE; only the bytes differ.
    append_raw(alice, "From: t@example.org\r\nSubject: same\r\n\r\nbody A\r\n");
    append_raw(alice, "From: t@example.org\r\nSubject: same\r\n\r\nbody B\r\n");
  }
  REQUIRE(acct.run("sync").status == 0);
  {
    // r-6's copy disappears from bob's side while its pair is lost too.
    Mail bob(server, "bob");
    REQUIRE(bob.session->wait(bob.session->select("INBOX"), Mail::soon()).has_value());
    auto found = bob.session->wait(bob.session->uid_search("HEADER Message-ID r-6@test"), Mail::soon());
    REQUIRE(found.has_value());
    REQUIRE(found->uids.size() == 1);
    REQUIRE(bob.session->wait(bob.session->uid_store(found->uids, client::StoreMode::Add,
                                                     imap::FlagSet{"\\Deleted"}),
                              Mail::soon()).has_value());
    REQUIRE(bob.session->wait(bob.session->uid_expunge(found->uids), Mail::soon()).has_value());
  }
  damage_state(acct.state);
  std::uint32_t bob_inbox = 0;
  {
    Mail bob(server, "bob");
    bob_inbox = bob.messages("INBOX");
  }

  CHECK(acct.run("repair", {"NoSuchBox"}).status == 3);
  {
    HeldLock lock(acct.state);
    CHECK(acct.run("repair").status == 7);
  }
  auto dry = acct.run("repair", {"--dry-run", "--json"});
  REQUIRE_MESSAGE(dry.status == 0, dry.out << dry.err);
  auto d = parse_one(dry);
  check_documented("repair", d);
  CHECK(d["dry_run"] == true);

  auto real = acct.run("repair", {"--json"});
  REQUIRE_MESSAGE(real.status == 0, real.out << real.err);
  auto r = parse_one(real);
  check_documented("repair", r);
  const json& inbox = mailbox(r, "INBOX");
  CHECK(inbox["skipped"].is_null());
  CHECK(inbox["dropped"] == 2);    // r-4 <-> r-5
  CHECK(inbox["paired"] == 7);     // r-1..r-5 and both look-alikes
  CHECK(inbox["hashed"] == 4);     // the look-alikes, on both sides
  CHECK(inbox["one_sided"] == 1);  // r-6
  CHECK(inbox["ambiguous"] == 0);
  CHECK(mailbox(r, "Sent")["dropped"] == 0);
  // The dry run found the same and wrote nothing (else the real run would find nothing).
  CHECK(mailbox(d, "INBOX")["paired"] == 7);
  {
    Mail bob(server, "bob");
    CHECK(bob.messages("INBOX") == bob_inbox);  // repair never copies
  }

  auto sync = acct.run("sync", {"--json"});
  REQUIRE_MESSAGE(sync.status == 0, sync.out << sync.err);
  json summary;
  for (const auto& line : lines_of(sync.out)) {
    if (contains(line, "\"event\":\"summary\"")) summary = json::parse(line);
  }
  CHECK(summary["local"]["copied"] == 0);
  CHECK(summary["remote"]["copied"] == 1);  // r-6 only: no duplicates
  CHECK(summary["local"]["expunged"] == 0);
  CHECK(summary["remote"]["expunged"] == 0);
  {
    Mail alice(server, "alice");
    Mail bob(server, "bob");
    CHECK(alice.messages("INBOX") == bob.messages("INBOX"));
  }
  CHECK(acct.run("sync", {"--exit-code"}).status == 0);
  auto again = parse_one(acct.run("repair", {"--json", "INBOX"}));
  CHECK(mailbox(again, "INBOX")["dropped"] == 0);
  CHECK(mailbox(again, "INBOX")["paired"] == 0);
  CHECK(mailbox(again, "INBOX")["one_sided"] == 0);
}

}  // namespace
}  // namespace twinbox::test
