// Path selection from server answers the embedded server never gives by itself (issue 6,
// PROTOCOL.md §0): the remote embedded server is seen through a rewriting proxy
// (tests/support/fault_proxy.hpp) that makes it answer like other servers: ENABLE that does
// not confirm QRESYNC, a mailbox answering NOMODSEQ, a SELECT without UIDNEXT (Courier), a
// mailbox with UIDNOTSTICKY. Each run must converge (or refuse that mailbox clearly) and the
// following run must have nothing to do. The protocol trace (tests/support/wire_trace.hpp)
// shows the path each side actually took.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <regex>
#include <set>

#include <twinbox/state/store.hpp>

#include "support/fault_proxy.hpp"
#include "support/read_delta.hpp"
#include "support/sync_fixture.hpp"
#include "support/wire_trace.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

using Rewrite = std::function<std::optional<std::string>(std::string_view)>;

/// A local embedded server and a remote one (with `remote_off` switched off) seen through a
/// rewriting proxy; both sides traced.
struct ProxiedPair {
  std::unique_ptr<TestServer> local = TestServer::embedded();
  std::unique_ptr<TestServer> remote;
  TempDir dir;
  DirectMail L{*local};
  DirectMail R{*remote};
  std::unique_ptr<FaultProxy> proxy;
  sync::EngineOptions options;
  WireTrace trace;

  explicit ProxiedPair(Rewrite rewrite, std::set<std::string> remote_off = {})
      : remote(TestServer::embedded(server_options(std::move(remote_off)))) {
    Faults f;
    f.rewrite_down = std::move(rewrite);
    proxy = std::make_unique<FaultProxy>(remote->endpoint().port, f);
    options = engine_options(*local, *remote, dir.file("state.db"));
    options.endpoints[Side::Remote].port = proxy->port();
    trace.attach(options);
  }
  static server::Options server_options(std::set<std::string> off) {
    server::Options o;
    o.disabled = std::move(off);
    return o;
  }
  /// SELECT and EXAMINE commands `side` sent since the trace was last cleared.
  [[nodiscard]] std::size_t selects(Side side) const {
    return trace.sent_starting(side, "SELECT ").size() + trace.sent_starting(side, "EXAMINE ").size();
  }
};

Rewrite transparent() {
  return [](std::string_view line) -> std::optional<std::string> { return std::string(line); };
}

/// First sync, then changes on both sides (flags both ways, an expunge each way, new mail),
/// then a sync that must converge and a no-op.
void converges(ProxiedPair& p) {
  p.L.add("INBOX", "a", {"\\Seen"});
  p.L.add("INBOX", "b");
  p.R.add("INBOX", "c", {"$K"});
  p.R.add("INBOX", "d");
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(total_copied(r) == 4);
  p.L.add_flag("INBOX", "c", "\\Flagged");
  p.R.add_flag("INBOX", "a", "\\Answered");
  p.R.remove_flag("INBOX", "a", "\\Seen");
  p.L.expunge("INBOX", "d");
  p.R.expunge("INBOX", "b");
  p.R.add("INBOX", "e");
  r = run_ok(p.options);
  INFO(describe(r));
  CHECK(p.L.ids("INBOX") == std::vector<std::string>{"a", "c", "e"});
  CHECK(p.R.ids("INBOX") == std::vector<std::string>{"a", "c", "e"});
  CHECK(p.L.flags("INBOX", "a") == "\\Answered");
  CHECK(p.R.flags("INBOX", "c") == "$K \\Flagged");
  auto n = run_ok(p.options);
  CHECK_MESSAGE(!n.changed(), describe(n));
}

std::string replace(std::string_view line, const std::regex& re, const std::string& with) {
  return std::regex_replace(std::string(line), re, with);
}

}  // namespace

TEST_CASE("QRESYNC advertised but not confirmed by ENABLED: the CONDSTORE path") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    static const std::regex re(R"(^\* ENABLED .*)");
    return replace(line, re, "* ENABLED");
  });
  converges(p);
  // On the wire: SELECT (CONDSTORE), never the QRESYNC parameter; flags by CHANGEDSINCE. The
  // local side (QRESYNC confirmed) shows the trace sees the difference.
  const auto& t = p.trace;
  CHECK(t.count_sent(Side::Remote, {"SELECT INBOX (CONDSTORE)"}) > 0);
  CHECK(t.count_sent(Side::Remote, {"SELECT", "QRESYNC"}) == 0);
  CHECK(t.count_sent(Side::Remote, {"UID FETCH ", " (UID FLAGS MODSEQ) (CHANGEDSINCE "}) > 0);
  CHECK(t.count_sent(Side::Local, {"SELECT INBOX (QRESYNC ("}) > 0);
  CHECK(t.count_sent(Side::Local, {"UID FETCH ", "(CHANGEDSINCE "}) == 0);
}

