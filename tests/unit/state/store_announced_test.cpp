// Schema version 3 (schema.hpp): the per-side announced HIGHESTMODSEQ not yet stored
// (SideState::announced_modseq, sync/reader.hpp), and the upgrade of a version 2 database.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <twinbox/state/schema.hpp>
#include <twinbox/state/store.hpp>

#include "state_fixture.hpp"

using namespace twinbox;
using namespace twinbox::state;

namespace {

using Dir = test::TempDir;
using test::exec_sql;
using test::open_ok;

MailboxPair inbox() {
  MailboxPair m = test::inbox_pair();
  for (Side s : kBothSides) {
    m.side[s].uidvalidity = UidValidity(7);
    m.side[s].uidnext = Uid(10);
    m.side[s].highestmodseq = ModSeq(40);
  }
  return m;
}

}  // namespace

TEST_CASE("the announced HIGHESTMODSEQ is stored per side by upsert, set_side_state and void_side") {
  Dir d;
  auto s = open_ok(d.db());
  MailboxPair m = inbox();
  m.side[Side::Remote].announced_modseq = ModSeq(45);
  auto id = s.upsert_mailbox(m);
  REQUIRE(id.has_value());
  m.id = *id;
  CHECK(s.mailbox(*id)->value() == m);

  SideState local = m.side[Side::Local];
  local.announced_modseq = ModSeq(0x8000000000000001ULL);  // above INT64_MAX: bit-cast
  REQUIRE(s.set_side_state(*id, Side::Local, local));
  auto got = s.mailbox(*id)->value();
  CHECK(got.side[Side::Local].announced_modseq == ModSeq(0x8000000000000001ULL));
  CHECK(got.side[Side::Remote].announced_modseq == ModSeq(45));

  m.side[Side::Remote].announced_modseq = ModSeq();
  m.side[Side::Local] = local;
  REQUIRE(s.upsert_mailbox(m));
  CHECK(s.mailbox(*id)->value().side[Side::Remote].announced_modseq == ModSeq());

  REQUIRE(s.void_side(*id, Side::Local));
  got = s.mailbox(*id)->value();
  CHECK(got.side[Side::Local].announced_modseq == ModSeq());
  CHECK(got.side[Side::Local].highestmodseq == ModSeq());
}

TEST_CASE("a version 2 database is upgraded to version 3 with nothing announced") {
  Dir d;
  MailboxPairId id = 0;
  {
    auto s = open_ok(d.db());
    auto r = s.upsert_mailbox(inbox());
    REQUIRE(r.has_value());
    id = *r;
  }
  // Back to the version 2 layout, as an older twinbox left it.
  exec_sql(d.db(),
           "ALTER TABLE mailbox_pairs DROP COLUMN local_announced_modseq;"
           "ALTER TABLE mailbox_pairs DROP COLUMN remote_announced_modseq;"
           "PRAGMA user_version = 2;");
  auto s = open_ok(d.db());
  CHECK(s.schema_version() == kSchemaVersion);
  auto m = s.mailbox(id);
  REQUIRE(m.has_value());
  REQUIRE(m->has_value());
  MailboxPair want = inbox();
  want.id = id;
  CHECK(**m == want);
}
