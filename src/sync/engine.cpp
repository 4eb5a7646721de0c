#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <ctime>

#include <twinbox/base/crash_point.hpp>

#include <twinbox/client/loop.hpp>
#include <twinbox/sync/engine.hpp>
#include <twinbox/sync/events.hpp>
#include <twinbox/sync/executor.hpp>
#include <twinbox/sync/reader.hpp>

#include "body_hashes.hpp"
#include "engine_steps.hpp"
#include "wait.hpp"

namespace twinbox::sync {

Counts& Counts::operator+=(const Counts& o) {
  copied += o.copied;
  flags += o.flags;
  expunged += o.expunged;
  moved += o.moved;
  bytes += o.bytes;
  marked += o.marked;
  return *this;
}

bool SyncReport::partial() const {
  return std::any_of(mailboxes.begin(), mailboxes.end(),
                     [](const MailboxReport& m) { return !m.error.empty(); }) ||
         !problems.empty();
}

bool SyncReport::changed() const {
  return total[Side::Local].any() || total[Side::Remote].any() ||
         std::any_of(mailboxes.begin(), mailboxes.end(),
                     [](const MailboxReport& m) { return m.created; });
}

namespace {

using Deadline = net::Deadline;

/// How a pass reads one side of a mailbox pair.
enum class SideRead {
  Full,        ///< SELECT and read its changes and new messages
  NextWindow,  ///< only the next window of new messages, on the mailbox still selected
               ///< (DeltaReader::continue_window(); a SELECT when it is not)
  Skip,        ///< not read: an empty delta with the stored snapshot (nothing changed there
               ///< as far as this run knows)
};

class Engine {
 public:
  Engine(const EngineOptions& o, const LogFn& log, SyncConnections* keep = nullptr)
      : opt_(o), log_(log), keep_(keep) {}

  Result<SyncReport> run();

 private:
  template <class T>
  Result<T> wait(client::Session& s, const client::Pending<T>& p) {
    return s.wait(p, net::deadline_in(opt_.timeout));
  }
  Status wait_loop(const std::function<bool()>& done) {
    if (done()) return {};
    return drive_until(loop_, done, net::deadline_in(opt_.timeout));
  }
  Status connect();
  Result<MailboxListPlan> list_mailboxes();
  Status apply_list_plan(MailboxListPlan& plan);
  /// SUBSCRIBE / UNSUBSCRIBE of the merged subscriptions, pipelined on both sides. A failure
  /// is a problem in the report; the pair's base then keeps the failing side's state.
  void apply_subscriptions(MailboxListPlan& plan);
  /// `same_run`: the stored side states were written by this run (a confirming pass or the
  /// next window). `limit`: per side, read new messages below this UID only
  /// (DeltaReader::limit_new); invalid = all.
  /// `uids`: the stored pairs' UIDs per side (StateStore::pair_uids).
  /// `read`: how each side is read (SideRead).
  Result<PerSide<Delta>> read_deltas(const PairToSync& p, const state::MailboxPair& stored,
                                     PerSide<std::vector<Uid>> uids, bool same_run = false,
                                     PerSide<Uid> limit = {}, PerSide<SideRead> read = {});
  /// Reads the deltas of a pair: its stored UIDs, then read_deltas().
  Result<PerSide<Delta>> read_pair_deltas(const PairToSync& p, const state::MailboxPair& stored,
                                          bool same_run = false, PerSide<Uid> limit = {},
                                          PerSide<SideRead> read = {});
  /// The stored pairs these deltas need (load_stored), with the sources of pending intents.
  Result<StoredMailbox> stored_for(state::MailboxPairId id, const PerSide<Delta>& delta);
  /// Per side, the UIDs one pass reads new messages from (0 = all at once): see sync_pair.
  Result<PerSide<std::uint64_t>> new_windows(const PairToSync& p, const state::MailboxPair& stored);
  Status sync_pair(const PairToSync& p, MailboxReport& rep, std::optional<PerSide<Delta>> first,
                   std::vector<StoreFlags> follow_up, bool moved);
  PerSide<Caps> caps() const;
  bool keep_for_next_run(client::Session& s);
  void log(const std::string& s) const {
    if (log_) log_(s);
  }

