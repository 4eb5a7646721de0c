// Whole syncs through a fault-injecting proxy (tests/support/fault_proxy.hpp), cut, stalled,
// delayed and truncated at many byte positions, against the embedded server and Dovecot.
// Every faulted run must end (success or a clear error) within its bound, and the next clean
// run must converge: both sides equal, every expected message exactly once with the expected
// flags, nothing lost, nothing duplicated, and a third run is a no-op.
//
// TWINBOX_FAULT_POINTS=N sets the number of cut points per direction (scripts/stress.sh; CI
// uses a few). TWINBOX_TEST_TRACE=1 prints protocol traces; TWINBOX_FAULT_ONLY_DOWN=K replays
// one remote cut after K server bytes.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <thread>

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

constexpr auto kSyncBound = std::chrono::seconds(60);

std::size_t points(std::size_t ci_default) {
  if (const char* e = std::getenv("TWINBOX_FAULT_POINTS")) {
    long v = std::strtol(e, nullptr, 10);
    if (v > 0) return static_cast<std::size_t>(v);
  }
  return ci_default;
}

/// One message the scenario expects at the end.
struct Expect {
  std::string mailbox;
  std::string id;
  std::size_t size;
  std::string flags;  ///< sorted, space-separated
};

/// The scenario: a first clean sync, then changes on both sides that make the faulted sync
/// copy (small and large bodies, both ways), store flags and expunge, in two mailboxes.
struct Scenario {
  static constexpr std::size_t kBig = 24000;

  static void setup(Account& L, Account& R) {
    const std::string date = "02-Mar-2026 10:00:00 +0100";
    for (int i = 0; i < 6; ++i) {
      std::vector<std::string> f;
      if (i == 4) f = {"\\Seen"};
      if (i == 5) f = {"$Label1"};
      L.append("INBOX", body_of("m" + std::to_string(i)), f, date);
    }
    L.create("Work");
    L.append("Work", body_of("w0"), {}, date);
    L.append("Work", body_of("w1"), {"\\Flagged"}, date);
    R.append("INBOX", body_of("r0"), {}, date);
    R.append("INBOX", body_of("r1", 3000), {"\\Answered"}, date);
  }

  static void change(Account& L, Account& R) {
    const std::string date = "03-Mar-2026 11:00:00 +0000";
    L.append("INBOX", body_of("nl0"), {"\\Draft"}, date);
    L.append("INBOX", body_of("nl1", 5000), {}, date);
    L.append("INBOX", body_of("big", kBig), {"\\Seen"}, date);
    L.store("INBOX", *L.find("INBOX", "m0"), StoreMode::Add, {"\\Flagged"});
    L.expunge("INBOX", {*L.find("INBOX", "m1")});
    R.append("INBOX", body_of("nr0", 8000), {"$Work"}, date);
    R.append("Work", body_of("nw0"), {}, date);
    R.store("INBOX", *R.find("INBOX", "m2"), StoreMode::Add, {"\\Seen"});
    R.expunge("INBOX", {*R.find("INBOX", "m3")});
    R.store("Work", *R.find("Work", "w0"), StoreMode::Add, {"\\Answered"});
  }

  static std::vector<Expect> expected() {
    return {
        {"INBOX", "m0", 300, "\\Flagged"}, {"INBOX", "m2", 300, "\\Seen"},
        {"INBOX", "m4", 300, "\\Seen"},    {"INBOX", "m5", 300, "$Label1"},
        {"INBOX", "r0", 300, ""},          {"INBOX", "r1", 3000, "\\Answered"},
        {"INBOX", "nl0", 300, "\\Draft"},  {"INBOX", "nl1", 5000, ""},
        {"INBOX", "big", kBig, "\\Seen"},  {"INBOX", "nr0", 8000, "$Work"},
        {"Work", "w0", 300, "\\Answered"}, {"Work", "w1", 300, "\\Flagged"},
        {"Work", "nw0", 300, ""},
    };
  }
};

