// Hostile or inconsistent server answers at the sync level: two embedded servers, with the
// remote one seen through a rewriting proxy (tests/support/fault_proxy.hpp) that alters its
// answers, or driven into states a sane server should never show. Nothing may be deleted
// that the engine cannot prove was deleted; a following clean run must converge.
#include <doctest/doctest.h>

#include <memory>
#include <regex>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

/// Test message bodies. WORKAROUND: they end without CRLF because the embedded server strips
/// every trailing CR/LF of a framed command, including a final literal's own CRLF
/// (src/server/session.cpp, CommandFramer::State::Complete), so an APPEND of a message ending
/// in CRLF fails with "literal is longer than the data sent". Drop the suffix once fixed.
std::string body_of(const std::string& id, std::size_t size = 300) {
  return make_message(id, size) + "-- " + id;
}

const std::string kDate = "02-Mar-2026 10:00:00 +0100";

struct Pair : SyncPair {
  Pair() : SyncPair(TestServer::embedded(), TestServer::embedded()) {}

  /// The options with the remote endpoint behind `proxy`.
  sync::EngineOptions via(const FaultProxy& proxy) const {
    auto o = options;
    o.endpoints[Side::Remote].port = proxy.port();
    o.timeout = std::chrono::seconds(5);
    o.endpoints[Side::Remote].command_timeout = std::chrono::seconds(5);
    return o;
  }
  void seed(Account& a, const std::string& mailbox, const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) a.append(mailbox, body_of(prefix + std::to_string(i)), {}, kDate);
  }
};

Faults rewrite(std::function<std::optional<std::string>(std::string_view)> f) {
  Faults x;
  x.rewrite_down = std::move(f);
  return x;
}

bool is_select_ok(std::string_view line) {
  return line.find(" OK [READ-WRITE]") != std::string_view::npos && line.substr(0, 2) != "* ";
}

std::size_t count_in(Account& a, const std::string& mailbox) { return a.messages(mailbox).size(); }

/// Runs through the proxy; the run may fail, but must end. Returns the report when it ran.
std::optional<sync::SyncReport> hostile_run(const sync::EngineOptions& o, std::string* log) {
  auto r = run(o, log);
  if (!r) {
    MESSAGE("hostile run ended with: " << r.error().message);
    CHECK(!r.error().message.empty());
    return std::nullopt;
  }
  return std::move(*r);
}

}  // namespace

TEST_CASE("VANISHED naming UIDs never seen expunges nothing") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 4);
  run_ok(p.options);
  p.R.append("INBOX", body_of("new-remote"), {}, kDate);  // makes INBOX worth a SELECT
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([](std::string_view line) -> std::optional<std::string> {
                     if (!is_select_ok(line)) return std::string(line);
                     return "* VANISHED (EARLIER) 100:200,5000,4000000000\r\n" + std::string(line);
                   }));
  std::string log;
  auto r = hostile_run(p.via(proxy), &log);
  REQUIRE(r);
  INFO(log);
  CHECK(total_expunged(*r) == 0);
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.L, "INBOX") == 5);
}

TEST_CASE("a server claiming every message vanished trips the deletion guard") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 12);
  run_ok(p.options);
  p.R.append("INBOX", body_of("new-remote"), {}, kDate);
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([](std::string_view line) -> std::optional<std::string> {
                     if (!is_select_ok(line)) return std::string(line);
                     return "* VANISHED (EARLIER) 1:1000\r\n" + std::string(line);
                   }));
  std::string log;
  auto r = hostile_run(p.via(proxy), &log);
  REQUIRE(r);
  INFO(log << describe(*r));
  CHECK(r->total[Side::Local].expunged == 0);
  CHECK(r->partial());
  CHECK(count_in(p.L, "INBOX") == 12);
  // The lie is gone on the next run: nothing lost, the new message arrives.
  run_ok(p.options);
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.L, "INBOX") == 13);
}