  const EngineOptions& opt_;
  const LogFn& log_;
  SyncConnections* keep_ = nullptr;  ///< watch mode: sessions taken from and given back to it
  std::optional<state::StateStore> store_;
  PerSide<std::unique_ptr<client::Session>> sessions_;
  client::Loop loop_;
  PerSide<Namespace> ns_;
  /// ID and ENABLE answers, awaited with the first LIST (one round trip for all three).
  PerSide<client::PendingSetup> setup_;
  /// No message pair stored in any mailbox (a first sync): no moves to recognise, so new
  /// messages bound for an empty side are read without INTERNALDATE and Message-ID.
  bool no_pairs_stored_ = false;
  SyncReport report_;
  std::filesystem::path dry_state_dir_;
};

Status Engine::connect() {
  if (keep_) {
    for (Side s : kBothSides) {
      auto session = std::move(keep_->session[s]);
      if (session && !session->broken() && session->in_flight() == 0) sessions_[s] = std::move(session);
    }
  }
  if (auto st = connect_endpoints(opt_.endpoints, sessions_, &setup_); !st) return st;
  for (Side s : kBothSides) loop_.add(*sessions_[s]);
  return {};
}

/// A session is kept only unselected: a server may answer LIST-STATUS for the mailbox a
/// session has selected from that session's own, older view (RFC 3501 §6.3.10 advises
/// against STATUS on it), and the next run would then skip a changed mailbox. No UNSELECT
/// (RFC 3691): not kept, since CLOSE would expunge.
bool Engine::keep_for_next_run(client::Session& s) {
  if (s.broken() || s.in_flight() != 0) return false;
  if (!s.selected()) return true;
  if (!s.has("UNSELECT")) return false;
  return wait(s, s.unselect()).has_value() && !s.broken();
}

PerSide<Caps> Engine::caps() const {
  PerSide<Caps> c;
  for (Side s : kBothSides) {
    c[s].condstore = sessions_[s]->has("CONDSTORE") || sessions_[s]->qresync();
    c[s].uidplus = sessions_[s]->has("UIDPLUS");
  }
  return c;
}

Result<MailboxListPlan> Engine::list_mailboxes() {
  PerSide<client::Pending<std::vector<client::ListEntry>>> lists;
  PerSide<client::Pending<std::vector<client::ListEntry>>> lsubs;
  PerSide<client::Pending<client::NamespaceInfo>> nss;
  PerSide<NamespaceCache> cache;
  PerSide<std::optional<Namespace>> cached;
  for (Side s : kBothSides) {
    client::ListOptions lo;
    lo.with_status = true;
    lo.return_subscribed = true;  // RETURN (SUBSCRIBED) with LIST-EXTENDED
    lists[s] = sessions_[s]->list(lo);
    if (!sessions_[s]->has("LIST-EXTENDED")) {
      client::ListOptions sub;  // LSUB, pipelined: the subscriptions in the same round trip
      sub.subscribed_only = true;
      sub.return_special_use = false;
      lsubs[s] = sessions_[s]->list(sub);
    }
    cache[s] = namespace_cache(s, opt_.endpoints[s], sessions_[s]->capabilities());
    auto v = store_->meta(cache[s].key);
    if (!v) return v.error();
    if (*v) cached[s] = parse_cached_namespace(cache[s], **v);
    if (!cached[s] && sessions_[s]->has("NAMESPACE")) nss[s] = sessions_[s]->namespaces();
  }
  auto all_ready = [&] {
    for (Side s : kBothSides) {
      if (!setup_[s].ready()) return false;
      if (!lists[s].ready() || (nss[s].valid() && !nss[s].ready())) return false;
      if (lsubs[s].valid() && !lsubs[s].ready()) return false;
    }
    return true;
  };
  if (auto st = wait_loop(all_ready); !st) return st.error();
  for (Side s : kBothSides) {
    if (auto st = setup_[s].result(*sessions_[s]); !st) {
      return st.error().with_context(std::string(to_string(s)) + " side");
    }
    if (!lists[s].result()) {
      return lists[s].result().error().with_context("LIST on the " + std::string(to_string(s)) + " side");
    }
    // A cached namespace that the LIST contradicts is asked again (one more round trip).
    if (cached[s] && !namespace_fits(*cached[s], *lists[s].result())) {
      cached[s].reset();
      if (sessions_[s]->has("NAMESPACE")) nss[s] = sessions_[s]->namespaces();
    }
  }
  if (auto st = wait_loop(all_ready); !st) return st.error();
  ListInput in;
  for (Side s : kBothSides) {
    const auto& r = *lists[s].result();
    std::set<std::string> subscribed;
    if (lsubs[s].valid()) {
      auto l = std::move(lsubs[s].result());
      if (!l) return l.error().with_context("LSUB on the " + std::string(to_string(s)) + " side");
      for (const auto& e : *l) subscribed.insert(e.name);
    }
    for (const auto& e : r) {
      in.entries[s].push_back(to_entry(e));
      if (subscribed.count(e.name) != 0) in.entries[s].back().subscribed = true;
    }
    if (cached[s]) {
      ns_[s] = *cached[s];
      continue;
    }
    std::optional<client::NamespaceInfo> asked;
    if (nss[s].valid() && nss[s].result()) asked = *nss[s].result();
    ns_[s] = namespace_of(r, asked);
    if (!opt_.dry_run) {
      if (auto st = store_->set_meta(cache[s].key, format_cached_namespace(cache[s], ns_[s])); !st) {
        return st.error();
      }
    }
  }
  in.ns = ns_;
  auto stored = store_->mailboxes();
  if (!stored) return stored.error();
  in.stored = std::move(*stored);
  auto any = store_->any_pairs();
  if (!any) return any.error();
  no_pairs_stored_ = !*any;
  // Counted only for a mailbox gone on one side; an error there is the run's error (until
  // then the count is "unknown", which never lets the mailbox be deleted).
  std::optional<Error> count_error;
  in.count_pairs = [&](state::MailboxPairId id) -> std::size_t {
    auto n = store_->count_pairs(id);
    if (n) return *n;
    if (!count_error) count_error = n.error();
    return std::numeric_limits<std::size_t>::max();
  };
  in.policy = opt_.list;
  auto plan = plan_mailboxes(in);
  if (count_error) return *count_error;
  return plan;
}

Status Engine::apply_list_plan(MailboxListPlan& plan) {
  for (const auto& p : plan.problems) {
    report_.problems.push_back(p);
    log("mailbox " + p.mailbox + ": " + p.message);
  }
  if (opt_.dry_run) {
    for (const auto& c : plan.creates) {
      log("would create " + canonical_of(c.name, ns_[c.side]) + " on the " + std::string(to_string(c.side)) + " side");
    }
    for (const auto& r : plan.renames) {
      log("would rename " + canonical_of(r.from, ns_[r.side]) + " to " + canonical_of(r.to, ns_[r.side]) + " on the " + std::string(to_string(r.side)) + " side");
    }
    for (const auto& d : plan.deletes) {
      log("would delete " + canonical_of(d.name, ns_[d.side]) + " on the " + std::string(to_string(d.side)) + " side");
    }
    for (const auto& p : plan.pairs) {
      for (const auto& c : p.subscriptions) {
        log(std::string(c.subscribe ? "would subscribe " : "would unsubscribe ") + c.name +
            " on the " + std::string(to_string(c.side)) + " side");
      }
    }
    return {};
  }
  for (const auto& c : plan.creates) {
    crash_point("IMAP CREATE");
    auto r = wait(*sessions_[c.side], sessions_[c.side]->create(c.name, c.special_use));
    if (!r) {
      report_.problems.push_back({canonical_of(c.name, ns_[c.side]), "cannot create it on the " + std::string(to_string(c.side)) +
                                              " side: " + r.error().message});
      std::erase_if(plan.pairs, [&](const PairToSync& p) { return p.name[c.side] == c.name && !p.entry[c.side]; });
      continue;
    }
    log("created " + canonical_of(c.name, ns_[c.side]) + " on the " + std::string(to_string(c.side)) + " side");
  }
  for (const auto& r : plan.renames) {
    crash_point("IMAP RENAME");
    auto res = wait(*sessions_[r.side], sessions_[r.side]->rename(r.from, r.to));
    if (!res) {
      report_.problems.push_back({canonical_of(r.from, ns_[r.side]), "cannot rename it to " + canonical_of(r.to, ns_[r.side]) + " on the " +
                                              std::string(to_string(r.side)) + " side: " + res.error().message});
      std::erase_if(plan.pairs, [&](const PairToSync& p) { return p.pair == r.pair; });
      continue;
    }
    auto mb = store_->mailbox(r.pair);
    if (!mb) return mb.error();
    if (*mb) {
      state::MailboxPair m = **mb;
      m.name[r.side] = r.to;
      m.name[other(r.side)] = r.new_other_name;
      if (auto id = store_->upsert_mailbox(m); !id) return id.error();
    }
    log("renamed " + canonical_of(r.from, ns_[r.side]) + " to " + canonical_of(r.to, ns_[r.side]) + " on the " + std::string(to_string(r.side)) + " side");
  }
  for (const auto& d : plan.deletes) {
    crash_point("IMAP DELETE");
    auto res = wait(*sessions_[d.side], sessions_[d.side]->delete_mailbox(d.name));
    if (!res) {
      report_.problems.push_back({canonical_of(d.name, ns_[d.side]), "cannot delete it on the " + std::string(to_string(d.side)) +
                                              " side: " + res.error().message});
      continue;
    }
    if (auto st = store_->remove_mailbox(d.pair); !st) return st;
    log("deleted " + canonical_of(d.name, ns_[d.side]) + " on the " + std::string(to_string(d.side)) + " side (gone on the other)");
  }
  for (auto id : plan.forget) {
    if (auto st = store_->remove_mailbox(id); !st) return st;
  }
  apply_subscriptions(plan);
  // New pairs get their row now, so intents and pairs can refer to it.
  for (auto& p : plan.pairs) {
    if (p.pair != 0) {
      if (!p.subscription_base_changed) continue;
      if (auto st = store_->set_subscribed(p.pair, p.subscribed); !st) return st;
      continue;
    }
    state::MailboxPair m;
    m.name = p.name;
    m.special_use = p.special_use;
    m.subscribed = p.subscribed;
    auto id = store_->upsert_mailbox(m);
    if (!id) return id.error();
    p.pair = *id;
  }
  return {};
}

void Engine::apply_subscriptions(MailboxListPlan& plan) {
  struct Sent {
    PairToSync* pair;
    const SubscriptionChange* change;
    client::Pending<void> done;
  };
  std::vector<Sent> sent;
  for (auto& p : plan.pairs) {
    for (const auto& c : p.subscriptions) {
      crash_point(c.subscribe ? "IMAP SUBSCRIBE" : "IMAP UNSUBSCRIBE");
      client::Session& s = *sessions_[c.side];
      sent.push_back({&p, &c, c.subscribe ? s.subscribe(c.name) : s.unsubscribe(c.name)});
    }
  }
  if (sent.empty()) return;
  auto all = [&] {
    return std::all_of(sent.begin(), sent.end(), [](const Sent& x) { return x.done.ready(); });
  };
  Status st = wait_loop(all);
  for (auto& x : sent) {
    const std::string verb = x.change->subscribe ? "subscribe" : "unsubscribe";
    const std::string side(to_string(x.change->side));
    Status r = x.done.ready() ? x.done.result() : st;
    if (r) {
      log(verb + "d " + x.change->name + " on the " + side + " side");
      continue;
    }
    report_.problems.push_back({x.change->name, "cannot " + verb + " it on the " + side +
                                                    " side: " + r.error().message});
    // The failing side keeps its old subscription: that is the base to remember, so the next
    // run retries this change instead of taking the old state for a change of that side.
    x.pair->subscribed = !x.change->subscribe;
    x.pair->subscription_base_changed = true;
  }
}

Result<PerSide<std::uint64_t>> Engine::new_windows(const PairToSync& p, const state::MailboxPair& stored) {
  PerSide<std::uint64_t> span{};
  if (opt_.new_per_pass == 0 || opt_.dry_run) return span;
  auto large = [&](Side s) {
    const auto& e = p.entry[s];
    return e && e->messages && *e->messages > opt_.new_per_pass;
  };
  if (!large(Side::Local) && !large(Side::Remote)) return span;  // the usual case: no query
  auto intents = store_->intents(p.pair);
  if (!intents) return intents.error();
  if (!intents->empty()) return span;  // resolved against the target's new messages: all of them
  PerSide<std::size_t> below{};
  PerSide<bool> quiet{};       ///< nothing on that side can pair with the other's new messages
  PerSide<bool> may_vanish{};  ///< stored pairs of that side may have vanished
  for (Side s : kBothSides) {
    auto n = store_->count_side_below(p.pair, s, stored.side[s].uidnext);
    if (!n) return n.error();
    below[s] = *n;
    auto all = store_->count_side_below(p.pair, s, Uid(4294967295U));
    if (!all) return all.error();
    const auto& e = p.entry[s];
    const SideChange c = side_change(stored.side[s], e, *n);
    // Created this run, empty, or nothing new since the stored state (its messages below the
    // stored UIDNEXT were read by earlier runs: paired or copied already).
    quiet[s] = !e || (e->messages && *e->messages == 0) || !c.may_add;
    may_vanish[s] = *all > 0 && c.may_vanish;
  }
  for (Side s : kBothSides) {
    const auto& e = p.entry[s];
    // Vanished pairs of s are matched by content against all of its new messages (UIDs
    // renumbered, reconcile.hpp rule 10; a UIDVALIDITY change): read whole then.
    if (!quiet[other(s)] || may_vanish[s] || !e || !e->uidnext || !e->messages) continue;
    const std::uint64_t base = std::max<std::uint32_t>(stored.side[s].uidnext.value, 1);
    if (e->uidnext->value <= base) continue;
    const std::uint64_t fresh = *e->messages > below[s] ? *e->messages - below[s] : 0;
    if (fresh <= opt_.new_per_pass) continue;
    const std::uint64_t windows = (fresh + opt_.new_per_pass - 1) / opt_.new_per_pass;
    span[s] = (e->uidnext->value - base + windows - 1) / windows;
  }
  return span;
}

Result<PerSide<Delta>> Engine::read_pair_deltas(const PairToSync& p, const state::MailboxPair& stored,
                                                bool same_run, PerSide<Uid> limit, PerSide<SideRead> read) {
  auto uids = store_->pair_uids(p.pair);
  if (!uids) return uids.error();
  return read_deltas(p, stored, std::move(*uids), same_run, limit, read);
}

Result<StoredMailbox> Engine::stored_for(state::MailboxPairId id, const PerSide<Delta>& delta) {
  auto intents = store_->intents(id);
  if (!intents) return intents.error();
  PerSide<std::vector<Uid>> sources;
  for (const auto& in : *intents) sources[in.source_side].push_back(in.source_uid);
  return load_stored(*store_, id, delta, sources);
}

Result<PerSide<Delta>> Engine::read_deltas(const PairToSync& p, const state::MailboxPair& stored,
                                           PerSide<std::vector<Uid>> uids, bool same_run, PerSide<Uid> limit,
                                           PerSide<SideRead> read) {
  PerSide<std::unique_ptr<DeltaReader>> r;
  const bool none_stored = uids[Side::Local].empty() && uids[Side::Remote].empty();
  for (Side s : kBothSides) {
    if (read[s] == SideRead::Skip) continue;
    r[s] = std::make_unique<DeltaReader>(*sessions_[s], s, p.name[s], stored.side[s], std::move(uids[s]));
    if (same_run) r[s]->stored_by_this_run();
    if (limit[s].valid()) {
      r[s]->limit_new(limit[s]);
      // A windowed side's new messages all go to a side where nothing can pair with them (its
      // new messages are this run's copies): read light, also in the fetch pipelined with the
      // SELECT (set after start(), that one was a full read: ~0.13 s per 2,048 messages).
      r[s]->skip_content_identity();
      // The next window of a side the last pass read but did not write to: still selected.
      const client::SelectInfo* sel = sessions_[s]->selected();
      if (read[s] == SideRead::NextWindow && sel) r[s]->continue_window(sel->uidnext);
    }
    r[s]->start();
  }
  auto both = [&] {
    return std::all_of(r.v.begin(), r.v.end(), [](const auto& x) { return !x || x->step_ready(); });
  };
  if (auto st = wait_loop(both); !st) return st.error();
  // Everything new on s is copied to an empty other side (EXISTS of the SELECT snapshot):
  // nothing can pair with it, so the copy completes the identities (INTERNALDATE, Message-ID)
  // from its own FETCH. Not with intents left by an interrupted run (resolved by content).
  bool light = false;
  if (no_pairs_stored_ && none_stored) {
    auto intents = store_->intents(p.pair);
    light = intents && intents->empty();
  }
  for (Side s : kBothSides) {
    if (r[s] && light && r[other(s)] && r[other(s)]->exists_at_select() == 0) r[s]->skip_content_identity();
  }
  for (Side s : kBothSides) {
    if (!r[s]) continue;
    if (auto st = r[s]->next(); !st) return st.error().with_context(std::string(to_string(s)) + " side");
  }
  if (auto st = wait_loop(both); !st) return st.error();
  PerSide<Delta> d;
  for (Side s : kBothSides) {
    if (!r[s]) {
      const state::SideState& ss = stored.side[s];
      d[s].snapshot = {ss.uidvalidity, ss.uidnext, ss.highestmodseq, ss.announced_modseq};
      continue;
    }
    auto res = r[s]->finish();
    if (!res) return res.error().with_context(std::string(to_string(s)) + " side");
    d[s] = std::move(*res);
  }
  return d;
}

Status Engine::sync_pair(const PairToSync& p, MailboxReport& rep, std::optional<PerSide<Delta>> first,
                         std::vector<StoreFlags> follow_up, bool moved) {
  Executor exec({{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}}, loop_, *store_, opt_);
  // Read, reconcile, execute; then read again to confirm that what is left are our own echoes
  // and to store the post-sync state, so that the next run is a no-op (bounded: 3 passes).
  // A side with more than new_per_pass new messages, whose other side has nothing new, is
  // read and copied in UID windows of about that many messages, one per pass: each window's
  // snapshot is stored like a whole one, so memory stays flat in the mailbox's size and an
  // interrupted run resumes at the window it was in (one more pass per window).
  PerSide<std::uint64_t> span{};
  if (!first) {
    auto mb = store_->mailbox(p.pair);
    if (!mb) return mb.error();
    auto w = new_windows(p, mb->value_or(state::MailboxPair{}));
    if (!w) return w.error();
    span = *w;
  }
  int passes = 3;
  for (Side s : kBothSides) {
    if (span[s] > 0 && p.entry[s] && p.entry[s]->uidnext) {
      passes += static_cast<int>(std::min<std::uint64_t>(p.entry[s]->uidnext->value / span[s] + 1, 1u << 20));
    }
  }
  // A side this pass did not write to, and whose new messages were all read, is not read
  // again by the confirming pass: its stored snapshot (this pass's SELECT) still covers
  // everything done there, and what another client changes meanwhile is the next run's
  // (UNCHANGEDSINCE keeps a store on it safe). A first sync so SELECTs its source once.
  PerSide<SideRead> read{};
  for (int pass = 0; pass < passes; ++pass) {
    auto mb = store_->mailbox(p.pair);
    if (!mb) return mb.error();
    state::MailboxPair stored = mb->value_or(state::MailboxPair{});
    PerSide<Uid> limit;
    for (Side s : kBothSides) {
      const std::uint64_t end = std::max<std::uint32_t>(stored.side[s].uidnext.value, 1) + span[s];
      if (span[s] > 0 && end <= 4294967295U) limit[s] = Uid(static_cast<std::uint32_t>(end));
    }
    MailboxWork work;
    work.id = p.pair;
    work.name = p.name;
    work.display = rep.name;
    work.caps = caps();
    if (first) {
      work.delta = std::move(*first);
      first.reset();
    } else {
      auto d = read_pair_deltas(p, stored, pass > 0, limit, read);
      if (!d) return d.error();
      work.delta = std::move(*d);
    }
    // Only the pairs these deltas name (StoredMailbox): memory follows the changes.
    auto loaded = stored_for(p.pair, work.delta);
    if (!loaded) return loaded.error();
    work.stored = std::move(*loaded);
    if (!opt_.dry_run) {
      bool changed = false;  ///< the stored pairs changed: read them again
      for (Side s : kBothSides) {
        if (work.delta[s].uidvalidity_changed) {
          changed = true;
          // The stored UIDs of that side are void (RFC 3501 §2.3.1.1); content identities stay
          // for re-pairing, and nothing is deleted on the other side because of it.
          log("mailbox " + rep.name + ": UIDVALIDITY changed on the " + std::string(to_string(s)) +
              " side; re-pairing its messages by content");
          if (auto st = store_->void_side(p.pair, s); !st) return st;
        }
      }
      auto hashes = [&](const PerSide<std::vector<Uid>>& want) {
        return fetch_pair_hashes(exec, {{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}},
                                 p.name, want, net::deadline_in(opt_.timeout));
      };
      auto adopted = resolve_intents(*store_, p.pair, work.delta, work.stored, hashes);
      if (!adopted) return adopted.error();
      auto learnt = learn_email_ids(*store_, p.pair, work.delta, work.stored);
      if (!learnt) return learnt.error();
      if (changed || *adopted || *learnt) {
        work.stored = {};  // freed before it is read again
        loaded = stored_for(p.pair, work.delta);
        if (!loaded) return loaded.error();
        work.stored = std::move(*loaded);
      }
    }
    // Look-alike groups are confirmed by body hashes (nothing is fetched when none).
    if (auto st = fill_ambiguous_hashes(
            exec, {{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}},
            net::deadline_in(opt_.timeout), work);
        !st) {
      return st;
    }
    // Lent to the reconciler, not copied (a large mailbox's pairs and deltas are the bulk of
    // the run's memory), and taken back for the executor.
    ReconcileInput in{std::move(work.stored), std::move(work.delta), work.caps, opt_.policy};
    Plan plan = reconcile(in);
    work.stored = std::move(in.stored);
    work.delta = std::move(in.delta);
    const bool more = work.delta[Side::Local].more_new || work.delta[Side::Remote].more_new;
    if (pass == 0 && opt_.observer) {
      PlanTotals t = totals_of(plan);
      for (Side s : kBothSides) {
        // A windowed side: the mailbox's total is LIST-STATUS's count, bytes pro rata.
        const auto& e = p.entry[s];
        if (!work.delta[s].more_new || !e || !e->messages || *e->messages <= t.copies[other(s)]) continue;
        const std::uint64_t seen = t.copies[other(s)];
        if (seen > 0) t.bytes[other(s)] = t.bytes[other(s)] * *e->messages / seen;
        t.copies[other(s)] = *e->messages;
      }
      opt_.observer->mailbox_started(rep.name, t);
    }
    if (skips_mailbox(plan)) {
      for (const auto& a : plan.actions) {
        if (auto* s = std::get_if<SkipMailbox>(&a)) return fail(Errc::Conflict, Scope::Mailbox, s->reason);
      }
    }
    if (opt_.dry_run) {
      for (const auto& a : plan.actions) rep.plan.push_back(to_string(a));
      return {};
    }
    PerSide<bool> stored_flags{};
    if (!follow_up.empty()) {
      if (auto st = exec.store_flags(work, follow_up, rep.to); !st) return st;
      for (const auto& f : follow_up) stored_flags[f.side] = true;
      follow_up.clear();
    }
    // The executor reads the deltas' flags only for flag stores (FlagLookup). Without any, the
    // new messages live on in the plan's copies alone: a first sync holds them once.
    bool stores = std::any_of(plan.actions.begin(), plan.actions.end(),
                              [](const Action& a) { return std::holds_alternative<StoreFlags>(a); });
    if (!stores) {
      for (Side s : kBothSides) {
        decltype(Delta::added)().swap(work.delta[s].added);  // `= {}` would keep the capacity
        decltype(Delta::changed)().swap(work.delta[s].changed);
      }
    }
    if (!plan.empty()) {
      if (auto st = exec.execute(work, plan, rep.to); !st) return st;
    }
    PerSide<bool> wrote{{moved, moved}};
    for (Side s : kBothSides) wrote[s] = wrote[s] || stored_flags[s];
    for (const auto& a : plan.actions) {
      if (const auto* c = std::get_if<Copy>(&a)) wrote[other(c->from)] = true;
      if (const auto* f = std::get_if<StoreFlags>(&a)) wrote[f->side] = true;
      if (const auto* e = std::get_if<Expunge>(&a)) wrote[e->side] = true;
    }
    for (Side s : kBothSides) {
      read[s] = wrote[s] ? SideRead::Full : work.delta[s].more_new ? SideRead::NextWindow : SideRead::Skip;
    }
    // The snapshot taken at SELECT, never later values (PROTOCOL.md §4.3); written last.
    for (Side s : kBothSides) {
      state::SideState ss = stored.side[s];
      ss.uidvalidity = work.delta[s].snapshot.uidvalidity;
      ss.uidnext = work.delta[s].snapshot.uidnext;
      ss.highestmodseq = work.delta[s].snapshot.highestmodseq;
      ss.announced_modseq = work.delta[s].snapshot.announced;
      ss.last_sync = static_cast<std::int64_t>(std::time(nullptr));
      ss.problem.clear();
      if (p.entry[s] && !p.entry[s]->mailbox_id.empty()) ss.mailbox_id = p.entry[s]->mailbox_id;
      if (auto st = store_->set_side_state(p.pair, s, ss); !st) return st;
    }
    // A mailbox that moves touched changed after its SELECT snapshot: confirm once more so
    // the stored snapshot covers our own changes (else the next run is not a no-op).
    if (plan.empty() && !moved && !more) break;
    moved = false;
  }
  return {};
}

Result<SyncReport> Engine::run() {
  std::string path = opt_.state_path;
  if (opt_.dry_run && !std::filesystem::exists(path)) {
    // A dry run writes nothing to the real state: use a throw-away one.
    char tmpl[] = "/tmp/twinbox-dry-XXXXXX";
    if (!mkdtemp(tmpl)) return fail(Errc::Io, Scope::Fatal, "cannot create a temporary directory");
    dry_state_dir_ = tmpl;
    path = (dry_state_dir_ / "state.db").string();
  } else if (!opt_.dry_run) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  }
  state::OpenOptions oo;
  oo.durable = opt_.durable_state;
  auto st = state::StateStore::open(path, oo);
  if (!st) return st.error();
  store_.emplace(std::move(*st));
  auto cleanup = [&] {
    if (!dry_state_dir_.empty()) {
      store_.reset();
      std::error_code ec;
      std::filesystem::remove_all(dry_state_dir_, ec);
    }
  };

