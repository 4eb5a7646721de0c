// The admin operations of admin.hpp that work on whole mailboxes: the shared connection
// (admin_link.hpp), `list`, `rename` and `delete`. `repair` is in admin_repair.cpp.

#include <filesystem>
#include <set>
#include <thread>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_link.hpp"
#include "engine_steps.hpp"
#include "wait.hpp"

namespace twinbox::sync {

// ---- the shared connection ----

Status AdminLink::wait_loop(const std::function<bool()>& done) {
  if (done()) return {};
  return drive_until(loop, done, net::deadline_in(opt.timeout));
}

const MailboxEntry* AdminLink::find(Side s, std::string_view canonical) const {
  for (const auto& e : entries[s]) {
    if (canonical_of(e.name, ns[s]) == canonical) return &e;
  }
  return nullptr;
}

void AdminLink::logout() {
  for (Side s : kBothSides) {
    if (session[s]) (void)wait(s, session[s]->logout());
  }
}

namespace {

Status connect_both(AdminLink& link) {
  using SessionResult = Result<std::unique_ptr<client::Session>>;
  PerSide<SessionResult> res{{SessionResult(Error()), SessionResult(Error())}};
  std::thread remote([&] { res[Side::Remote] = client::connect(link.opt.endpoints[Side::Remote]); });
  res[Side::Local] = client::connect(link.opt.endpoints[Side::Local]);
  remote.join();
  for (Side s : kBothSides) {
    if (!res[s]) {
      const auto& ep = link.opt.endpoints[s];
      std::string where = ep.transport == client::Transport::Tunnel ? "tunnel" : ep.host;
      return res[s].error().with_context(std::string(to_string(s)) + " (" + where + ")");
    }
    link.session[s] = std::move(*res[s]);
    link.loop.add(*link.session[s]);
  }
  return {};
}

Status read_lists(AdminLink& link) {
  PerSide<client::Pending<std::vector<client::ListEntry>>> lists;
  PerSide<client::Pending<client::NamespaceInfo>> nss;
  for (Side s : kBothSides) {
    client::ListOptions lo;
    lo.with_status = true;
    lo.status_items.mailboxid = link.session[s]->has("OBJECTID");
    lists[s] = link.session[s]->list(lo);
    if (link.session[s]->has("NAMESPACE")) nss[s] = link.session[s]->namespaces();
  }
  auto st = link.wait_loop([&] {
    for (Side s : kBothSides) {
      if (!lists[s].ready() || (nss[s].valid() && !nss[s].ready())) return false;
    }
    return true;
  });
  if (!st) return st;
  for (Side s : kBothSides) {
    auto r = std::move(lists[s].result());
    if (!r) return r.error().with_context("LIST on the " + std::string(to_string(s)) + " side");
    std::optional<char> delim;
    for (const auto& e : *r) {
      link.entries[s].push_back(to_entry(e));
      if (!delim && e.delimiter) delim = e.delimiter;
    }
    link.ns[s].delimiter = delim.value_or('/');
    if (nss[s].valid()) {
      auto n = std::move(nss[s].result());
      if (n && !n->personal.empty()) {
        link.ns[s].prefix = n->personal.front().prefix;
        if (n->personal.front().delimiter) link.ns[s].delimiter = *n->personal.front().delimiter;
      }
    }
  }
  return {};
}

std::string side_name(Side s) { return std::string(to_string(s)); }

Error usage(std::string message) { return fail(Errc::Config, Scope::Fatal, std::move(message)); }

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& c : path) out += (out.empty() ? "" : "/") + c;
  return out;
}

bool is_inbox(const std::vector<std::string>& path) {
  return path.size() == 1 && path[0] == "INBOX";
}

}  // namespace

Result<std::unique_ptr<AdminLink>> open_link(const EngineOptions& options) {
  auto link = std::make_unique<AdminLink>(options);
  if (auto st = connect_both(*link); !st) return st.error();
  if (auto st = read_lists(*link); !st) return st.error();
  return link;
}

Result<state::StateStore> lock_state(const EngineOptions& options, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!create && !fs::exists(options.state_path, ec)) {
    return usage("state database " + options.state_path +
                 " does not exist: nothing has been synced with this config yet; run "
                 "'twinbox sync' first");
  }
  if (create) fs::create_directories(fs::path(options.state_path).parent_path(), ec);
  state::OpenOptions oo;
  oo.create = create;
  oo.durable = options.durable_state;
  return state::StateStore::open(options.state_path, oo);
}

