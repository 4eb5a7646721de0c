#include <algorithm>
#include <unordered_map>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/sync/events.hpp>
#include <twinbox/sync/executor.hpp>
#include <twinbox/sync/reader.hpp>

#include "executor_util.hpp"
#include "wait.hpp"

namespace twinbox::sync {
namespace {

using detail::to_flagset;
using detail::to_state;
using detail::uid_set;

/// Current flags of a message on one side: as reported in the delta, else the stored base.
class FlagLookup {
 public:
  FlagLookup(const MailboxWork& w, Side s) {
    for (const auto& p : w.stored.pairs) {
      if (p.uid[s].valid()) flags_[p.uid[s].value] = &p.base;
    }
    for (const auto& a : w.delta[s].added) flags_[a.uid.value] = &a.flags;
    for (const auto& c : w.delta[s].changed) flags_[c.uid.value] = &c.flags;
  }
  Flags current(Uid u) const {
    auto it = flags_.find(u.value);
    return it == flags_.end() ? Flags{} : *it->second;
  }

 private:
  std::unordered_map<std::uint32_t, const Flags*> flags_;
};

FlagOp flag_op(client::StoreMode m) {
  return m == client::StoreMode::Add ? FlagOp::Add : m == client::StoreMode::Remove ? FlagOp::Remove : FlagOp::Set;
}

}  // namespace

Executor::Executor(PerSide<client::Session*> sessions, client::Loop& loop,
                   state::StateStore& store, const EngineOptions& options)
    : sessions_(sessions), loop_(loop), store_(store), options_(options) {}

template <class T>
Result<T> Executor::wait(const client::Pending<T>& p) {
  if (!p.ready()) {
    Status s = drive_until(loop_, [&p] { return p.ready(); }, net::deadline_in(options_.timeout));
    if (!s && !p.ready()) return s.error();
  }
  return std::move(p.result());
}

Status Executor::wait_all(const std::function<bool()>& done) {
  if (done()) return {};
  return drive_until(loop_, done, net::deadline_in(options_.timeout));
}

Status Executor::ensure_selected(Side side, const std::string& name) {
  client::Session& s = *sessions_[side];
  if (s.selected() && s.selected()->mailbox == name && !s.selected()->read_only) return {};
  client::SelectOptions opts;
  opts.condstore = s.has("CONDSTORE") && !s.qresync();
  auto r = wait(s.select(name, opts));
  if (!r) return r.error().with_context("SELECT " + name + " on the " + std::string(to_string(side)) + " side");
  return {};
}

Status Executor::execute(const MailboxWork& work, const Plan& plan, PerSide<Counts>& counts) {
  PerSide<std::vector<const Copy*>> copies;  // into the plan: no per-message copies
  std::vector<StoreFlags> stores;
  std::vector<Expunge> expunges;
  std::vector<RecordPair> records;
  std::vector<UpdateBase> bases;
  std::vector<ForgetPair> forgets;
  for (const auto& a : plan.actions) {
    if (auto* c = std::get_if<Copy>(&a)) copies[c->from].push_back(c);
    if (auto* s = std::get_if<StoreFlags>(&a)) stores.push_back(*s);
    if (auto* e = std::get_if<Expunge>(&a)) expunges.push_back(*e);
    if (auto* r = std::get_if<RecordPair>(&a)) records.push_back(*r);
    if (auto* u = std::get_if<UpdateBase>(&a)) bases.push_back(*u);
    if (auto* f = std::get_if<ForgetPair>(&a)) forgets.push_back(*f);
  }
  for (Side s : kBothSides) {
    bool needed = !copies[s].empty() || !copies[other(s)].empty() || !expunges.empty() ||
                  !stores.empty();
    if (needed) {
      if (auto st = ensure_selected(s, work.name[s]); !st) return st;
    }
  }
  // Records first (no server work; the stores below bring both sides to their base).
  if (!records.empty()) {
    std::vector<state::MessagePair> pairs;
    for (const auto& r : records) {
      state::MessagePair p;
      p.uid = r.uid;
      p.base_flags = format_flags(r.base);
      p.identity = to_state(r.identity);
      pairs.push_back(std::move(p));
    }
    if (auto st = store_.upsert_pairs(work.id, pairs); !st) return st;
  }
  // The flag stores go out first and are answered while the copies run: they touch only
  // paired messages, the copies only new ones.
  auto pending = queue_stores(work, stores);
  std::vector<PerSide<Uid>> failed;
  for (Side s : kBothSides) {
    if (copies[s].empty()) continue;
    if (auto st = copy_direction(work, s, copies[s], counts); !st) {
      (void)finish_stores(work, *pending, failed, counts);  // no store left in flight
      return st;
    }
  }
  if (auto st = finish_stores(work, *pending, failed, counts); !st) return st;
  if (auto st = run_expunges(work, expunges, counts); !st) return st;

  auto txn = store_.begin();
  if (!txn) return txn.error();
  std::vector<state::BaseFlagsUpdate> updates;
  for (const auto& u : bases) {
    bool ok = std::none_of(failed.begin(), failed.end(), [&](const PerSide<Uid>& f) {
      return f[Side::Local] == u.uid[Side::Local] || f[Side::Remote] == u.uid[Side::Remote];
    });
    if (!ok) continue;
    state::BaseFlagsUpdate b;
    b.side = u.uid[Side::Local].valid() ? Side::Local : Side::Remote;
    b.uid = u.uid[b.side];
    b.base_flags = format_flags(u.base);
    updates.push_back(std::move(b));
  }
  if (!updates.empty()) {
    if (auto st = store_.set_base_flags(work.id, updates); !st) return st;
  }
  PerSide<std::vector<Uid>> remove;
  for (const auto& f : forgets) {
    Side s = f.uid[Side::Local].valid() ? Side::Local : Side::Remote;
    remove[s].push_back(f.uid[s]);
  }
  for (const auto& e : expunges) {
    if (e.mark_only) continue;
    Side s = e.pair[Side::Local].valid() ? Side::Local : Side::Remote;
    remove[s].push_back(e.pair[s]);
  }
  for (Side s : kBothSides) {
    if (remove[s].empty()) continue;
    if (auto st = store_.remove_pairs(work.id, s, remove[s]); !st) return st;
  }
  return txn->commit();
}

struct Executor::PendingStores {
  struct Group {
    Side side;
    client::StoreMode mode;
    Flags flags;
    ModSeq since;
    std::vector<Uid> uids;
  };
  struct Sent {
    const Group* group;
    client::Pending<client::StoreResult> pending;
  };
  std::map<std::string, Group> groups;
  std::vector<Sent> sent;
};

Status Executor::run_stores(const MailboxWork& work, const std::vector<StoreFlags>& stores,
                            std::vector<PerSide<Uid>>& failed, PerSide<Counts>& counts) {
  auto pending = queue_stores(work, stores);
  return finish_stores(work, *pending, failed, counts);
}

std::unique_ptr<Executor::PendingStores> Executor::queue_stores(const MailboxWork& work,
                                                                const std::vector<StoreFlags>& stores) {
  auto out = std::make_unique<PendingStores>();
  if (stores.empty()) return out;
  auto& groups = out->groups;
  PerSide<FlagLookup> lookup{{FlagLookup(work, Side::Local), FlagLookup(work, Side::Remote)}};
  for (const auto& s : stores) {
    bool cas = work.caps[s.side].condstore && s.unchanged_since.value > 0;
    auto add_to = [&](client::StoreMode mode, const Flags& f) {
      std::string key = std::to_string(static_cast<int>(s.side)) + '|' +
                        std::to_string(static_cast<int>(mode)) + '|' + format_flags(f) + '|' +
                        std::to_string(cas ? s.unchanged_since.value : 0);
      auto& g = groups[key];
      g.side = s.side;
      g.mode = mode;
      g.flags = f;
      g.since = cas ? s.unchanged_since : ModSeq();
      g.uids.push_back(s.uid);
    };
    if (cas) {
      // Compare-and-set: one replace with the merged result (never two stores, the second of
      // which would fail its own UNCHANGEDSINCE).
      Flags cur = lookup[s.side].current(s.uid);
      add_to(client::StoreMode::Replace,
             flags_difference(flags_union(cur, s.change.add), s.change.remove));
    } else {
      if (!s.change.add.empty()) add_to(client::StoreMode::Add, s.change.add);
      if (!s.change.remove.empty()) add_to(client::StoreMode::Remove, s.change.remove);
    }
  }
  for (const auto& [key, g] : groups) {
    crash_point("IMAP UID STORE");
    std::optional<ModSeq> since;
    if (g.since.value > 0) since = g.since;
    out->sent.push_back({&g, sessions_[g.side]->uid_store(uid_set(g.uids), g.mode, to_flagset(g.flags), since)});
  }
  return out;
}

Status Executor::finish_stores(const MailboxWork& work, PendingStores& pending,
                               std::vector<PerSide<Uid>>& failed, PerSide<Counts>& counts) {
  for (auto& s : pending.sent) {
    auto r = wait(s.pending);
    if (!r) return r.error().with_context("UID STORE in " + work.name[s.group->side]);
    for (Uid u : s.group->uids) {
      if (r->modified.contains(u.value)) {
        PerSide<Uid> f;
        f[s.group->side] = u;
        // Find the twin so both halves of the pair keep the old base.
        for (const auto& p : work.stored.pairs) {
          if (p.uid[s.group->side] == u) f = p.uid;
        }
        failed.push_back(f);
      } else {
        ++counts[s.group->side].flags;
        if (options_.observer) options_.observer->flags_changed(work.display, s.group->side, u, flag_op(s.group->mode), s.group->flags);
      }
    }
  }
  return {};
}

Status Executor::run_expunges(const MailboxWork& work, const std::vector<Expunge>& expunges,
                              PerSide<Counts>& counts) {
  for (Side side : kBothSides) {
    std::vector<Uid> all, real;
    for (const auto& e : expunges) {
      if (e.side != side) continue;
      all.push_back(e.uid);
      if (!e.mark_only) real.push_back(e.uid);
    }
    if (all.empty()) continue;
    client::Session& s = *sessions_[side];
    crash_point("IMAP UID STORE \\Deleted");
    auto mark = s.uid_store(uid_set(all), client::StoreMode::Add, imap::FlagSet{"\\Deleted"});
    client::Pending<client::ExpungeResult> exp;
    if (!real.empty()) {
      crash_point("IMAP UID EXPUNGE");
      exp = s.uid_expunge(uid_set(real));
    }
    auto m = wait(mark);
    if (!m) return m.error().with_context("marking messages \\Deleted in " + work.name[side]);
    if (exp.valid()) {
      auto e = wait(exp);
      if (!e) return e.error().with_context("UID EXPUNGE in " + work.name[side]);
    }
    counts[side].expunged += real.size();
    counts[side].marked += all.size() - real.size();
    if (options_.observer) {
      for (Uid u : real) options_.observer->message_expunged(work.display, side, u);
    }
  }
  return {};
}

Status Executor::store_flags(const MailboxWork& work, const std::vector<StoreFlags>& stores,
                             PerSide<Counts>& counts) {
  std::vector<PerSide<Uid>> failed;
  for (Side s : kBothSides) {
    bool any = std::any_of(stores.begin(), stores.end(), [&](const StoreFlags& f) { return f.side == s; });
    if (any) {
      if (auto st = ensure_selected(s, work.name[s]); !st) return st;
    }
  }
  return run_stores(work, stores, failed, counts);
}

Status Executor::execute_moves(const std::vector<Move>& moves,
                               const std::map<MailboxKey, PerSide<std::string>>& names,
                               std::map<MailboxKey, std::vector<StoreFlags>>& follow_up,
                               PerSide<Counts>& counts,
                               std::map<MailboxKey, PerSide<Counts>>& per_mailbox) {
  // Group by (side, from, to): one UID MOVE per group.
  std::map<std::tuple<int, MailboxKey, MailboxKey>, std::vector<const Move*>> groups;
  for (const auto& m : moves) {
    groups[{static_cast<int>(m.side), m.from, m.to}].push_back(&m);
  }
  for (const auto& [key, group] : groups) {
    Side side = static_cast<Side>(std::get<0>(key));
    MailboxKey from = std::get<1>(key), to = std::get<2>(key);
    auto fn = names.find(from);
    auto tn = names.find(to);
    if (fn == names.end() || tn == names.end()) continue;
    client::Session& s = *sessions_[side];
    if (auto st = ensure_selected(side, fn->second[side]); !st) return st;
    std::vector<Uid> uids;
    for (const Move* m : group) uids.push_back(m->from_pair[side]);
    client::CopyResult res;
    if (s.has("MOVE")) {
      crash_point("IMAP UID MOVE");
      auto r = wait(s.uid_move(uid_set(uids), tn->second[side]));
      if (!r) return r.error().with_context("UID MOVE from " + fn->second[side]);
      res = std::move(*r);
    } else {
      crash_point("IMAP UID COPY");
      auto r = wait(s.uid_copy(uid_set(uids), tn->second[side]));
      if (!r) return r.error().with_context("UID COPY from " + fn->second[side]);
      res = std::move(*r);
      crash_point("IMAP UID STORE \\Deleted");
      auto m = wait(s.uid_store(uid_set(uids), client::StoreMode::Add, imap::FlagSet{"\\Deleted"}));
      if (!m) return m.error();
      crash_point("IMAP UID EXPUNGE");
      auto e = wait(s.uid_expunge(uid_set(uids)));
      if (!e) return e.error();
    }
    std::unordered_map<std::uint32_t, Uid> new_uid;
    for (const auto& [a, b] : res.pairs) new_uid[a.value] = b;
    auto txn = store_.begin();
    if (!txn) return txn.error();
    for (const Move* m : group) {
      if (auto st = store_.remove_pairs(m->from, side, std::vector<Uid>{m->from_pair[side]}); !st) return st;
      auto it = new_uid.find(m->from_pair[side].value);
      if (it == new_uid.end()) continue;  // no COPYUID: the next run pairs it by content
      state::MessagePair p;
      p.uid[side] = it->second;
      p.uid[other(side)] = m->twin;
      p.base_flags = format_flags(m->base);
      p.identity = to_state(m->identity);
      if (auto st = store_.upsert_pairs(m->to, std::vector<state::MessagePair>{p}); !st) return st;
      for (Side t : kBothSides) {
        if (m->store[t].empty()) continue;
        StoreFlags sf;
        sf.side = t;
        sf.uid = t == side ? it->second : m->twin;
        sf.change = m->store[t];
        follow_up[m->to].push_back(sf);
      }
      ++counts[side].moved;
      ++per_mailbox[m->to][side].moved;
    }
    if (auto st = txn->commit(); !st) return st;
  }
  return {};
}

}  // namespace twinbox::sync