/// Every expected message exactly once on `a`, with its flags, and nothing else in INBOX/Work.
void check_expected(Account& a, const char* side) {
  std::map<std::string, const Expect*> by_hash;
  auto exp = Scenario::expected();
  for (const auto& e : exp) by_hash[e.mailbox + " " + content_hash(body_of(e.id, e.size))] = &e;
  std::map<std::string, int> seen;
  for (const char* mb : {"INBOX", "Work"}) {
    for (const auto& m : a.messages(mb)) {
      auto it = by_hash.find(m.mailbox + " " + m.hash);
      CHECK_MESSAGE(it != by_hash.end(), side << ": unexpected message " << m.describe());
      if (it == by_hash.end()) continue;
      ++seen[it->first];
      CHECK_MESSAGE(m.flags == it->second->flags,
                    side << ": " << it->second->id << " has flags [" << m.flags << "], expected ["
                         << it->second->flags << "]");
    }
  }
  for (const auto& entry : by_hash) {  // no structured binding: clang 14 cannot capture one
    const auto& e = entry.second;
    CHECK_MESSAGE(seen[entry.first] == 1, side << ": " << e->mailbox << "/" << e->id << " is there "
                                               << seen[entry.first] << " times");
  }
}

/// run_sync with a hard bound: a hang aborts the test binary (a hang is the failure).
Result<sync::SyncReport> bounded_run(const sync::EngineOptions& o, std::string* log) {
  auto task = std::make_shared<std::packaged_task<Result<sync::SyncReport>()>>(
      [o, log] { return run(o, log); });
  auto fut = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (fut.wait_for(kSyncBound) != std::future_status::ready) {
    MESSAGE("sync through the fault proxy did not end within the bound: hang");
    std::fflush(nullptr);
    std::abort();
  }
  return fut.get();
}

/// Short timeouts for faulted runs: a stalled peer must turn into an error quickly.
void short_timeouts(sync::EngineOptions& o) {
  o.timeout = std::chrono::milliseconds(1500);
  for (Side s : kBothSides) {
    o.endpoints[s].connect_timeout = std::chrono::milliseconds(1500);
    o.endpoints[s].command_timeout = std::chrono::milliseconds(1500);
  }
}

/// The servers of one scenario run: fresh embedded servers, or a shared Dovecot pair wiped.
struct Backend {
  virtual ~Backend() = default;
  virtual TestServer& local() = 0;
  virtual TestServer& remote() = 0;
  virtual void reset() = 0;  ///< empty both accounts (fresh servers or expunge everything)
  virtual Account& L() = 0;
  virtual Account& R() = 0;
};

struct EmbeddedBackend : Backend {
  std::unique_ptr<TestServer> l, r;
  std::unique_ptr<Account> la, ra;
  TestServer& local() override { return *l; }
  TestServer& remote() override { return *r; }
  Account& L() override { return *la; }
  Account& R() override { return *ra; }
  void reset() override {
    la.reset();
    ra.reset();
    l = TestServer::embedded();
    r = TestServer::embedded();
    la = std::make_unique<Account>(*l);
    ra = std::make_unique<Account>(*r);
  }
};

struct DovecotBackend : Backend {
  std::unique_ptr<TestServer> l = TestServer::dovecot();
  std::unique_ptr<TestServer> r = TestServer::dovecot();
  Account la{*l};
  Account ra{*r};
  TestServer& local() override { return *l; }
  TestServer& remote() override { return *r; }
  Account& L() override { return la; }
  Account& R() override { return ra; }
  static void wipe(Account& a) {
    for (const auto& mb : a.mailboxes()) {
      std::vector<Uid> uids;
      for (const auto& m : a.messages(mb)) uids.push_back(m.uid);
      if (!uids.empty()) a.expunge(mb, uids);
    }
  }
  void reset() override {
    wipe(la);
    wipe(ra);
  }
};

enum class Where { Remote, Local };

