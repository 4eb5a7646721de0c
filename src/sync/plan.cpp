#include <twinbox/sync/plan.hpp>

#include <algorithm>
#include <sstream>
#include <tuple>

namespace twinbox::sync {
namespace {

struct SortKey {
  std::size_t kind;
  Side side;
  Uid uid;
};

Side pair_side(const PerSide<Uid>& uid) {
  return uid[Side::Local].valid() ? Side::Local : Side::Remote;
}

SortKey key_of(const Action& a) {
  const std::size_t kind = a.index();
  return std::visit(
      [kind](const auto& x) -> SortKey {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Copy>) {
          return {kind, x.from, x.uid};
        } else if constexpr (std::is_same_v<T, StoreFlags> || std::is_same_v<T, Expunge>) {
          return {kind, x.side, x.uid};
        } else if constexpr (std::is_same_v<T, RecordPair> || std::is_same_v<T, UpdateBase> ||
                             std::is_same_v<T, ForgetPair>) {
          Side s = pair_side(x.uid);
          return {kind, s, x.uid[s]};
        } else if constexpr (std::is_same_v<T, Move>) {
          return {kind, x.side, x.from_pair[x.side]};
        } else {
          return {kind, Side::Local, Uid{}};
        }
      },
      a);
}

PerSide<Uid> swap(const PerSide<Uid>& u) { return u.swapped(); }

void print_flags(std::ostream& os, const Flags& f) { os << "[" << format_flags(f) << "]"; }

void print_pair(std::ostream& os, const PerSide<Uid>& u) {
  os << "local:" << u[Side::Local] << "/remote:" << u[Side::Remote];
}

}  // namespace

void sort_plan(Plan& plan) {
  // Order by (kind, side, uid); to_string() breaks the rare ties, so it is computed for tied
  // actions only. The permutation is then applied in place: a large mailbox's plan is held
  // once, not twice (the memory peak of a first sync).
  auto& acts = plan.actions;
  std::vector<std::pair<SortKey, std::size_t>> keys;
  keys.reserve(acts.size());
  for (std::size_t i = 0; i < acts.size(); ++i) keys.emplace_back(key_of(acts[i]), i);
  auto same = [](const SortKey& a, const SortKey& b) {
    return a.kind == b.kind && a.side == b.side && a.uid == b.uid;
  };
  auto less = [](const SortKey& a, const SortKey& b) {
    return std::tie(a.kind, a.side, a.uid) < std::tie(b.kind, b.side, b.uid);
  };
  std::sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
    return less(a.first, b.first) || (!less(b.first, a.first) && a.second < b.second);
  });
  for (std::size_t lo = 0; lo < keys.size();) {
    std::size_t hi = lo + 1;
    while (hi < keys.size() && same(keys[lo].first, keys[hi].first)) ++hi;
    if (hi - lo > 1) {
      std::vector<std::pair<std::string, std::size_t>> tied;
      for (std::size_t j = lo; j < hi; ++j) tied.emplace_back(to_string(acts[keys[j].second]), keys[j].second);
      std::sort(tied.begin(), tied.end());
      for (std::size_t j = lo; j < hi; ++j) keys[j].second = tied[j - lo].second;
    }
    lo = hi;
  }
  // Position j receives the action now at keys[j].second: follow each cycle once.
  std::vector<std::size_t> from(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) from[j] = keys[j].second;
  keys = {};
  for (std::size_t start = 0; start < from.size(); ++start) {
    if (from[start] == start) continue;
    Action held = std::move(acts[start]);
    std::size_t j = start;
    while (from[j] != start) {
      std::size_t next = from[j];
      acts[j] = std::move(acts[next]);
      from[j] = j;
      j = next;
    }
    acts[j] = std::move(held);
    from[j] = j;
  }
}