TEST_CASE("a mailbox emptied on the server trips the deletion guard") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 12);
  run_ok(p.options);
  std::vector<Uid> all;
  for (const auto& m : p.R.messages("INBOX")) all.push_back(m.uid);
  p.R.expunge("INBOX", all);
  std::string log;
  auto r = run(p.options, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  INFO(log << describe(*r));
  CHECK(r->total[Side::Local].expunged == 0);
  CHECK(count_in(p.L, "INBOX") == 12);
  bool named = false;
  for (const auto& m : r->mailboxes) {
    if (m.error.find("mass-delete") != std::string::npos) named = true;
  }
  CHECK_MESSAGE(named, "the stopped mailbox should name --allow-mass-delete");
  // Still stopped on the next run (the guard does not forget).
  auto r2 = run(p.options, &log);
  REQUIRE(r2.has_value());
  CHECK(count_in(p.L, "INBOX") == 12);
}

TEST_CASE("an APPENDUID with the wrong UIDVALIDITY is not recorded as a pair") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 2);
  run_ok(p.options);
  p.seed(p.L, "INBOX", "n", 3);
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([](std::string_view line) -> std::optional<std::string> {
                     static const std::regex re(R"(\[APPENDUID \d+ )");
                     return std::regex_replace(std::string(line), re, "[APPENDUID 424242 ");
                   }));
  std::string log;
  auto r = hostile_run(p.via(proxy), &log);
  INFO(log);
  // Whatever the hostile run did, the next clean runs converge with nothing duplicated.
  run_ok(p.options);
  run_ok(p.options);
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.R, "INBOX") == 5);
  for (int i = 0; i < 3; ++i) CHECK(p.R.find("INBOX", "n" + std::to_string(i)).has_value());
}

// Was a bug (found by `hardening`): when the remote's HIGHESTMODSEQ (SELECT, STATUS,
// LIST-STATUS) went backwards for one run, a flag change made on the local side in that run was
// lost for good. Now a HIGHESTMODSEQ below the stored one voids the stored modseq of that side
// (full flag read, no compare-and-set with the bad value; src/sync/reader.cpp).
TEST_CASE("HIGHESTMODSEQ going backwards loses no flag change") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 4);
  run_ok(p.options);
  p.R.store("INBOX", *p.R.find("INBOX", "m1"), StoreMode::Add, {"\\Flagged"});
  p.L.store("INBOX", *p.L.find("INBOX", "m2"), StoreMode::Add, {"\\Seen"});
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([](std::string_view line) -> std::optional<std::string> {
                     static const std::regex re(R"(HIGHESTMODSEQ \d+)");
                     return std::regex_replace(std::string(line), re, "HIGHESTMODSEQ 1");
                   }));
  std::string log;
  (void)hostile_run(p.via(proxy), &log);
  INFO(log);
  p.R.store("INBOX", *p.R.find("INBOX", "m3"), StoreMode::Add, {"$Later"});
  run_ok(p.options);
  CHECK(same_mail(p.L, p.R));
  auto flags = [&](Account& a, const std::string& id) {
    auto u = a.find("INBOX", id);
    for (const auto& m : a.messages("INBOX")) {
      if (u && m.uid == *u) return m.flags;
    }
    return std::string("?");
  };
  CHECK(flags(p.L, "m1") == "\\Flagged");
  CHECK(flags(p.R, "m2") == "\\Seen");
  CHECK(flags(p.L, "m3") == "$Later");
  auto r = run_ok(p.options);
  CHECK(!r.changed());
}

