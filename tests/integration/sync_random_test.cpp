// A seeded randomized whole-sync test: rounds of random operations on both Dovecot accounts
// (append, flag, keyword, expunge, move, create) with a sync after each round; after every
// sync both sides must hold the same messages (content hash, flags, INTERNALDATE, mailbox).
// TWINBOX_TEST_SEED=<n> replays a run; the seed is printed with every failure.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

constexpr int kRounds = 25;

std::uint64_t pick_seed() {
  if (const char* s = std::getenv("TWINBOX_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

class Actor {
 public:
  Actor(Account& a, std::mt19937_64& rng, std::string name)
      : a_(a), rng_(rng), name_(std::move(name)) {}

  /// One random operation; returns what it did (for the failure message).
  std::string act(std::vector<std::string>& mailboxes, int& serial) {
    const std::string& mb = mailboxes[pick(mailboxes.size())];
    auto msgs = a_.messages(mb);
    int op = static_cast<int>(pick(7));
    if (msgs.empty() || op == 0) {
      std::string id = name_ + std::to_string(serial++);
      std::vector<std::string> flags;
      if (pick(2)) flags.push_back("\\Seen");
      if (pick(3) == 0) flags.push_back("$K" + std::to_string(pick(3)));
      a_.append(mb, make_message(id, 200 + pick(3000)), flags,
                std::to_string(10 + pick(18)) + "-May-2026 12:00:00 +0000");
      return "append " + id + " to " + mb;
    }
    const MessageView& m = msgs[pick(msgs.size())];
    static const char* kFlags[] = {"\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$K0", "$K1"};
    std::string flag = kFlags[pick(6)];
    switch (op) {
      case 1:
      case 2:
        a_.store(mb, m.uid, StoreMode::Add, {flag});
        return "+" + flag + " on " + mb + ":" + std::to_string(m.uid.value);
      case 3:
        a_.store(mb, m.uid, StoreMode::Remove, {flag});
        return "-" + flag + " on " + mb + ":" + std::to_string(m.uid.value);
      case 4:
        a_.expunge(mb, {m.uid});
        return "expunge " + mb + ":" + std::to_string(m.uid.value);
      case 5: {
        const std::string& to = mailboxes[pick(mailboxes.size())];
        if (to == mb) return "nothing";
        a_.move(mb, m.uid, to);
        return "move " + mb + ":" + std::to_string(m.uid.value) + " to " + to;
      }
      default: {
        if (mailboxes.size() >= 6) return "nothing";
        std::string box = "Box" + name_ + std::to_string(serial++);
        a_.create(box);
        mailboxes.push_back(box);
        return "create " + box;
      }
    }
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  Account& a_;
  std::mt19937_64& rng_;
  std::string name_;
};

}  // namespace

TEST_CASE("random operations on both sides, synced and compared every round") {
  const std::uint64_t seed = pick_seed();
  INFO("seed " << seed << " (replay with TWINBOX_TEST_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  auto local = TestServer::dovecot();
  auto remote = TestServer::dovecot();
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  options.policy.allow_mass_delete = true;  // small mailboxes: the guard is tested elsewhere
  // Windows of 1-3 new messages (issue 8): a round's appends to one side only are read and
  // copied a window per pass.
  options.new_per_pass = 1 + static_cast<std::uint32_t>(seed % 3);
  INFO("new_per_pass " << options.new_per_pass);
  Account L(*local);
  Account R(*remote);
  std::vector<std::string> lboxes{"INBOX", "Archive", "Trash"};
  std::vector<std::string> rboxes = lboxes;
  Actor la(L, rng, "l");
  Actor ra(R, rng, "r");
  int serial = 0;
  std::string history;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int nl = static_cast<int>(rng() % 4), nr = static_cast<int>(rng() % 4);
    for (int i = 0; i < nl; ++i) history += "L " + la.act(lboxes, serial) + "\n";
    for (int i = 0; i < nr; ++i) history += "R " + ra.act(rboxes, serial) + "\n";
    history += "-- sync " + std::to_string(round) + "\n";
    auto r = run_ok(options);
    INFO("history:\n" << history << describe(r));
    REQUIRE(same_mail(L, R));
    // Mailboxes created on one side exist on both after the sync.
    lboxes = L.mailboxes();
    rboxes = R.mailboxes();
    REQUIRE(lboxes == rboxes);
  }
  auto last = run_ok(options);
  CHECK_MESSAGE(!last.changed(), describe(last));
}