  if (auto c = connect(); !c) {
    cleanup();
    return c.error();
  }
  PerSide<std::uint64_t> base_commands;
  for (Side s : kBothSides) {
    // ID and ENABLE may still be queued (pipelined with the LIST): not this run's commands.
    base_commands[s] = std::max(sessions_[s]->commands_sent(), setup_[s].commands_after_setup);
  }

  auto plan = list_mailboxes();
  if (!plan) {
    cleanup();
    return plan.error();
  }
  if (!opt_.only.empty()) {
    std::erase_if(plan->pairs, [&](const PairToSync& p) {
      std::string c = canonical_of(p.name[Side::Local], ns_[Side::Local]);
      return std::find(opt_.only.begin(), opt_.only.end(), c) == opt_.only.end();
    });
    std::erase_if(plan->creates, [&](const CreateMailbox& c) {
      std::string n = canonical_of(c.name, ns_[c.side]);
      return std::find(opt_.only.begin(), opt_.only.end(), n) == opt_.only.end();
    });
  }
  std::set<std::string> created;
  for (const auto& c : plan->creates) created.insert(c.name);
  if (auto a = apply_list_plan(*plan); !a) {
    cleanup();
    return a.error();
  }

  // Phase A: deltas of every changed pair (needed together to recognise moves).
  struct Work {
    PairToSync pair;
    MailboxReport report;
    std::optional<PerSide<Delta>> delta;
  };
  std::vector<Work> work;
  std::vector<PerSide<SideChange>> changes;  ///< of each pair in `work`
  for (const auto& p : plan->pairs) {
    ++report_.mailboxes_checked;
    auto mb = store_->mailbox(p.pair);
    if (!mb) {
      cleanup();
      return mb.error();
    }
    state::MailboxPair stored = mb->value_or(state::MailboxPair{});
    auto intents = store_->intents(p.pair);
    bool pending = intents && !intents->empty();
    if (!pending && unchanged(stored, p.entry)) {
      ++report_.mailboxes_skipped_unchanged;
      continue;
    }
    PerSide<SideChange> change;
    for (Side s : kBothSides) {
      auto below = store_->count_side_below(p.pair, s, stored.side[s].uidnext);
      if (!below) {
        cleanup();
        return below.error();
      }
      change[s] = side_change(stored.side[s], p.entry[s], *below);
    }
    changes.push_back(change);
    Work w;
    w.pair = p;
    w.report.name = canonical_of(p.name[Side::Local], ns_[Side::Local]);
    w.report.created = created.count(p.name[Side::Local]) || created.count(p.name[Side::Remote]);
    work.push_back(std::move(w));
  }
  std::vector<MailboxInput> inputs;
  // The deltas of every changed pair are read up front only when a move is possible (without
  // stored pairs, or when LIST-STATUS shows no side that both lost messages in one mailbox and
  // gained some in another, none is) or when the observer shows the run's totals. Otherwise
  // each pair is read at its turn and SELECTed twice per side instead of three times. A first
  // sync whose totals are shown reads its pairs here only to count them, and again at their
  // turn: it holds one mailbox's messages at a time, not the whole account's (the light read).
  const bool totals = opt_.observer && opt_.observer->wants_run_totals();
  const bool keep_deltas = !no_pairs_stored_ && (totals || moves_possible(changes));
  PlanTotals counted;  ///< totals of the pairs whose delta was not kept
  const bool skip_first_read = !keep_deltas && !totals;
  for (auto& w : work) {
    if (skip_first_read) break;
    auto mb = store_->mailbox(w.pair.pair);
    if (!mb) {
      cleanup();
      return mb.error();
    }
    auto d = read_pair_deltas(w.pair, mb->value_or(state::MailboxPair{}));
    if (!d) {
      if (d.error().scope == Scope::Connection || d.error().scope == Scope::Fatal) {
        cleanup();
        return d.error();
      }
      w.report.error = d.error().message;
      continue;
    }
    auto loaded = stored_for(w.pair.pair, *d);
    if (!loaded) {
      cleanup();
      return loaded.error();
    }
    StoredMailbox stored = std::move(*loaded);
    if (!keep_deltas) {
      std::vector<MailboxInput> one{{w.pair.pair, ReconcileInput{std::move(stored), std::move(*d), caps(), opt_.policy}}};
      if (opt_.observer) counted += totals_of(one);
      continue;
    }
    // Held once, in `inputs`, for the move pass; handed back to `w.delta` after it.
    w.delta.emplace();
    inputs.push_back({w.pair.pair, ReconcileInput{std::move(stored), std::move(*d), caps(), opt_.policy}});
  }