TEST_CASE("a server refusing the open-ended new-message fetch is read the bounded way") {
  // The QRESYNC reader sends UID FETCH <stored UIDNEXT>:4294967295 with its SELECT (issue 8).
  // A server answering it BAD must not stop the mailbox: the reader falls back to the fetch
  // bounded by the SELECT's UIDNEXT.
  Pair p;
  p.seed(p.L, "INBOX", "m", 3);
  run_ok(p.options);
  p.R.append("INBOX", body_of("r0"), {}, kDate);
  p.L.append("INBOX", body_of("l0"), {}, kDate);
  int refused = 0;
  bool after_select = false;
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([&](std::string_view line) -> std::optional<std::string> {
                     std::string l(line);
                     // Tagged answers only (not untagged lines, nor the rest of a FETCH line
                     // after a literal).
                     static const std::regex tagged(R"(^a\d+ )");
                     if (!std::regex_search(l, tagged)) return l;
                     if (l.find(" OK [READ-WRITE] Select completed") != std::string::npos) {
                       after_select = true;
                       return l;
                     }
                     if (!after_select) return l;
                     after_select = false;  // the next tagged answer: the speculative fetch's
                     ++refused;
                     return l.substr(0, l.find(' ')) + " BAD range refused";
                   }));
  std::string log;
  auto r = hostile_run(p.via(proxy), &log);
  INFO(log);
  REQUIRE(r);
  CHECK(refused >= 1);
  CHECK(total_copied(*r) == 2);
  for (const auto& m : r->mailboxes) CHECK_MESSAGE(m.error.empty(), m.name << ": " << m.error);
  CHECK(same_mail(p.L, p.R));
  CHECK_FALSE(run_ok(p.options).changed());
}

TEST_CASE("a FETCH for a UID outside the range asked changes nothing") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 3);
  run_ok(p.options);
  p.R.append("INBOX", body_of("r0"), {}, kDate);
  p.L.store("INBOX", *p.L.find("INBOX", "m0"), StoreMode::Add, {"\\Seen"});
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([](std::string_view line) -> std::optional<std::string> {
                     if (line.find(" OK UID FETCH completed") == std::string_view::npos) {
                       return std::string(line);
                     }
                     return "* 1 FETCH (UID 4000000000 FLAGS (\\Deleted) MODSEQ (1))\r\n"
                            "* 2 FETCH (UID 2 FLAGS (\\Deleted \\Answered) MODSEQ (1))\r\n" +
                            std::string(line);
                   }));
  std::string log;
  auto r = hostile_run(p.via(proxy), &log);
  INFO(log);
  if (r) CHECK(total_expunged(*r) == 0);
  run_ok(p.options);
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.L, "INBOX") == 4);
  CHECK(count_in(p.R, "INBOX") == 4);
}

TEST_CASE("a BYE in the middle of a sync ends it with an error; the next run converges") {
  Pair p;
  p.seed(p.L, "INBOX", "m", 3);
  run_ok(p.options);
  p.seed(p.L, "INBOX", "n", 3);
  p.R.store("INBOX", *p.R.find("INBOX", "m0"), StoreMode::Add, {"\\Seen"});
  auto fired = std::make_shared<bool>(false);
  FaultProxy proxy(p.remote->endpoint().port,
                   rewrite([fired](std::string_view line) -> std::optional<std::string> {
                     if (*fired || line.find(" FETCH (") == std::string_view::npos) {
                       return std::string(line);
                     }
                     *fired = true;
                     return std::string("* BYE hostile server going away");
                   }));
  std::string log;
  auto t0 = std::chrono::steady_clock::now();
  auto r = hostile_run(p.via(proxy), &log);
  INFO(log);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(*fired);
  if (r) CHECK(r->partial());
  run_ok(p.options);
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.R, "INBOX") == 6);
}

