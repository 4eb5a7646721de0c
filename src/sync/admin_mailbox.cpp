// `twinbox rename` and `twinbox delete` (admin.hpp): on both servers first, then in the state.

#include <set>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_link.hpp"
#include "engine_steps.hpp"

namespace twinbox::sync {

// ---- rename ----

namespace {

/// True when `e` is the mailbox the stored side state describes (same MAILBOXID, or without
/// one the same UIDVALIDITY): how an earlier rename of it is recognised.
bool same_mailbox(const MailboxEntry& e, const state::SideState& st) {
  if (!st.mailbox_id.empty()) return e.mailbox_id == st.mailbox_id;
  return st.uidvalidity.valid() && e.uidvalidity && *e.uidvalidity == st.uidvalidity;
}

/// `name` renamed when it is `from` or below it (IMAP RENAME moves the inferiors too).
std::optional<std::string> renamed(const std::string& name, const std::string& from,
                                   const std::string& to, char delim) {
  if (name == from) return to;
  if (name.size() > from.size() && name.compare(0, from.size(), from) == 0 &&
      name[from.size()] == delim) {
    return to + name.substr(from.size());
  }
  return std::nullopt;
}

Status plan_rename(const AdminLink& link, const std::optional<state::MailboxPair>& sp,
                   const std::vector<std::string>& new_path, std::string_view old_c,
                   std::string_view new_c, RenameResult& r) {
  for (Side s : kBothSides) {
    const MailboxEntry* o = link.find(s, old_c);
    const MailboxEntry* n = link.find(s, new_c);
    auto to = wire_name(new_path, link.ns[s]);
    if (!to) return usage(to.error().message + " (" + side_name(s) + " side)");
    if (o && n) {
      return usage("cannot rename " + std::string(old_c) + ": " + std::string(new_c) +
                   " already exists on the " + side_name(s) +
                   " side; choose another name, or delete that mailbox first");
    }
    if (o) {
      r.from[s] = o->name;
      r.to[s] = *to;
    } else if (n) {
      if (!sp || !same_mailbox(*n, sp->side[s])) {
        return usage("cannot rename " + std::string(old_c) + ": " + std::string(new_c) +
                     " already exists on the " + side_name(s) + " side");
      }
      r.already[s] = true;  // renamed there by an earlier run that stopped midway
      r.from[s] = sp->name[s];
      r.to[s] = n->name;
    }
  }
  if (r.from[Side::Local].empty() && r.from[Side::Remote].empty()) {
    return usage("no mailbox " + std::string(old_c) +
                 " on either side; 'twinbox list' shows the mailboxes of both");
  }
  return {};
}

}  // namespace

Result<RenameResult> rename_mailbox(const EngineOptions& options, std::string_view old_name,
                                    std::string_view new_name, const LogFn& log) {
  const auto old_path = split_canonical(old_name);
  const auto new_path = split_canonical(new_name);
  if (is_inbox(old_path) || is_inbox(new_path)) {
    return usage("INBOX cannot be renamed (IMAP RENAME of INBOX moves its messages instead)");
  }
  if (old_name == new_name) return usage("OLD and NEW are the same name");
  auto run = open_admin(options, true);
  if (!run) return run.error();
  state::StateStore& store = run->store;
  AdminLink& l = *run->link;
  const std::vector<state::MailboxPair>& stored = run->stored;
  const std::string old_c = join_path(old_path);
  const std::string new_c = join_path(new_path);
  auto sp = stored_pair(stored, l.ns[Side::Local], old_c);
  RenameResult r;
  if (auto st = plan_rename(l, sp, new_path, old_c, new_c, r); !st) return st.error();

  for (Side s : kBothSides) {
    if (r.from[s].empty() || r.already[s]) continue;
    crash_point("IMAP RENAME");
    auto res = l.wait(s, l.session[s]->rename(r.from[s], r.to[s]));
    if (!res) {
      const bool half = r.renamed[other(s)] || r.already[other(s)];
      return res.error().with_context(
          "RENAME " + r.from[s] + " on the " + side_name(s) + " side" +
          (half ? " (the " + side_name(other(s)) +
                      " side is renamed already; run the same 'twinbox rename' again, or "
                      "'twinbox sync', to finish it)"
                : ""));
    }
    r.renamed[s] = true;
    if (log) log("renamed " + r.from[s] + " to " + r.to[s] + " on the " + side_name(s) + " side");
  }
  auto txn = store.begin();
  if (!txn) return txn.error();
  for (auto m : stored) {
    bool changed = false;
    for (Side s : kBothSides) {
      if (r.from[s].empty()) continue;
      if (auto n = renamed(m.name[s], r.from[s], r.to[s], l.ns[s].delimiter)) {
        m.name[s] = *n;
        changed = true;
      }
    }
    if (!changed) continue;
    if (auto id = store.upsert_mailbox(m); !id) return id.error();
    ++r.state_pairs;
  }
  if (auto st = txn->commit(); !st) return st.error();
  l.logout();
  return r;
}

// ---- delete ----

namespace {

/// Messages on side `s` of the mailbox that are not in a stored pair with a twin.
Result<std::size_t> unseen_on(AdminLink& l, Side s, const std::string& name,
                              const std::optional<state::MailboxPair>& sp,
                              const std::vector<state::MessagePair>& pairs) {
  client::SelectOptions so;
  so.read_only = true;
  auto sel = l.wait(s, l.session[s]->select(name, so));
  if (!sel) return sel.error().with_context("EXAMINE " + name + " on the " + side_name(s) + " side");
  auto found = l.wait(s, l.session[s]->uid_search("ALL"));
  if (!found) return found.error().with_context("UID SEARCH on the " + side_name(s) + " side");
  // Leave the mailbox before its DELETE (some servers refuse to delete the selected one).
  if (l.session[s]->has("UNSELECT")) {
    (void)l.wait(s, l.session[s]->unselect());
  } else {
    (void)l.wait(s, l.session[s]->select("INBOX", so));
  }
  if (sp && sel->uidvalidity != sp->side[s].uidvalidity) return found->uids.size();
  std::set<std::uint32_t> known;
  for (const auto& p : pairs) {
    if (p.uid[s].valid() && p.uid[other(s)].valid()) known.insert(p.uid[s].value);
  }
  std::size_t unseen = 0;
  for (const auto& range : found->uids.ranges()) {
    for (std::uint64_t u = range.lo; u <= range.hi; ++u) {
      unseen += known.count(static_cast<std::uint32_t>(u)) == 0 ? 1 : 0;
    }
  }
  return unseen;
}

Status check_deletable(AdminLink& l, state::StateStore& store,
                       const std::optional<state::MailboxPair>& sp, const DeleteResult& r,
                       std::string_view display) {
  std::vector<state::MessagePair> pairs;
  if (sp) {
    auto intents = store.intents(sp->id);
    if (!intents) return intents.error();
    if (!intents->empty()) {
      return usage("refusing to delete " + std::string(display) +
                   ": a copy into it was interrupted; run 'twinbox sync' first, or add --force");
    }
    auto p = store.pairs(sp->id);
    if (!p) return p.error();
    pairs = std::move(*p);
  }
  for (Side s : kBothSides) {
    if (r.name[s].empty()) continue;
    auto unseen = unseen_on(l, s, r.name[s], sp, pairs);
    if (!unseen) return unseen.error();
    if (*unseen > 0) {
      return usage("refusing to delete " + std::string(display) + ": the " + side_name(s) +
                   " side holds " + std::to_string(*unseen) +
                   (*unseen == 1 ? " message" : " messages") + " the " +
                   side_name(other(s)) +
                   " side has not seen (not synced yet). Run 'twinbox sync' first, or add "
                   "--force to delete them anyway");
    }
  }
  return {};
}

}  // namespace

Result<DeleteResult> delete_mailbox(const EngineOptions& options, std::string_view name,
                                    bool force, const LogFn& log) {
  const auto path = split_canonical(name);
  if (is_inbox(path)) return usage("INBOX cannot be deleted");
  const std::string display = join_path(path);
  auto run = open_admin(options, true);
  if (!run) return run.error();
  state::StateStore& store = run->store;
  AdminLink& l = *run->link;
  const std::vector<state::MailboxPair>& stored = run->stored;
  auto sp = stored_pair(stored, l.ns[Side::Local], display);
  DeleteResult r;
  for (Side s : kBothSides) {
    if (const MailboxEntry* e = l.find(s, display)) {
      r.name[s] = e->name;
      r.messages[s] = e->messages.value_or(0);
    }
  }
  if (r.name[Side::Local].empty() && r.name[Side::Remote].empty() && !sp) {
    return usage("no mailbox " + display + " on either side; 'twinbox list' shows the mailboxes");
  }
  if (!force) {
    if (auto st = check_deletable(l, store, sp, r, display); !st) return st.error();
  }
  for (Side s : kBothSides) {
    if (r.name[s].empty()) continue;
    crash_point("IMAP DELETE");
    auto res = l.wait(s, l.session[s]->delete_mailbox(r.name[s]));
    if (!res) {
      const bool half = r.deleted[other(s)];
      return res.error().with_context(
          "DELETE " + r.name[s] + " on the " + side_name(s) + " side" +
          (half ? " (deleted on the " + side_name(other(s)) +
                      " side already; run the same 'twinbox delete' again to finish it)"
                : ""));
    }
    r.deleted[s] = true;
    if (log) log("deleted " + r.name[s] + " on the " + side_name(s) + " side");
  }
  if (sp) {
    if (auto st = store.remove_mailbox(sp->id); !st) return st.error();
    r.state_removed = true;
  }
  l.logout();
  return r;
}

}  // namespace twinbox::sync