  // Moves: only when both sides return COPYUID, so every moved message's new UID is known.
  std::map<MailboxKey, std::vector<StoreFlags>> follow_up;
  std::map<MailboxKey, PerSide<Counts>> moved_counts;
  std::set<MailboxKey> touched;  ///< mailboxes changed by moves (need a confirming pass)
  bool planned = false;  ///< run_planned() sent (before the deltas moved into `work`)
  bool can_move = sessions_[Side::Local]->has("UIDPLUS") && sessions_[Side::Remote]->has("UIDPLUS");
  if (can_move && inputs.size() > 1 && !opt_.dry_run) {
    // Look-alikes among the move candidates are told apart by body hashes (body_hashes.hpp).
    std::vector<PerSide<std::string>> box_names;
    for (const auto& in : inputs) {
      for (const auto& w : work) {
        if (w.pair.pair == in.mailbox) box_names.push_back(w.pair.name);
      }
    }
    Executor hasher({{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}}, loop_, *store_, opt_);
    if (auto hashed = fill_move_hashes(hasher, {{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}},
                                   net::deadline_in(opt_.timeout), inputs, box_names);
        !hashed) {
      cleanup();
      return hashed.error();
    }
    std::vector<Move> moves = match_moves(inputs);
    for (const auto& m : moves) {
      touched.insert(m.from);
      touched.insert(m.to);
    }
    if (!moves.empty()) {
      std::map<MailboxKey, PerSide<std::string>> names;
      for (const auto& w : work) names[w.pair.pair] = w.pair.name;
      Executor exec({{sessions_[Side::Local].get(), sessions_[Side::Remote].get()}}, loop_, *store_, opt_);
      auto r = exec.execute_moves(moves, names, follow_up, report_.total, moved_counts);
      if (!r) {
        cleanup();
        return r.error();
      }
      if (opt_.observer) {
        std::map<MailboxKey, std::string> display;
        for (const auto& w : work) display[w.pair.pair] = w.report.name;
        notify_moves(*opt_.observer, moves, display);
      }
      // The mutated inputs are the deltas of the passes below (totals first: they are moved).
      if (opt_.observer) opt_.observer->run_planned(totals_of(inputs));
      planned = true;
    }
  }
  if (opt_.observer && !planned) {
    PlanTotals t = totals_of(inputs);
    t += counted;
    opt_.observer->run_planned(t);
  }
  // The deltas (mutated by the moves, if any) go back to their pairs.
  for (auto& w : work) {
    for (auto& in : inputs) {
      if (in.mailbox == w.pair.pair && w.delta) w.delta = std::move(in.input.delta);
    }
  }
  // Copies of every pair's stored state and delta: not needed past the moves (memory grows
  // with the number of messages).
  inputs.clear();
  inputs.shrink_to_fit();

