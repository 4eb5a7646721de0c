// Differential test of the three delta-reader paths (issue 6): the same seeded random history
// (appends, flag changes, expunges, moves, on both sides, conflicts included) is replayed in
// lockstep on pairs of embedded servers that differ only in the path the reader must take:
// QRESYNC, CONDSTORE only, plain, and a mixed pair (QRESYNC local, plain remote). After every
// round each pair is synced; both sides of each pair must hold the same mail, and every pair
// must hold exactly what the QRESYNC pair holds.
// TWINBOX_TEST_SEED=<n> replays a run; the seed is printed with every failure.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <sstream>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

constexpr int kRounds = 12;
const std::vector<std::string> kBoxes{"INBOX", "Archive", "Trash"};
const char* const kFlags[] = {"\\Seen", "\\Flagged", "\\Answered", "$K0"};

std::uint64_t pick_seed() {
  if (const char* s = std::getenv("TWINBOX_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

struct Setup {
  std::string name;
  std::unique_ptr<TestServer> local, remote;
  TempDir dir;
  sync::EngineOptions options;
  std::unique_ptr<DirectMail> L, R;

  Setup(std::string n, const std::set<std::string>& local_off, const std::set<std::string>& remote_off)
      : name(std::move(n)) {
    server::Options lo, ro;
    lo.disabled = local_off;
    ro.disabled = remote_off;
    local = TestServer::embedded(lo);
    remote = TestServer::embedded(ro);
    options = engine_options(*local, *remote, dir.file("state.db"));
    options.policy.allow_mass_delete = true;  // small mailboxes: the guard is tested elsewhere
    L = std::make_unique<DirectMail>(*local);
    R = std::make_unique<DirectMail>(*remote);
  }
  DirectMail& side(bool remote_side) { return remote_side ? *R : *L; }
};

/// "mailbox id flags" per message of one side, sorted.
std::vector<std::string> view(DirectMail& m) {
  std::vector<std::string> out;
  for (const auto& box : kBoxes) {
    for (const auto& id : m.ids(box)) out.push_back(box + " " + id + " [" + m.flags(box, id) + "]");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::ostringstream os;
  for (const auto& x : v) os << "  " << x << "\n";
  return os.str();
}

/// One random operation, chosen on the reference setup and applied to every setup.
class History {
 public:
  History(std::mt19937_64& rng, std::vector<std::unique_ptr<Setup>>& setups) : rng_(rng), setups_(setups) {}

  std::string act(bool remote_side) {
    DirectMail& ref = setups_.front()->side(remote_side);
    const std::string& box = kBoxes[pick(kBoxes.size())];
    auto ids = ref.ids(box);
    int op = static_cast<int>(pick(6));
    if (ids.empty() || op == 0) {
      std::string id = (remote_side ? "r" : "l") + std::to_string(serial_++);
      std::vector<std::string> flags;
      if (pick(2)) flags.push_back("\\Seen");
      if (pick(3) == 0) flags.push_back("$K0");
      auto date = static_cast<std::int64_t>(1777000000 + pick(100000));
      for (auto& s : setups_) s->side(remote_side).add(box, id, flags, date, 200 + pick(2000));
      return "append " + id + " to " + box;
    }
    const std::string id = ids[pick(ids.size())];
    const std::string flag = kFlags[pick(4)];
    switch (op) {
      case 1:
      case 2:
        for (auto& s : setups_) s->side(remote_side).add_flag(box, id, flag);
        return "+" + flag + " on " + box + " " + id;
      case 3:
        for (auto& s : setups_) s->side(remote_side).remove_flag(box, id, flag);
        return "-" + flag + " on " + box + " " + id;
      case 4:
        for (auto& s : setups_) s->side(remote_side).expunge(box, id);
        return "expunge " + box + " " + id;
      default: {
        const std::string& to = kBoxes[pick(kBoxes.size())];
        if (to == box) return "nothing";
        for (auto& s : setups_) s->side(remote_side).move(box, id, to);
        return "move " + box + " " + id + " to " + to;
      }
    }
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  std::mt19937_64& rng_;
  std::vector<std::unique_ptr<Setup>>& setups_;
  int serial_ = 0;
};

}  // namespace

TEST_CASE("the same random history gives the same end state on the QRESYNC, CONDSTORE and plain paths") {
  const std::uint64_t seed = pick_seed();
  INFO("seed " << seed << " (replay with TWINBOX_TEST_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const std::set<std::string> condstore{"QRESYNC"}, plain{"QRESYNC", "CONDSTORE"};
  std::vector<std::unique_ptr<Setup>> setups;
  setups.push_back(std::make_unique<Setup>("QRESYNC", std::set<std::string>{}, std::set<std::string>{}));
  setups.push_back(std::make_unique<Setup>("CONDSTORE", condstore, condstore));
  setups.push_back(std::make_unique<Setup>("plain", plain, plain));
  setups.push_back(std::make_unique<Setup>("QRESYNC/plain", std::set<std::string>{}, plain));
  for (auto& s : setups) {
    for (DirectMail* m : {s->L.get(), s->R.get()}) {
      m->create("Archive");
      m->create("Trash");
    }
  }
  History h(rng, setups);
  std::string history;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int nl = static_cast<int>(rng() % 4), nr = static_cast<int>(rng() % 4);
    if (round == 0) nl += 4;
    for (int i = 0; i < nl; ++i) history += "L " + h.act(false) + "\n";
    for (int i = 0; i < nr; ++i) history += "R " + h.act(true) + "\n";
    history += "-- sync " + std::to_string(round) + "\n";
    INFO("history:\n" << history);
    std::vector<std::string> reference;
    for (auto& sp : setups) {
      Setup& s = *sp;
      CAPTURE(s.name);
      auto r = run_ok(s.options);
      INFO(describe(r));
      auto l = view(*s.L), rv = view(*s.R);
      REQUIRE_MESSAGE(l == rv, s.name << ": sides differ\nlocal:\n" << join(l) << "remote:\n" << join(rv));
      if (reference.empty()) reference = l;
      REQUIRE_MESSAGE(l == reference, s.name << " differs from QRESYNC\n" << s.name << ":\n"
                                             << join(l) << "QRESYNC:\n" << join(reference));
    }
  }
  for (auto& sp : setups) {
    Setup& s = *sp;
    CAPTURE(s.name);
    Account la(*s.local), ra(*s.remote);
    CHECK(same_mail(la, ra));  // bytes and INTERNALDATE too
    auto last = run_ok(s.options);
    CHECK_MESSAGE(!last.changed(), describe(last));
  }
}