TEST_CASE("UIDNEXT going backwards (mailbox recreated, same UIDVALIDITY) deletes nothing") {
  server::Options so;
  so.test.uidvalidity["Lists"] = 7;
  auto a = TestServer::embedded(so);
  auto local = TestServer::embedded();
  TempDir dir;
  auto opts = engine_options(*local, *a, dir.file("state.db"));
  Account L(*local);
  {
    Account A(*a);
    for (int i = 0; i < 5; ++i) A.append("Lists", body_of("old" + std::to_string(i)), {}, kDate);
  }
  run_ok(opts);
  REQUIRE(L.messages("Lists").size() == 5);
  // The remote "loses" the mailbox and gets it back with the same UIDVALIDITY and fewer
  // messages: its UIDNEXT (3) is below the stored one (6).
  auto b = TestServer::embedded(so);
  Account B(*b);
  for (int i = 0; i < 2; ++i) B.append("Lists", body_of("new" + std::to_string(i)), {}, kDate);
  REQUIRE(B.status("Lists").uid_validity == std::optional<UidValidity>(UidValidity(7)));
  auto opts2 = engine_options(*local, *b, dir.file("state.db"));
  std::string log;
  auto r = run(opts2, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
  INFO(log << describe(*r));
  CHECK(r->total[Side::Local].expunged == 0);
  CHECK(L.messages("Lists").size() == 7);
  CHECK(same_mail(L, B));
}

TEST_CASE("UIDs renumbered without a UIDVALIDITY change: content intact on both sides") {
  Pair p;
  std::vector<std::string> flags[4] = {{}, {"\\Seen"}, {"$Work"}, {"\\Flagged", "\\Seen"}};
  for (int i = 0; i < 4; ++i) p.R.append("INBOX", body_of("k" + std::to_string(i)), flags[i], kDate);
  run_ok(p.options);
  auto uv = p.R.status("INBOX").uid_validity;
  // Same messages, same flags and dates, new UIDs; UIDVALIDITY unchanged.
  std::vector<Uid> old;
  for (const auto& m : p.R.messages("INBOX")) old.push_back(m.uid);
  p.R.expunge("INBOX", old);
  for (int i = 0; i < 4; ++i) p.R.append("INBOX", body_of("k" + std::to_string(i)), flags[i], kDate);
  REQUIRE(p.R.status("INBOX").uid_validity == uv);
  std::string log;
  auto r = run(p.options, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  INFO(log << describe(*r));
  CHECK(same_mail(p.L, p.R));
  CHECK(count_in(p.L, "INBOX") == 4);
  MESSAGE("renumbering: expunged on local " << r->total[Side::Local].expunged << ", copied to local "
                                            << r->total[Side::Local].copied);
}

// UIDs renumbered without a UIDVALIDITY change (issue 10): the vanished pairs are matched by
// content against the new messages of the same mailbox before anything is expunged
// (reconcile.hpp rule 10), so nothing is deleted and copied again, and 12 messages (above
// the deletion guard's minimum of 10) do not trip the guard.
TEST_CASE("UIDs renumbered without a UIDVALIDITY change are re-paired, not expunged") {
  // Also with new-message windows smaller than the renumbered mailbox and 5 really new
  // messages beside it (issue 8): a side that may have lost messages is read whole.
  for (const std::uint32_t per_pass : {4096u, 3u}) {
    CAPTURE(per_pass);
    const int extra = per_pass < 10 ? 5 : 0;
    Pair p;
    p.options.new_per_pass = per_pass;
    const std::vector<std::string> flags[3] = {{}, {"\\Seen"}, {"$Work"}};
    constexpr int kCount = 12;
    for (int i = 0; i < kCount; ++i) {
      p.R.append("INBOX", body_of("k" + std::to_string(i)), flags[i % 3], kDate);
    }
    run_ok(p.options);
    auto uv = p.R.status("INBOX").uid_validity;
    std::vector<Uid> old;
    for (const auto& m : p.R.messages("INBOX"))
      old.push_back(m.uid);
    p.R.expunge("INBOX", old);
    for (int i = 0; i < kCount; ++i) {
      p.R.append("INBOX", body_of("k" + std::to_string(i)), flags[i % 3], kDate);
    }
    for (int i = 0; i < extra; ++i) p.R.append("INBOX", body_of("x" + std::to_string(i)), {}, kDate);
    REQUIRE(p.R.status("INBOX").uid_validity == uv);
    // Meanwhile a flag change on the local side: it must reach the renumbered twin.
    auto local = p.L.messages("INBOX");
    REQUIRE(local.size() == static_cast<std::size_t>(kCount));
    p.L.store("INBOX", local[0].uid, StoreMode::Add, {"\\Flagged"});
    std::string log;
    auto r = run(p.options, &log);
    REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
    INFO(log << describe(*r));
    CHECK_FALSE(r->partial());
    for (Side s : kBothSides) CHECK(r->total[s].expunged == 0);
    CHECK(r->total[Side::Local].copied == static_cast<std::uint64_t>(extra));
    CHECK(r->total[Side::Remote].copied == 0);
    CHECK(count_in(p.L, "INBOX") == static_cast<std::size_t>(kCount + extra));
    CHECK(count_in(p.R, "INBOX") == static_cast<std::size_t>(kCount + extra));
    CHECK(same_mail(p.L, p.R));
    // Converged: the next run changes nothing.
    auto again = run_ok(p.options);
    CHECK_FALSE(again.changed());
  }
}

namespace {

/// A look-alike: Message-ID, size and (with kDate) INTERNALDATE shared by every variant; only
/// the body's variant number differs (same length for every variant below 100).
std::string look_alike(int variant) {
  const std::string v = (variant < 10 ? "0" : "") + std::to_string(variant);
  return "From: Alice <alice@twinbox.test>\r\nSubject: weekly report\r\n"
         "Message-ID: <twin@twinbox.test>\r\n\r\nThis is variant " + v + " of the report.";
}

}  // namespace

// Issue 5: twelve messages with one Message-ID, size and INTERNALDATE but different bodies,
// renumbered without a UIDVALIDITY change. Without body hashes rule 10 cannot tell them apart
// and would expunge + copy all twelve (tripping the deletion guard); the engine fetches the
// bodies of exactly that group and re-pairs by hash.
TEST_CASE("Renumbered look-alikes (same Message-ID, size, date) are re-paired by body hash") {
  Pair p;
  constexpr int kCount = 12;
  for (int i = 0; i < kCount; ++i) p.R.append("INBOX", look_alike(i), {}, kDate);
  run_ok(p.options);
  REQUIRE(count_in(p.L, "INBOX") == static_cast<std::size_t>(kCount));
  auto uv = p.R.status("INBOX").uid_validity;
  std::vector<Uid> old;
  for (const auto& m : p.R.messages("INBOX")) old.push_back(m.uid);
  p.R.expunge("INBOX", old);
  // Re-appended in reverse order, one flagged: only the body says which pair each one is.
  for (int i = kCount - 1; i >= 0; --i) {
    p.R.append("INBOX", look_alike(i), i == 7 ? std::vector<std::string>{"$Seven"} : std::vector<std::string>{}, kDate);
  }
  REQUIRE(p.R.status("INBOX").uid_validity == uv);
  std::string log;
  auto r = run(p.options, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
  INFO(log << describe(*r));
  CHECK_FALSE(r->partial());
  for (Side s : kBothSides) {
    CHECK(r->total[s].expunged == 0);
    CHECK(r->total[s].copied == 0);
  }
  CHECK(r->total[Side::Local].flags == 1);  // $Seven reached variant 7's twin, and only it
  CHECK(count_in(p.L, "INBOX") == static_cast<std::size_t>(kCount));
  CHECK(same_mail(p.L, p.R));
  CHECK_FALSE(run_ok(p.options).changed());
}

// Issue 5, first sync of two non-empty accounts: three look-alikes on each side, two of them
// byte-identical across the sides (appended in another order on each). The two are paired by
// body hash, each side's third is copied to the other; a second run changes nothing.
TEST_CASE("First sync pairs byte-identical look-alikes by hash and copies the rest") {
  Pair p;
  for (int v : {1, 2, 3}) p.L.append("INBOX", look_alike(v), {}, kDate);
  for (int v : {4, 2, 1}) p.R.append("INBOX", look_alike(v), {}, kDate);
  std::string log;
  auto r = run(p.options, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
  INFO(log << describe(*r));
  CHECK_FALSE(r->partial());
  CHECK(r->total[Side::Local].copied == 1);
  CHECK(r->total[Side::Remote].copied == 1);
  CHECK(count_in(p.L, "INBOX") == 4);
  CHECK(count_in(p.R, "INBOX") == 4);
  CHECK(same_mail(p.L, p.R));
  CHECK_FALSE(run_ok(p.options).changed());
  CHECK(count_in(p.L, "INBOX") == 4);
  CHECK(count_in(p.R, "INBOX") == 4);
}