std::vector<std::string> split_canonical(std::string_view name) {
  std::vector<std::string> path;
  std::string cur;
  for (char c : name) {
    if (c == '/') {
      path.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  path.push_back(std::move(cur));
  if (path.size() == 1 && path[0].size() == 5) {
    std::string up = path[0];
    for (char& c : up) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    if (up == "INBOX") path[0] = up;
  }
  return path;
}

std::optional<state::MailboxPair> stored_pair(const std::vector<state::MailboxPair>& stored,
                                              const Namespace& local_ns,
                                              std::string_view canonical) {
  for (const auto& m : stored) {
    if (canonical_of(m.name[Side::Local], local_ns) == canonical) return m;
  }
  return std::nullopt;
}

// ---- list ----

namespace {

std::string exclusion(const ListPolicy& pol, const std::string& canonical, const MailboxEntry& e) {
  if (!e.selectable) return "cannot hold messages (\\Noselect)";
  bool included = false;
  bool by_name = false;
  for (const auto& p : pol.include) {
    included = included || pattern_match(p, canonical);
    by_name = by_name || p == canonical;
  }
  if (!included) return "not matched by 'mailboxes'";
  for (const auto& p : pol.exclude) {
    if (pattern_match(p, canonical)) return "excluded by 'exclude = " + p + "'";
  }
  if (pol.exclude_virtual && e.is_virtual && !by_name) return "virtual (\\All or \\Flagged)";
  return {};
}

ListInput list_input(const AdminLink& link, const std::optional<state::StateSummary>& summary) {
  ListInput in;
  in.entries = link.entries;
  in.ns = link.ns;
  in.policy = link.opt.list;
  if (summary) {
    for (const auto& m : summary->mailboxes) {
      in.stored.push_back(m.pair);
      in.pair_counts.emplace_back(m.pair.id, m.messages + m.half_pairs);
    }
  }
  return in;
}

}  // namespace

Result<ListReport> list_mailboxes(const EngineOptions& options) {
  std::optional<state::StateSummary> summary;
  auto read = state::read_summary(options.state_path);
  if (read) {
    summary = std::move(*read);
  } else if (read.error().code != Errc::NotFound) {
    return read.error();
  }
  auto link = open_link(options);
  if (!link) return link.error();
  AdminLink& l = **link;
  MailboxListPlan plan = plan_mailboxes(list_input(l, summary));

  ListReport out;
  out.ns = l.ns;
  out.state_found = summary.has_value();
  out.renames = plan.renames;
  out.deletes = plan.deletes;
  out.problems = plan.problems;
  for (const auto& p : plan.pairs) {
    ListedPair lp;
    lp.name = p.name;
    lp.display = canonical_of(p.name[Side::Local], l.ns[Side::Local]);
    lp.special_use = p.special_use;
    lp.stored = p.pair != 0;
    for (Side s : kBothSides) {
      if (!p.entry[s]) lp.create_on = s;
    }
    out.pairs.push_back(std::move(lp));
  }
  for (Side s : kBothSides) {
    for (const auto& e : l.entries[s]) {
      ListedMailbox m;
      m.entry = e;
      m.display = canonical_of(e.name, l.ns[s]);
      m.excluded = exclusion(options.list, m.display, e);
      for (const auto& p : plan.pairs) {
        if (p.name[s] == e.name) m.paired_with = p.name[other(s)];
      }
      out.mailboxes[s].push_back(std::move(m));
    }
  }
  l.logout();
  return out;
}

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
  auto store = lock_state(options, true);
  if (!store) return store.error();
  auto link = open_link(options);
  if (!link) return link.error();
  AdminLink& l = **link;
  auto stored = store->mailboxes();
  if (!stored) return stored.error();
  const std::string old_c = join_path(old_path);
  const std::string new_c = join_path(new_path);
  auto sp = stored_pair(*stored, l.ns[Side::Local], old_c);
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
  auto txn = store->begin();
  if (!txn) return txn.error();
  for (auto m : *stored) {
    bool changed = false;
    for (Side s : kBothSides) {
      if (r.from[s].empty()) continue;
      if (auto n = renamed(m.name[s], r.from[s], r.to[s], l.ns[s].delimiter)) {
        m.name[s] = *n;
        changed = true;
      }
    }
    if (!changed) continue;
    if (auto id = store->upsert_mailbox(m); !id) return id.error();
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
  if (l.session[s]->has("UNSELECT")) (void)l.wait(s, l.session[s]->unselect());
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
  auto store = lock_state(options, true);
  if (!store) return store.error();
  auto link = open_link(options);
  if (!link) return link.error();
  AdminLink& l = **link;
  auto stored = store->mailboxes();
  if (!stored) return stored.error();
  auto sp = stored_pair(*stored, l.ns[Side::Local], display);
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
    if (auto st = check_deletable(l, *store, sp, r, display); !st) return st.error();
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
    if (auto st = store->remove_mailbox(sp->id); !st) return st.error();
    r.state_removed = true;
  }
  l.logout();
  return r;
}

}  // namespace twinbox::sync