TEST_CASE("a mailbox answering NOMODSEQ is read on the plain path") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    static const std::regex re(R"(^\* OK \[HIGHESTMODSEQ \d+\].*)");
    return replace(line, re, "* OK [NOMODSEQ] Sorry, this mailbox format has no modseqs");
  });
  converges(p);
  // On the wire: no QRESYNC parameter, no MODSEQ item, CHANGEDSINCE or UNCHANGEDSINCE (BAD in
  // such a mailbox, RFC 7162 §3.1.2.2); flags by a full read, written as deltas.
  const auto& t = p.trace;
  CHECK(t.count_sent(Side::Remote, {"SELECT", "QRESYNC"}) == 0);
  CHECK(t.count_sent(Side::Remote, {"CHANGEDSINCE"}) == 0);
  CHECK(t.count_sent(Side::Remote, {"UID FETCH", "MODSEQ"}) == 0);
  CHECK(t.count_sent(Side::Remote, {"UID FETCH 1:", " (UID FLAGS)"}) > 0);
  const auto stores = t.sent_starting(Side::Remote, "UID STORE ");
  CHECK(!stores.empty());
  for (const auto& c : stores) {
    INFO(c);
    CHECK((c.find(" +FLAGS.SILENT ") != std::string::npos || c.find(" -FLAGS.SILENT ") != std::string::npos));
  }
}

TEST_CASE("SELECT without UIDNEXT (Courier): UIDNEXT from STATUS") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    if (line.rfind("* OK [UIDNEXT ", 0) == 0) return std::nullopt;
    return std::string(line);
  });
  converges(p);
}

TEST_CASE("a mailbox with UIDNOTSTICKY is refused with a clear error; the others sync") {
  // The remote's "Odd" mailbox says its UIDs are not persistent (RFC 4315 §3).
  auto remote = TestServer::embedded();
  auto odd = remote->embedded_server()->create_mailbox("alice", "Odd");
  REQUIRE(odd.has_value());
  std::string marker = "* OK [UIDVALIDITY " + std::to_string(odd->uidvalidity.value) + "]";
  auto local = TestServer::embedded();
  Faults f;
  f.rewrite_down = [marker](std::string_view line) -> std::optional<std::string> {
    if (line.rfind(marker, 0) != 0) return std::string(line);
    return std::string(line) + "\r\n* NO [UIDNOTSTICKY] Non-persistent UIDs";
  };
  FaultProxy proxy(remote->endpoint().port, f);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  o.endpoints[Side::Remote].port = proxy.port();
  DirectMail L(*local), R(*remote);
  R.add("Odd", "o1");
  R.add("INBOX", "i1");
  L.add("INBOX", "i2");
  auto r = run(o);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  INFO(describe(*r));
  bool refused = false;
  for (const auto& m : r->mailboxes) {
    if (m.name == "Odd") refused = m.error.find("UIDNOTSTICKY") != std::string::npos;
  }
  CHECK(refused);
  CHECK(L.ids("Odd").empty());
  CHECK(R.ids("Odd") == std::vector<std::string>{"o1"});
  CHECK(L.ids("INBOX") == std::vector<std::string>{"i1", "i2"});
  CHECK(R.ids("INBOX") == std::vector<std::string>{"i1", "i2"});
}

