// PlanTotals: what the progress display and the "totals"/"mailbox_start" events announce.

#include <doctest/doctest.h>

#include <twinbox/sync/events.hpp>

using namespace twinbox;
using namespace twinbox::sync;

TEST_CASE("totals_of counts copies and bytes by target side, stores and expunges by side") {
  Plan plan;
  Copy to_remote;
  to_remote.from = Side::Local;
  to_remote.uid = Uid{1};
  to_remote.identity.size = 1000;
  Copy to_local = to_remote;
  to_local.from = Side::Remote;
  to_local.identity.size = 30;
  StoreFlags store;
  store.side = Side::Remote;
  store.uid = Uid{4};
  Expunge expunge;
  expunge.side = Side::Local;
  expunge.uid = Uid{5};
  RecordPair record;  // pairing by content moves no bytes: not counted
  plan.actions = {to_remote, to_remote, to_local, store, expunge, record};

  const PlanTotals t = totals_of(plan);
  CHECK(t.copies[Side::Remote] == 2);
  CHECK(t.bytes[Side::Remote] == 2000);
  CHECK(t.copies[Side::Local] == 1);
  CHECK(t.bytes[Side::Local] == 30);
  CHECK(t.all_copies() == 3);
  CHECK(t.all_bytes() == 2030);
  CHECK(t.flags[Side::Remote] == 1);
  CHECK(t.flags[Side::Local] == 0);
  CHECK(t.expunges[Side::Local] == 1);

  PlanTotals sum = t;
  sum += t;
  CHECK(sum.bytes[Side::Remote] == 4000);
  CHECK(totals_of(Plan{}).all_copies() == 0);
}

TEST_CASE("FlagOp names are the JSON values of twinbox(1)") {
  CHECK(to_string(FlagOp::Set) == "set");
  CHECK(to_string(FlagOp::Add) == "add");
  CHECK(to_string(FlagOp::Remove) == "remove");
}