  for (auto& w : work) {
    if (auto it = moved_counts.find(w.pair.pair); it != moved_counts.end()) {
      for (Side s : kBothSides) w.report.to[s].moved += it->second[s].moved;
    }
    if (w.report.error.empty()) {
      std::vector<StoreFlags> fu;
      if (auto it = follow_up.find(w.pair.pair); it != follow_up.end()) fu = it->second;
      auto r = sync_pair(w.pair, w.report, std::move(w.delta), std::move(fu),
                         touched.count(w.pair.pair) > 0);
      if (!r) {
        if (r.error().scope == Scope::Connection || r.error().scope == Scope::Fatal) {
          cleanup();
          return r.error();
        }
        w.report.error = r.error().message;
        if (!opt_.dry_run) {
          for (Side s : kBothSides) (void)store_->set_problem(w.pair.pair, s, r.error().message);
        }
      }
    }
    if (opt_.observer) opt_.observer->mailbox_finished(w.report);
    for (Side s : kBothSides) {
      if (std::uint64_t n = w.report.to[s].marked; n > 0) {
        report_.problems.push_back(
            {w.report.name, std::to_string(n) + " message(s) expunged on the " +
                                std::string(to_string(other(s))) + " side are only marked \\Deleted on the " +
                                std::string(to_string(s)) + " side: that server has no UIDPLUS, so twinbox "
                                "never expunges there (a plain EXPUNGE would also remove other messages "
                                "marked \\Deleted); expunge them with your mail client"});
      }
      Counts c = w.report.to[s];
      c.moved = 0;  // moves were counted into the total when executed
      report_.total[s] += c;
    }
    if (w.report.to[Side::Local].any() || w.report.to[Side::Remote].any() || !w.report.error.empty() ||
        w.report.created || !w.report.plan.empty()) {
      report_.mailboxes.push_back(std::move(w.report));
    }
  }
  // LOGOUT politely, both sides at once; a failure here changes nothing. Watch mode keeps
  // unselected sessions for its next run instead.
  PerSide<client::Pending<void>> bye;
  PerSide<bool> out{false, false};
  for (Side s : kBothSides) {
    report_.commands[s] = sessions_[s]->commands_sent() - base_commands[s];
    if (keep_ && keep_for_next_run(*sessions_[s])) {
      keep_->session[s] = std::move(sessions_[s]);  // for the next run: no LOGOUT
      continue;
    }
    bye[s] = sessions_[s]->logout();
    out[s] = true;
  }
  if (out[Side::Local] && out[Side::Remote]) {
    (void)wait_loop([&] { return bye[Side::Local].ready() && bye[Side::Remote].ready(); });
  }
  for (Side s : kBothSides) {
    // The loop stops at the first closed connection (a completed LOGOUT closes it).
    if (out[s] && !bye[s].ready()) (void)wait(*sessions_[s], bye[s]);
  }
  cleanup();
  return std::move(report_);
}

}  // namespace

Result<SyncReport> run_sync(const EngineOptions& options, const LogFn& log) {
  Engine e(options, log);
  return e.run();
}

Result<SyncReport> run_sync(const EngineOptions& options, const LogFn& log, SyncConnections& keep) {
  Engine e(options, log, &keep);
  return e.run();
}

}  // namespace twinbox::sync