struct FaultCase {
  Where where = Where::Remote;
  Faults faults;
  std::string name;
};

/// TWINBOX_TEST_TRACE=1: protocol traces of every run on stderr (debugging a failing case).
void maybe_trace(sync::EngineOptions& o) {
  if (!std::getenv("TWINBOX_TEST_TRACE")) return;
  for (Side s : kBothSides) {
    std::string tag = std::string(to_string(s)) + " ";
    o.endpoints[s].session.trace = [tag](std::string_view line) {
      std::fprintf(stderr, "%s%.*s\n", tag.c_str(), static_cast<int>(std::min<std::size_t>(line.size(), 300)), line.data());
    };
  }
}

/// One scenario with one fault; returns whether the fault fired.
bool run_case(Backend& b, const FaultCase& fc, TempDir& dir, int n, std::uint64_t* up = nullptr,
              std::uint64_t* down = nullptr) {
  INFO("fault case " << fc.name);
  b.reset();
  const std::string state = dir.file("state" + std::to_string(n) + ".db");
  auto clean = engine_options(b.local(), b.remote(), state);
  maybe_trace(clean);
  Scenario::setup(b.L(), b.R());
  run_ok(clean);
  Scenario::change(b.L(), b.R());

  Side side = fc.where == Where::Remote ? Side::Remote : Side::Local;
  FaultProxy proxy(side == Side::Remote ? b.remote().endpoint().port : b.local().endpoint().port,
                   fc.faults);
  auto faulted = clean;
  faulted.endpoints[side].port = proxy.port();
  short_timeouts(faulted);
  std::string log;
  auto t0 = std::chrono::steady_clock::now();
  if (std::getenv("TWINBOX_TEST_TRACE")) std::fprintf(stderr, "---- faulted run: %s\n", fc.name.c_str());
  auto r = bounded_run(faulted, &log);
  auto took = std::chrono::steady_clock::now() - t0;
  if (!r) {
    // A clear error: says what went wrong, on which side.
    CHECK_MESSAGE(r.error().message.size() > 10, "error message: '" << r.error().message << "'");
  } else if (!proxy.fault_fired()) {
    for (const auto& m : r->mailboxes) CHECK_MESSAGE(m.error.empty(), m.name << ": " << m.error);
  }
  CHECK_MESSAGE(took < std::chrono::seconds(20), "faulted sync took too long");
  if (up) *up = proxy.bytes_up();
  if (down) *down = proxy.bytes_down();

  // The next clean run converges and a further one is a no-op.
  std::string log2;
  if (std::getenv("TWINBOX_TEST_TRACE")) std::fprintf(stderr, "---- clean run\n");
  auto r2 = bounded_run(clean, &log2);
  REQUIRE_MESSAGE(r2.has_value(), "clean run after the fault failed: "
                                      << (r2 ? std::string() : r2.error().message)
                                      << "\nfaulted run log:\n" << log << "\nlog:\n" << log2);
  for (const auto& m : r2->mailboxes) {
    CHECK_MESSAGE(m.error.empty(), "clean run, mailbox " << m.name << ": " << m.error
                                                         << "\nfaulted run log:\n" << log);
  }
  CHECK(same_mail(b.L(), b.R()));
  check_expected(b.L(), "local");
  check_expected(b.R(), "remote");
  auto r3 = run_ok(clean);
  CHECK_MESSAGE(!r3.changed(), "third run not a no-op: " << describe(r3));
  return proxy.fault_fired();
}

