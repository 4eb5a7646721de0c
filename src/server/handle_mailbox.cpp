// Mailbox management: CREATE (+ CREATE-SPECIAL-USE, RFC 6154 §3), DELETE, RENAME,
// SUBSCRIBE, UNSUBSCRIBE, STATUS (RFC 3501 §6.3.3-§6.3.10; HIGHESTMODSEQ RFC 7162 §3.1.7;
// MAILBOXID RFC 8474 §4).

#include <algorithm>

#include "session.hpp"

namespace twinbox::server {
namespace {

constexpr std::string_view kSpecialUse[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged",
                                            "\\Junk", "\\Sent", "\\Trash"};

std::optional<std::string> canonical_special_use(std::string_view a) {
  for (auto s : kSpecialUse) {
    if (iequals(s, a)) return std::string(s);
  }
  return std::nullopt;
}

}  // namespace

void Session::cmd_create(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "CREATE needs a mailbox name");
  auto raw = c.astring();
  if (!raw) return tagged(tag, "BAD", "CREATE needs a mailbox name: " + c.error());
  std::vector<std::string> uses;
  if (c.eat(' ')) {
    // create-param: (USE (\Sent ...)) (RFC 6154 §3)
    if (!c.eat('(') || !c.eat_word("USE") || !c.sp() || !c.eat('(')) {
      return tagged(tag, "BAD", "Invalid CREATE parameters: " + c.error());
    }
    if (!core_.has("CREATE-SPECIAL-USE")) return tagged(tag, "BAD", "CREATE parameters are not supported");
    while (!c.eat(')')) {
      if (!uses.empty() && !c.sp()) return tagged(tag, "BAD", "Invalid USE list: " + c.error());
      auto f = c.flag();
      if (!f) return tagged(tag, "BAD", "Invalid USE list: " + c.error());
      auto su = canonical_special_use(*f);
      if (!su) return tagged(tag, "NO", "[USEATTR] Unknown special-use attribute " + *f);
      uses.push_back(*su);
    }
    if (!c.eat(')')) return tagged(tag, "BAD", "Invalid CREATE parameters: missing )");
  }
  if (!c.end()) return tagged(tag, "BAD", "Invalid CREATE arguments: " + c.error());
  std::string name = normalize_mailbox(*raw);
  if (name == "INBOX") return tagged(tag, "NO", "[ALREADYEXISTS] Mailbox already exists");
  if (auto why = invalid_mailbox_reason(name); !why.empty()) return tagged(tag, "NO", "[CANNOT] " + why);
  auto existing = store().find_mailbox(user_, name);
  if (!existing) return storage_failure(tag, existing.error());
  if (*existing) return tagged(tag, "NO", "[ALREADYEXISTS] Mailbox already exists");
  auto created = store().create_mailbox(user_, name, uses);
  if (!created) return storage_failure(tag, created.error());
  tagged(tag, "OK", "Create completed.");
}

void Session::cmd_delete(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "DELETE needs a mailbox name");
  auto raw = c.astring();
  if (!raw || !c.end()) return tagged(tag, "BAD", "Invalid DELETE arguments: " + c.error());
  std::string name = normalize_mailbox(*raw);
  if (name == "INBOX") return tagged(tag, "NO", "INBOX can't be deleted.");
  auto mb = find_mailbox(name, tag);
  if (!mb) return;
  if (auto st = store().delete_mailbox(mb->id); !st) return storage_failure(tag, st.error());
  tagged(tag, "OK", "Delete completed.");
}

void Session::cmd_rename(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "RENAME needs two mailbox names");
  auto from_raw = c.astring();
  if (!from_raw || !c.sp()) return tagged(tag, "BAD", "RENAME needs two mailbox names: " + c.error());
  auto to_raw = c.astring();
  if (!to_raw || !c.end()) return tagged(tag, "BAD", "Invalid RENAME arguments: " + c.error());
  std::string from = normalize_mailbox(*from_raw);
  std::string to = normalize_mailbox(*to_raw);
  if (auto why = invalid_mailbox_reason(to); !why.empty()) return tagged(tag, "NO", "[CANNOT] " + why);
  auto src = find_mailbox(from, tag);
  if (!src) return;
  if (to == "INBOX") return tagged(tag, "NO", "[ALREADYEXISTS] Target mailbox already exists");
  auto dst = store().find_mailbox(user_, to);
  if (!dst) return storage_failure(tag, dst.error());
  if (*dst) return tagged(tag, "NO", "[ALREADYEXISTS] Target mailbox already exists");
  if (to.size() > from.size() && to.compare(0, from.size(), from) == 0 && to[from.size()] == '/') {
    return tagged(tag, "NO", "[CANNOT] Can't rename a mailbox below itself");
  }
  if (from == "INBOX") {
    // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new mailbox and leaves
    // INBOX empty; INBOX's children stay where they are.
    Storage::Txn txn(store());
    auto created = store().create_mailbox(user_, to);
    if (!created) return storage_failure(tag, created.error());
    auto uids = store().uids(src->id);
    if (!uids) return storage_failure(tag, uids.error());
    if (!uids->empty()) {
      auto m = store().bump_modseq(created->id);
      if (!m) return storage_failure(tag, m.error());
      for (Uid u : *uids) {
        if (auto r = store().copy(src->id, u, created->id, *m); !r) return storage_failure(tag, r.error());
      }
      if (auto r = store().expunge(src->id, *uids); !r) return storage_failure(tag, r.error());
    }
    if (auto r = txn.commit(); !r) return storage_failure(tag, r.error());
    return tagged(tag, "OK", "Rename completed.");
  }
  if (auto st = store().rename_mailbox(user_, from, to); !st) return storage_failure(tag, st.error());
  if (selected_ && (selected_->name == from ||
                    (selected_->name.size() > from.size() &&
                     selected_->name.compare(0, from.size() + 1, from + "/") == 0))) {
    selected_->name = to + selected_->name.substr(from.size());
  }
  tagged(tag, "OK", "Rename completed.");
}

