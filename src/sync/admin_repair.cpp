// `twinbox repair` (admin.hpp): both sides of each stored mailbox pair compared with the state
// by content. Reads with EXAMINE and BODY.PEEK only; writes only the state database.

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <tuple>

#include <twinbox/sync/admin.hpp>
#include <twinbox/sync/reader.hpp>

#include "admin_link.hpp"
#include "engine_steps.hpp"
#include "hash_sink.hpp"

namespace twinbox::sync {
namespace {

using UidMap = std::map<std::uint32_t, NewMessage>;


/// What identifies a message (new_message_from_fetch reads it); no MODSEQ, which repair
/// does not need and a NOMODSEQ mailbox refuses.
client::FetchItems identity_fetch() {
  client::FetchItems items;
  items.flags = true;
  items.internal_date = true;
  items.size = true;
  items.extra.emplace_back("BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
  return items;
}

/// Both sides of one mailbox pair as they are now.
struct Snapshot {
  PerSide<client::SelectInfo> info;
  PerSide<UidMap> messages;
};

Result<Snapshot> read_both(AdminLink& l, const PerSide<std::string>& name) {
  Snapshot snap;
  PerSide<client::Pending<client::SelectInfo>> sel;
  client::SelectOptions so;
  so.read_only = true;
  for (Side s : kBothSides) sel[s] = l.session[s]->select(name[s], so);
  auto st = l.wait_loop([&] { return sel[Side::Local].ready() && sel[Side::Remote].ready(); });
  if (!st) return st.error();
  PerSide<client::Pending<client::FetchResult>> fetch;
  for (Side s : kBothSides) {
    auto r = std::move(sel[s].result());
    if (!r) return r.error().with_context("EXAMINE " + name[s] + " on the " + std::string(to_string(s)) + " side");
    snap.info[s] = std::move(*r);
    if (snap.info[s].exists == 0 || snap.info[s].uidnext.value <= 1) continue;
    imap::SeqSet all;
    all.add(1, snap.info[s].uidnext.value - 1);
    fetch[s] = l.session[s]->uid_fetch(all, identity_fetch());
  }
  st = l.wait_loop([&] {
    return (!fetch[Side::Local].valid() || fetch[Side::Local].ready()) &&
           (!fetch[Side::Remote].valid() || fetch[Side::Remote].ready());
  });
  if (!st) return st.error();
  for (Side s : kBothSides) {
    if (!fetch[s].valid()) continue;
    auto r = std::move(fetch[s].result());
    if (!r) return r.error().with_context("UID FETCH on the " + std::string(to_string(s)) + " side");
    for (const auto& f : r->messages) {
      if (f.uid) snap.messages[s][f.uid->value] = new_message_from_fetch(f, s);
    }
  }
  return snap;
}

/// SHA-256 of the bodies of `uids` on side `s`, into the identities of `messages`.
Status hash_bodies(AdminLink& l, Side s, const std::vector<std::uint32_t>& uids, UidMap& messages) {
  if (uids.empty()) return {};
  BodyHashSink sink;
  client::FetchItems items;
  items.flags = false;
  auto r = l.wait(s, l.session[s]->uid_fetch_stream(imap::SeqSet::from_vector(uids), items, sink));
  if (!r) return r.error().with_context("UID FETCH BODY.PEEK[] on the " + std::string(to_string(s)) + " side");
  for (auto& [uid, hex] : sink.hashes()) {
    if (auto it = messages.find(uid); it != messages.end()) it->second.identity.sha256 = hex;
  }
  return {};
}

bool same_identity(const MessageIdentity& a, const MessageIdentity& b) {
  return a.message_id == b.message_id && a.size == b.size && a.internaldate == b.internaldate;
}

/// The stored identity, when one was recorded, agrees with the message found.
bool matches_stored(const MessageIdentity& found, const state::ContentIdentity& stored) {
  if (stored.message_id.empty() && stored.size == 0) return true;  // nothing to disprove
  return same_identity(found, from_state(stored));
}

/// The repair of one mailbox pair, computed before anything is written.
struct Work {
  std::vector<state::MessagePair> drop;
  std::vector<state::MessagePair> add;
  std::vector<std::int64_t> intents;
  PerSide<std::set<std::uint32_t>> claimed;
  RepairCounts counts;
};

/// Keeps the stored pairs both sides still confirm; the others go to `w.drop`.
void judge_stored(const std::vector<state::MessagePair>& pairs, const Snapshot& snap, Work& w) {
  for (const auto& p : pairs) {
    PerSide<const NewMessage*> m{};
    for (Side s : kBothSides) {
      auto it = p.uid[s].valid() ? snap.messages[s].find(p.uid[s].value) : snap.messages[s].end();
      m[s] = it != snap.messages[s].end() ? &it->second : nullptr;
    }
    bool keep = false;
    if (m[Side::Local] && m[Side::Remote]) {
      keep = same_identity(m[Side::Local]->identity, m[Side::Remote]->identity);
      w.counts.confirmed += keep ? 1 : 0;
    } else if (m[Side::Local] || m[Side::Remote]) {
      // Gone on one side (an expunge the next sync propagates) or a half pair: kept while the
      // message left is the one the state describes.
      const NewMessage* left = m[Side::Local] ? m[Side::Local] : m[Side::Remote];
      keep = matches_stored(left->identity, p.identity);
    }
    if (!keep) {
      w.drop.push_back(p);
      continue;
    }
    for (Side s : kBothSides) {
      if (m[s]) w.claimed[s].insert(p.uid[s].value);
    }
  }
  w.counts.dropped = w.drop.size();
}

state::MessagePair new_pair(const NewMessage& l, const NewMessage& r) {
  state::MessagePair p;
  p.uid[Side::Local] = l.uid;
  p.uid[Side::Remote] = r.uid;
  // The base is what both have: the next sync then adds each side's extra flags to the other.
  p.base_flags = format_flags(flags_intersection(l.flags, r.flags));
  p.identity = {l.identity.message_id, l.identity.size, l.identity.internaldate, l.identity.sha256, {}};
  return p;
}

using Key = std::tuple<std::string, std::uint64_t, std::int64_t>;
Key key_of(const MessageIdentity& id) { return {id.message_id, id.size, id.internaldate}; }

/// Pairs `l` and `r` (same key) in UID order when both hold as many, by hash sub-group.
void pair_group(const std::vector<const NewMessage*>& l, const std::vector<const NewMessage*>& r,
                Work& w) {
  std::map<std::string, PerSide<std::vector<const NewMessage*>>> by_hash;
  for (const auto* m : l) by_hash[m->identity.sha256][Side::Local].push_back(m);
  for (const auto* m : r) by_hash[m->identity.sha256][Side::Remote].push_back(m);
  for (auto& [hash, sides] : by_hash) {
    const auto& a = sides[Side::Local];
    const auto& b = sides[Side::Remote];
    if (a.empty() || b.empty()) continue;  // no twin: one-sided, handled by the caller
    if (a.size() != b.size()) {
      w.counts.ambiguous += a.size() + b.size();
      for (const auto* m : a) w.claimed[Side::Local].insert(m->uid.value);
      for (const auto* m : b) w.claimed[Side::Remote].insert(m->uid.value);
      continue;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      w.add.push_back(new_pair(*a[i], *b[i]));
      w.claimed[Side::Local].insert(a[i]->uid.value);
      w.claimed[Side::Remote].insert(b[i]->uid.value);
      ++w.counts.paired;
    }
  }
}

/// Pairs the unclaimed messages of both sides by content, hashing look-alikes.
Status pair_unclaimed(AdminLink& l, Snapshot& snap, Work& w) {
  std::map<Key, PerSide<std::vector<std::uint32_t>>> groups;
  for (Side s : kBothSides) {
    for (const auto& [uid, m] : snap.messages[s]) {
      if (w.claimed[s].count(uid) == 0) groups[key_of(m.identity)][s].push_back(uid);
    }
  }
  PerSide<std::vector<std::uint32_t>> to_hash;
  for (const auto& [key, sides] : groups) {
    if (sides[Side::Local].empty() || sides[Side::Remote].empty()) continue;
    const bool unique = sides[Side::Local].size() == 1 && sides[Side::Remote].size() == 1;
    if (unique && !std::get<0>(key).empty()) continue;  // Message-ID + size + date suffice
    for (Side s : kBothSides) to_hash[s].insert(to_hash[s].end(), sides[s].begin(), sides[s].end());
  }
  for (Side s : kBothSides) {
    if (auto st = hash_bodies(l, s, to_hash[s], snap.messages[s]); !st) return st;
    w.counts.hashed += to_hash[s].size();
  }
  for (const auto& [key, sides] : groups) {
    PerSide<std::vector<const NewMessage*>> m;
    for (Side s : kBothSides) {
      for (auto uid : sides[s]) m[s].push_back(&snap.messages[s].at(uid));
    }
    pair_group(m[Side::Local], m[Side::Remote], w);
  }
  return {};
}

/// Messages with no twin at all become half pairs, which the next sync copies (reconcile.hpp
/// rule 6). Those at or above the stored UIDNEXT are new mail the next sync sees anyway.
void record_one_sided(const Snapshot& snap, const state::MailboxPair& sp, Work& w) {
  for (Side s : kBothSides) {
    for (const auto& [uid, m] : snap.messages[s]) {
      if (w.claimed[s].count(uid) != 0 || uid >= sp.side[s].uidnext.value) continue;
      state::MessagePair p;
      p.uid[s] = m.uid;
      p.base_flags = format_flags(m.flags);
      p.identity = {m.identity.message_id, m.identity.size, m.identity.internaldate, m.identity.sha256, {}};
      w.add.push_back(std::move(p));
      ++w.counts.one_sided;
    }
  }
}

/// Intents whose source message is now paired (or gone) are settled by the comparison.
Status settle_intents(state::StateStore& store, const state::MailboxPair& sp,
                      const Snapshot& snap, Work& w) {
  auto intents = store.intents(sp.id);
  if (!intents) return intents.error();
  for (const auto& in : *intents) {
    const std::uint32_t uid = in.source_uid.value;
    const bool gone = snap.messages[in.source_side].count(uid) == 0;
    bool paired = false;
    for (const auto& p : w.add) paired = paired || (p.uid[in.source_side].value == uid && p.uid[other(in.source_side)].valid());
    if (gone || paired) w.intents.push_back(in.id);
  }
  w.counts.intents = w.intents.size();
  return {};
}

Status write_work(state::StateStore& store, const state::MailboxPair& sp, const Work& w) {
  auto txn = store.begin();
  if (!txn) return txn.error();
  for (const auto& p : w.drop) {
    const Side s = p.uid[Side::Local].valid() ? Side::Local : Side::Remote;
    const Uid uid = p.uid[s];
    if (auto st = store.remove_pairs(sp.id, s, std::span<const Uid>(&uid, 1)); !st) return st;
  }
  if (auto st = store.upsert_pairs(sp.id, w.add); !st) return st;
  for (auto id : w.intents) {
    if (auto st = store.drop_intent(id); !st) return st;
  }
  // Forget the mod-sequences: the next sync then reads every flag, so the flags of the new
  // pairs are merged even where neither side changed them since.
  for (Side s : kBothSides) {
    state::SideState ss = sp.side[s];
    ss.highestmodseq = ModSeq();
    ss.announced_modseq = ModSeq();
    if (auto st = store.set_side_state(sp.id, s, ss); !st) return st;
  }
  return txn->commit();
}

Result<RepairCounts> repair_pair(AdminLink& l, state::StateStore& store,
                                 const state::MailboxPair& sp, bool dry_run, std::string& skipped) {
  auto snap = read_both(l, sp.name);
  if (!snap) return snap.error();
  for (Side s : kBothSides) {
    if (sp.side[s].uidvalidity.valid() && snap->info[s].uidvalidity != sp.side[s].uidvalidity) {
      skipped = "UIDVALIDITY changed on the " + std::string(to_string(s)) +
                " side since the last sync; 'twinbox sync' re-pairs it by content";
      return RepairCounts{};
    }
  }
  auto pairs = store.pairs(sp.id);
  if (!pairs) return pairs.error();
  Work w;
  judge_stored(*pairs, *snap, w);
  if (auto st = pair_unclaimed(l, *snap, w); !st) return st.error();
  record_one_sided(*snap, sp, w);
  if (auto st = settle_intents(store, sp, *snap, w); !st) return st.error();
  if (!dry_run && w.counts.changed()) {
    if (auto st = write_work(store, sp, w); !st) return st.error();
  }
  return w.counts;
}

void add_counts(RepairCounts& t, const RepairCounts& c) {
  t.confirmed += c.confirmed;
  t.dropped += c.dropped;
  t.paired += c.paired;
  t.hashed += c.hashed;
  t.one_sided += c.one_sided;
  t.ambiguous += c.ambiguous;
  t.intents += c.intents;
}

bool listed(const AdminLink& l, Side s, const std::string& wire) {
  return std::any_of(l.entries[s].begin(), l.entries[s].end(),
                     [&](const MailboxEntry& e) { return e.name == wire && e.selectable; });
}

}  // namespace

Result<RepairReport> repair(const EngineOptions& options, const LogFn& log) {
  auto run = open_admin(options, false);
  if (!run) return run.error();
  state::StateStore& store = run->store;
  AdminLink& l = *run->link;
  const std::vector<state::MailboxPair>& stored = run->stored;
  for (const auto& want : options.only) {
    if (!stored_pair(stored, l.ns[Side::Local], want)) {
      return fail(Errc::Config, Scope::Fatal,
                  "mailbox " + want + " is not synced yet (not in the state database); "
                  "'twinbox status' lists the synced mailboxes");
    }
  }
  RepairReport report;
  for (const auto& sp : stored) {
    RepairMailbox rm;
    rm.name = canonical_of(sp.name[Side::Local], l.ns[Side::Local]);
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), rm.name) == options.only.end()) {
      continue;
    }
    if (!listed(l, Side::Local, sp.name[Side::Local]) || !listed(l, Side::Remote, sp.name[Side::Remote])) {
      rm.skipped = "missing on a side (renamed or deleted since the last sync); run 'twinbox sync' first";
    } else {
      auto c = repair_pair(l, store, sp, options.dry_run, rm.skipped);
      if (!c) {
        if (c.error().scope == Scope::Connection || c.error().scope == Scope::Fatal) return c.error();
        rm.skipped = c.error().message;
      } else {
        rm.counts = *c;
      }
    }
    if (log && !rm.skipped.empty()) log("mailbox " + rm.name + ": not repaired: " + rm.skipped);
    add_counts(report.total, rm.counts);
    report.mailboxes.push_back(std::move(rm));
  }
  l.logout();
  return report;
}

}  // namespace twinbox::sync
