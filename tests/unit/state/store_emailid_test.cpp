// Schema version 2 (schema.hpp): per-side EMAILID / X-GM-MSGID of message pairs, and the
// upgrade of a version 1 database that keeps every pair.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <twinbox/state/schema.hpp>
#include <twinbox/state/store.hpp>

#include "state_fixture.hpp"

using namespace twinbox;
using namespace twinbox::state;

namespace {

using Dir = test::TempDir;
using test::exec_sql;
using test::open_ok;

MailboxPairId inbox(StateStore& s) {
  auto id = s.upsert_mailbox(test::inbox_pair());
  REQUIRE(id.has_value());
  return *id;
}

}  // namespace

TEST_CASE("message pairs keep each side's EMAILID; set_email_ids fills one side") {
  Dir d;
  auto s = open_ok(d.db());
  const MailboxPairId box = inbox(s);
  MessagePair p;
  p.uid = {{Uid(3), Uid(30)}};
  p.identity.message_id = "<a@x>";
  p.identity.email_id[Side::Local] = "M6d99ac3275bb4e";
  REQUIRE(s.upsert_pairs(box, std::vector<MessagePair>{p}));
  const std::vector<std::pair<Uid, std::string>> learnt{{Uid(30), "X-GM-MSGID:1278455344230334865"},
                                                        {Uid(99), "nobody"}};
  REQUIRE(s.set_email_ids(box, Side::Remote, learnt));
  auto back = s.find_pair(box, Side::Local, Uid(3));
  REQUIRE(back.has_value());
  REQUIRE(back->has_value());
  CHECK((*back)->identity.email_id[Side::Local] == "M6d99ac3275bb4e");
  CHECK((*back)->identity.email_id[Side::Remote] == "X-GM-MSGID:1278455344230334865");
  CHECK(s.count_pairs(box).value() == 1);
}

TEST_CASE("a version 1 database is upgraded to version 2 with its pairs intact") {
  Dir d;
  MailboxPairId box = 0;
  {
    auto s = open_ok(d.db());
    box = inbox(s);
    MessagePair p;
    p.uid = {{Uid(1), Uid(2)}};
    p.base_flags = "\\Seen";
    p.identity.message_id = "<old@x>";
    p.identity.size = 42;
    REQUIRE(s.upsert_pairs(box, std::vector<MessagePair>{p}));
  }
  // Back to the version 1 layout, as an older twinbox left it.
  exec_sql(d.db(),
           "ALTER TABLE message_pairs DROP COLUMN local_emailid;"
           "ALTER TABLE message_pairs DROP COLUMN remote_emailid;"
           "ALTER TABLE mailbox_pairs DROP COLUMN local_announced_modseq;"
           "ALTER TABLE mailbox_pairs DROP COLUMN remote_announced_modseq;"
           "PRAGMA user_version = 1;");
  auto s = open_ok(d.db());
  CHECK(s.schema_version() == kSchemaVersion);
  auto pairs = s.pairs(box);
  REQUIRE(pairs.has_value());
  REQUIRE(pairs->size() == 1);
  CHECK(pairs->front().identity.message_id == "<old@x>");
  CHECK(pairs->front().base_flags == "\\Seen");
  CHECK(pairs->front().identity.email_id == PerSide<std::string>{});
  const std::vector<std::pair<Uid, std::string>> learnt{{Uid(1), "E1"}};
  REQUIRE(s.set_email_ids(box, Side::Local, learnt));
  CHECK(s.pairs(box)->front().identity.email_id[Side::Local] == "E1");
}