void Session::cmd_subscribe(std::string_view tag, Cursor& c, bool subscribe) {
  const char* verb = subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a mailbox name");
  auto raw = c.astring();
  if (!raw || !c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());
  std::string name = normalize_mailbox(*raw);
  if (subscribe) {
    auto mb = find_mailbox(name, tag);
    if (!mb) return;
    if (auto st = store().subscribe(user_, name); !st) return storage_failure(tag, st.error());
  } else {
    if (auto st = store().unsubscribe(user_, name); !st) return storage_failure(tag, st.error());
  }
  tagged(tag, "OK", subscribe ? "Subscribe completed." : "Unsubscribe completed.");
}

Result<std::string> Session::status_line(const MailboxInfo& mb, const std::vector<std::string>& items) {
  auto counts = store().counts(mb.id);
  if (!counts) return counts.error();
  std::string line = "STATUS ";
  write_mailbox(line, mb.name);
  line += " (";
  bool first = true;
  for (const auto& item : items) {
    if (!first) line += ' ';
    first = false;
    line += item + ' ';
    if (item == "MESSAGES") {
      line += std::to_string(counts->messages);
    } else if (item == "RECENT") {
      line += std::to_string(counts->recent);
    } else if (item == "UIDNEXT") {
      line += std::to_string(mb.uidnext.value);
    } else if (item == "UIDVALIDITY") {
      line += std::to_string(mb.uidvalidity.value);
    } else if (item == "UNSEEN") {
      line += std::to_string(counts->unseen);
    } else if (item == "HIGHESTMODSEQ") {
      line += std::to_string(mb.highestmodseq.value);
    } else if (item == "SIZE") {
      line += std::to_string(counts->size);
    } else if (item == "DELETED") {
      line += std::to_string(counts->deleted);
    } else if (item == "MAILBOXID") {
      line += "(" + mb.mailboxid + ")";
    }
  }
  line += ')';
  return line;
}

/// Parses "(item item ...)" of STATUS into upper-case names; empty string on success.
std::string parse_status_items(Cursor& c, const ServerCore& core, std::vector<std::string>& items) {
  if (!c.eat('(')) return "STATUS needs a list of items in parentheses";
  while (!c.eat(')')) {
    if (!items.empty() && !c.sp()) return "Invalid STATUS item list: " + c.error();
    auto a = c.atom();
    if (!a) return "Invalid STATUS item list: " + c.error();
    std::string item = to_upper(*a);
    bool known = item == "MESSAGES" || item == "RECENT" || item == "UIDNEXT" ||
                 item == "UIDVALIDITY" || item == "UNSEEN" || item == "SIZE" || item == "DELETED" ||
                 (item == "HIGHESTMODSEQ" && core.has("CONDSTORE")) ||
                 (item == "MAILBOXID" && core.has("OBJECTID"));
    if (!known) return "Unknown STATUS item " + std::string(*a);
    if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
  }
  if (items.empty()) return "STATUS needs at least one item";
  return {};
}

void Session::cmd_status(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "STATUS needs a mailbox and items");
  auto raw = c.astring();
  if (!raw || !c.sp()) return tagged(tag, "BAD", "STATUS needs a mailbox and items: " + c.error());
  std::vector<std::string> items;
  if (auto err = parse_status_items(c, core_, items); !err.empty()) return tagged(tag, "BAD", err);
  if (!c.end()) return tagged(tag, "BAD", "Invalid STATUS arguments: " + c.error());
  if (std::find(items.begin(), items.end(), "HIGHESTMODSEQ") != items.end()) enable_condstore();
  auto mb = find_mailbox(*raw, tag);
  if (!mb) return;
  auto line = status_line(*mb, items);
  if (!line) return storage_failure(tag, line.error());
  untagged(*line);
  tagged(tag, "OK", "Status completed.");
}

}  // namespace twinbox::server