/// Spread `count` positions over [1, total).
std::vector<std::uint64_t> spread(std::uint64_t total, std::size_t count) {
  std::vector<std::uint64_t> out;
  if (total < 2 || count == 0) return out;
  if (count == 1) return {total / 2};
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(1 + (total - 2) * i / std::max<std::size_t>(count - 1, 1));
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void sweep(Backend& b, std::size_t down_points, std::size_t up_points, std::size_t local_points) {
  TempDir dir;
  int n = 0;
  // Calibrate: the same scenario through a transparent proxy, counting bytes.
  std::uint64_t up = 0, down = 0, lup = 0, ldown = 0;
  CHECK_FALSE(run_case(b, {Where::Remote, {}, "transparent remote"}, dir, n++, &up, &down));
  CHECK_FALSE(run_case(b, {Where::Local, {}, "transparent local"}, dir, n++, &lup, &ldown));
  REQUIRE(down > 1000);
  REQUIRE(up > 1000);
  MESSAGE("faulted sync moves " << up << "/" << down << " bytes up/down on the remote, " << lup
                                << "/" << ldown << " on the local connection");
  int fired = 0;
  if (const char* only = std::getenv("TWINBOX_FAULT_ONLY_DOWN")) {  // replay one cut point
    FaultCase fc{Where::Remote, {}, std::string("remote drop after ") + only + " bytes down"};
    fc.faults.drop_down_after = std::strtoull(only, nullptr, 10);
    run_case(b, fc, dir, n++);
    return;
  }
  for (auto k : spread(down, down_points)) {
    FaultCase fc{Where::Remote, {}, "remote drop after " + std::to_string(k) + " bytes down"};
    fc.faults.drop_down_after = k;
    fired += run_case(b, fc, dir, n++);
  }
  for (auto k : spread(up, up_points)) {
    FaultCase fc{Where::Remote, {}, "remote drop after " + std::to_string(k) + " bytes up"};
    fc.faults.drop_up_after = k;
    fired += run_case(b, fc, dir, n++);
  }
  for (auto k : spread(ldown, local_points)) {
    FaultCase fc{Where::Local, {}, "local drop after " + std::to_string(k) + " bytes down"};
    fc.faults.drop_down_after = k;
    fired += run_case(b, fc, dir, n++);
  }
  for (auto k : spread(lup, local_points)) {
    FaultCase fc{Where::Local, {}, "local drop after " + std::to_string(k) + " bytes up"};
    fc.faults.drop_up_after = k;
    fired += run_case(b, fc, dir, n++);
  }
  CHECK(fired > 0);
}

}  // namespace

TEST_CASE("embedded server: syncs cut at many byte positions converge on the next run") {
  EmbeddedBackend b;
  sweep(b, points(6), points(3), points(2));
}

TEST_CASE("embedded server: truncated literals, stalls and delays") {
  EmbeddedBackend b;
  TempDir dir;
  int n = 0;
  for (std::uint32_t lit = 1; lit <= 2; ++lit) {
    for (Where w : {Where::Remote, Where::Local}) {
      FaultCase fc{w, {}, "truncate literal " + std::to_string(lit)};
      fc.faults.truncate_literal = lit;
      run_case(b, fc, dir, n++);
    }
  }
  // A peer that stops answering (mid-sync, either direction) becomes a timeout, not a hang.
  std::uint64_t up = 0, down = 0;
  run_case(b, {Where::Remote, {}, "calibrate"}, dir, n++, &up, &down);
  for (std::uint64_t k : {down / 3, down * 2 / 3}) {
    FaultCase fc{Where::Remote, {}, "stall down after " + std::to_string(k)};
    fc.faults.stall_down_after = k;
    CHECK(run_case(b, fc, dir, n++));
  }
  {
    FaultCase fc{Where::Local, {}, "stall local up after 400 bytes"};
    fc.faults.stall_up_after = 400;
    CHECK(run_case(b, fc, dir, n++));
  }
  // A slow link is not an error.
  FaultCase slow{Where::Remote, {}, "delay 3 ms per chunk"};
  slow.faults.delay = std::chrono::milliseconds(3);
  CHECK_FALSE(run_case(b, slow, dir, n++));
}

TEST_CASE("dovecot: syncs cut at many byte positions converge on the next run") {
  DovecotBackend b;
  sweep(b, points(3), points(2), points(1));
}