Action mirror(const Action& action) {
  return std::visit(
      [](auto x) -> Action {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Copy>) {
          x.from = other(x.from);
        } else if constexpr (std::is_same_v<T, StoreFlags>) {
          x.side = other(x.side);
        } else if constexpr (std::is_same_v<T, Expunge>) {
          x.side = other(x.side);
          x.pair = swap(x.pair);
        } else if constexpr (std::is_same_v<T, RecordPair> || std::is_same_v<T, UpdateBase> ||
                             std::is_same_v<T, ForgetPair>) {
          x.uid = swap(x.uid);
        } else if constexpr (std::is_same_v<T, Move>) {
          x.side = other(x.side);
          x.from_pair = swap(x.from_pair);
          x.store = x.store.swapped();
        }
        return x;
      },
      action);
}

Plan mirror(const Plan& plan) {
  Plan out;
  out.actions.reserve(plan.actions.size());
  for (const Action& a : plan.actions) out.actions.push_back(mirror(a));
  sort_plan(out);
  return out;
}

bool skips_mailbox(const Plan& plan) {
  return std::any_of(plan.actions.begin(), plan.actions.end(),
                     [](const Action& a) { return std::holds_alternative<SkipMailbox>(a); });
}

std::ostream& operator<<(std::ostream& os, const FlagDelta& d) {
  bool first = true;
  for (const auto& f : d.add) {
    os << (first ? "" : " ") << "+" << f;
    first = false;
  }
  for (const auto& f : d.remove) {
    os << (first ? "" : " ") << "-" << f;
    first = false;
  }
  return os;
}

std::ostream& operator<<(std::ostream& os, const Copy& a) {
  os << "copy " << a.from << ":" << a.uid << " -> " << other(a.from) << " ";
  print_flags(os, a.flags);
  return os << " " << a.identity;
}

std::ostream& operator<<(std::ostream& os, const RecordPair& a) {
  os << "pair ";
  print_pair(os, a.uid);
  os << " base ";
  print_flags(os, a.base);
  return os << " " << a.identity;
}

std::ostream& operator<<(std::ostream& os, const StoreFlags& a) {
  os << "store " << a.side << ":" << a.uid << " " << a.change;
  if (a.unchanged_since.valid()) os << " (unchangedsince " << a.unchanged_since << ")";
  return os;
}

std::ostream& operator<<(std::ostream& os, const UpdateBase& a) {
  os << "base ";
  print_pair(os, a.uid);
  os << " ";
  print_flags(os, a.base);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Expunge& a) {
  os << (a.mark_only ? "mark-deleted " : "expunge ") << a.side << ":" << a.uid << " (pair ";
  print_pair(os, a.pair);
  return os << ")";
}

std::ostream& operator<<(std::ostream& os, const ForgetPair& a) {
  os << "forget ";
  print_pair(os, a.uid);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Move& a) {
  os << "move " << a.side << ":" << a.from_pair[a.side] << " mailbox " << a.from << " -> " << a.to
     << " (twin " << other(a.side) << ":" << a.twin << ", vanished " << other(a.side) << ":"
     << a.from_pair[other(a.side)] << ") base ";
  print_flags(os, a.base);
  for (Side s : kBothSides) {
    if (!a.store[s].empty()) os << " store " << s << " " << a.store[s];
  }
  return os << " " << a.identity;
}

std::ostream& operator<<(std::ostream& os, const SkipMailbox& a) {
  return os << "skip mailbox: " << a.reason;
}

std::ostream& operator<<(std::ostream& os, const Action& a) {
  std::visit([&os](const auto& x) { os << x; }, a);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Plan& plan) {
  if (plan.actions.empty()) return os << "(empty plan)\n";
  for (const Action& a : plan.actions) os << a << "\n";
  return os;
}

std::string to_string(const Action& a) {
  std::ostringstream os;
  os << a;
  return os.str();
}

std::string to_string(const Plan& plan) {
  std::ostringstream os;
  os << plan;
  return os.str();
}

}  // namespace twinbox::sync
