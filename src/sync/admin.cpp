// The admin operations of admin.hpp: the shared connection (admin_link.hpp) and `list`.
// `rename` and `delete` are in admin_mailbox.cpp, `repair` in admin_repair.cpp.

#include <filesystem>

#include <twinbox/sync/admin.hpp>

#include "admin_link.hpp"
#include "engine_steps.hpp"
#include "wait.hpp"

namespace twinbox::sync {

// ---- the shared connection ----

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
  if (auto st = connect_endpoints(link.opt.endpoints, link.session); !st) return st;
  for (Side s : kBothSides) link.loop.add(*link.session[s]);
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
    for (const auto& e : *r) link.entries[s].push_back(to_entry(e));
    std::optional<client::NamespaceInfo> asked;
    if (nss[s].valid() && nss[s].result()) asked = *nss[s].result();
    link.ns[s] = namespace_of(*r, asked);
  }
  return {};
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

Result<AdminRun> open_admin(const EngineOptions& options, bool create_state) {
  auto store = lock_state(options, create_state);
  if (!store) return store.error();
  auto link = open_link(options);
  if (!link) return link.error();
  auto stored = store->mailboxes();
  if (!stored) return stored.error();
  return AdminRun{std::move(*store), std::move(*link), std::move(*stored)};
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

}  // namespace twinbox::sync