TEST_CASE("plain path: a FETCH line missing from the full flag read is no proof of an expunge") {
  // PROTOCOL.md §4.4: only the count check or a UID SEARCH proves an expunge. The proxy drops
  // the flag line of one message; a second message is really expunged, so the count check
  // fails and the candidates are confirmed by SEARCH: only the real one goes.
  auto local = TestServer::embedded();
  server::Options ro;
  ro.disabled = {"QRESYNC", "CONDSTORE"};
  auto remote = TestServer::embedded(ro);
  FaultProxy proxy(remote->endpoint().port);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  o.endpoints[Side::Remote].port = proxy.port();
  DirectMail L(*local), R(*remote);
  for (const char* id : {"m1", "m2", "m3", "m4"}) L.add("INBOX", id);
  run_ok(o);
  auto hidden = R.find("INBOX", "m2");
  REQUIRE(hidden);
  Faults f;
  std::string prefix = "FETCH (UID " + std::to_string(hidden->value) + " FLAGS (";
  f.rewrite_down = [prefix](std::string_view line) -> std::optional<std::string> {
    if (line.find(prefix) != std::string_view::npos && line.find("INTERNALDATE") == std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(line);
  };
  proxy.set_faults(f);
  auto r = run_ok(o);  // nothing changed: the count check says nothing vanished
  CHECK(total_expunged(r) == 0);
  CHECK(L.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m3", "m4"});
  R.expunge("INBOX", "m3");
  r = run_ok(o);
  INFO(describe(r));
  CHECK(total_expunged(r) == 1);
  CHECK(L.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m4"});
  CHECK(R.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m4"});
}

// ---- CONDSTORE-only path: the stored modseq (reader.hpp, issue 6) ----------------------------

namespace {

/// Drops the FETCH answers naming `uid` with FLAGS but no INTERNALDATE (the flag read, not a
/// new-message fetch) while `uid` is not 0: the change is announced in HIGHESTMODSEQ (SELECT,
/// STATUS) but cannot be fetched yet, as Gmail does (PROTOCOL.md §2).
Rewrite hide_flags_of(std::shared_ptr<std::atomic<std::uint32_t>> uid) {
  return [uid](std::string_view line) -> std::optional<std::string> {
    const std::string needle = " FETCH (UID " + std::to_string(uid->load()) + " FLAGS ";
    if (uid->load() != 0 && line.rfind("* ", 0) == 0 && line.find(needle) != std::string_view::npos &&
        line.find("INTERNALDATE") == std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(line);
  };
}

/// A flag change on the remote announced in HIGHESTMODSEQ but hidden from the flag read for
/// one run, then fetchable. `twice`: two new messages (MODSEQ below the flag change's) are
/// added too and read in windows of one, so that run reads the remote's new messages twice
/// and receives something, just not everything announced. The second window is read from the
/// mailbox still selected (nothing was written there): no second SELECT, no second flag
/// read, and the snapshot stored keeps the first read's received and announced values.
void announced_before_fetchable(bool twice) {
  auto hidden = std::make_shared<std::atomic<std::uint32_t>>(0);
  ProxiedPair p(hide_flags_of(hidden), {"QRESYNC"});
  for (const char* id : {"m1", "m2", "m3"}) p.R.add("INBOX", id);
  run_ok(p.options);
  REQUIRE(p.L.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m3"});
  CHECK_FALSE(run_ok(p.options).changed());

  hidden->store(p.R.find("INBOX", "m2")->value);
  if (twice) {
    p.R.add("INBOX", "m4");
    p.R.add("INBOX", "m5");
    p.options.new_per_pass = 1;
  }
  p.R.add_flag("INBOX", "m2", "\\Flagged");
  p.trace.clear();
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(total_copied(r) == (twice ? 2u : 0u));
  CHECK(p.trace.count_sent(Side::Remote, {"UID FETCH ", "(CHANGEDSINCE "}) == 1u);
  CHECK(p.selects(Side::Remote) == 1u);
  CHECK(p.L.flags("INBOX", "m2") == "");  // read, but not fetchable yet

  hidden->store(0);  // now fetchable
  r = run_ok(p.options);
  INFO(describe(r));
  CHECK(p.L.flags("INBOX", "m2") == "\\Flagged");
  p.trace.clear();
  CHECK_FALSE(run_ok(p.options).changed());
  CHECK(p.selects(Side::Local) == 0);
  CHECK(p.selects(Side::Remote) == 0);
}

}  // namespace

// Was a bug: when UID FETCH (CHANGEDSINCE m) returned nothing newer, the announced
// HIGHESTMODSEQ was stored, so a change announced before it was fetchable was never asked for
// again (the next run skipped the mailbox: STATUS equal to the stored value).
TEST_CASE("CONDSTORE only: a change announced before it is fetchable arrives on the next run") {
  announced_before_fetchable(false);
}

// Later windows of the same run must not take the announced value as final either.
TEST_CASE("CONDSTORE only: a change still unfetchable while the run reads further windows arrives on the next run") {
  announced_before_fetchable(true);
}

// The rule of reader.hpp for a second read by the same run (a confirming pass of a side the
// run wrote to), at the reader itself: a run cannot stage it against a hidden change without
// its own write raising MODSEQ above that change.
TEST_CASE("CONDSTORE only: a second read by the same run keeps the announced value pending") {
  auto hidden = std::make_shared<std::atomic<std::uint32_t>>(0);
  ProxiedPair p(hide_flags_of(hidden), {"QRESYNC"});
  for (const char* id : {"m1", "m2", "m3"}) p.R.add("INBOX", id);
  run_ok(p.options);
  auto mb = [&] {
    auto store = state::StateStore::open(p.options.state_path);
    REQUIRE(store);
    auto pairs = store->mailboxes();
    REQUIRE(pairs);
    REQUIRE(!pairs->empty());
    for (const auto& m : *pairs) {
      if (m.name[Side::Remote] == "INBOX") return m;
    }
    FAIL("no INBOX pair");
    return state::MailboxPair{};
  }();
  hidden->store(p.R.find("INBOX", "m2")->value);
  p.R.add("INBOX", "m4");  // received, MODSEQ below the hidden change's
  p.R.add_flag("INBOX", "m2", "\\Flagged");
  auto session = client::connect(p.options.endpoints[Side::Remote]);
  REQUIRE(session);
  client::Session& s = **session;
  client::Loop loop({&s});
  auto read = [&](const state::SideState& stored, bool same_run) {
    return read_delta(s, loop, Side::Remote, "INBOX", stored, [&](sync::DeltaReader& r) {
             if (same_run) r.stored_by_this_run();
           })
        .snapshot;
  };
  state::SideState stored = mb.side[Side::Remote];
  const sync::MailboxSnapshot first = read(stored, false);
  REQUIRE(first.announced.value > 0);  // m2's change announced, not received
  CHECK(first.highestmodseq < first.announced);
  stored.highestmodseq = first.highestmodseq;
  stored.announced_modseq = first.announced;
  // The same run reads again: nothing newer, same announced value, still pending.
  const sync::MailboxSnapshot again = read(stored, true);
  CHECK(again.highestmodseq == first.highestmodseq);
  CHECK(again.announced == first.announced);
  // A later run that sees the same announced value and receives nothing newer takes it.
  const sync::MailboxSnapshot later = read(stored, false);
  CHECK(later.highestmodseq == first.announced);
  CHECK(later.announced == ModSeq{});
}

TEST_CASE("CONDSTORE only: a mailbox with only expunges is skipped again after one more read") {
  ProxiedPair p(transparent(), {"QRESYNC"});
  for (const char* id : {"m1", "m2", "m3", "m4"}) p.R.add("INBOX", id);
  run_ok(p.options);
  CHECK_FALSE(run_ok(p.options).changed());
  p.R.expunge("INBOX", "m3");
  auto r = run_ok(p.options);
  CHECK(total_expunged(r) == 1);
  CHECK(p.L.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m4"});
  // HIGHESTMODSEQ moved by the expunge alone: nothing to fetch. One more read sees the same
  // announced value and receives nothing; from then on the mailbox is skipped (no SELECT).
  p.trace.clear();
  CHECK_FALSE(run_ok(p.options).changed());
  CHECK(p.selects(Side::Remote) == 1);
  CHECK(p.trace.count_sent(Side::Remote, {"UID FETCH ", "(CHANGEDSINCE "}) == 1);
  for (int i = 0; i < 2; ++i) {
    p.trace.clear();
    CHECK_FALSE(run_ok(p.options).changed());
    CHECK(p.selects(Side::Local) == 0);
    CHECK(p.selects(Side::Remote) == 0);
  }
}

// ---- CONDSTORE-only path: the expunge scan on the wire (reader.hpp) --------------------------

namespace {

/// Incremental runs on a CONDSTORE-only remote: a flag change alone sends no UID SEARCH (the
/// count check proves nothing vanished); an expunge sends `search` and nothing else of the kind.
void expunge_scan(const std::set<std::string>& remote_off, const std::string& search,
                  const std::string& not_sent) {
  ProxiedPair p(transparent(), remote_off);
  for (const char* id : {"m1", "m2", "m3", "m4", "m5"}) p.R.add("INBOX", id);
  run_ok(p.options);
  CHECK_FALSE(run_ok(p.options).changed());

  p.R.add_flag("INBOX", "m2", "\\Seen");
  p.trace.clear();
  auto r = run_ok(p.options);
  CHECK(total_flags(r) == 1);
  CHECK(p.trace.count_sent(Side::Remote, {"UID FETCH ", "(CHANGEDSINCE "}) >= 1);
  CHECK(p.trace.count_sent(Side::Remote, {"UID SEARCH"}) == 0);

  p.R.expunge("INBOX", "m4");
  p.trace.clear();
  r = run_ok(p.options);
  CHECK(total_expunged(r) == 1);
  CHECK(p.L.ids("INBOX") == std::vector<std::string>{"m1", "m2", "m3", "m5"});
  CHECK(p.trace.count_sent(Side::Remote, {search}) >= 1);
  CHECK(p.trace.count_sent(Side::Remote, {not_sent}) == 0);
}

}  // namespace

TEST_CASE("CONDSTORE only with ESEARCH: expunges found by UID SEARCH RETURN (ALL)") {
  expunge_scan({"QRESYNC"}, "UID SEARCH RETURN (ALL) UID ", "UID SEARCH UID ");
}

TEST_CASE("CONDSTORE only without ESEARCH: expunges found by a plain UID SEARCH UID") {
  expunge_scan({"QRESYNC", "ESEARCH"}, "UID SEARCH UID ", "UID SEARCH RETURN");
}
