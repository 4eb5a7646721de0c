// LIST and LSUB (RFC 3501 §6.3.8-§6.3.9) with LIST-EXTENDED (RFC 5258: selection options
// SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE; return options SUBSCRIBED, CHILDREN,
// SPECIAL-USE; several patterns), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154).

#include <algorithm>
#include <map>

#include "session.hpp"

namespace twinbox::server {
namespace {

/// RFC 3501 §6.3.8 wildcards: '*' matches anything, '%' anything but the delimiter.
bool wildcard_match(std::string_view pat, std::string_view name) {
  std::size_t p = 0;
  std::size_t n = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_n = 0;
  // Iterative matcher with backtracking for '*'; '%' handled by recursion (short patterns).
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '%') {
      for (std::size_t k = n; k <= name.size(); ++k) {
        if (wildcard_match(pat.substr(p + 1), name.substr(k))) return true;
        if (k < name.size() && name[k] == '/') break;
      }
      return false;
    }
    if (p < pat.size() && pat[p] == '*') {
      star_p = p++;
      star_n = n;
    } else if (p < pat.size() && pat[p] == name[n]) {
      ++p;
      ++n;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pat.size() && (pat[p] == '*' || pat[p] == '%')) ++p;
  return p == pat.size();
}

bool list_match(std::string_view pattern, std::string_view name) {
  // INBOX is case-insensitive (RFC 3501 §5.1): match it against an upper-cased pattern head.
  if (name == "INBOX" || name.substr(0, 6) == "INBOX/") {
    std::string p(pattern);
    if (p.size() >= 5 && iequals(p.substr(0, 5), "INBOX")) {
      for (std::size_t i = 0; i < 5; ++i) p[i] = "INBOX"[i];
    }
    return wildcard_match(p, name);
  }
  return wildcard_match(pattern, name);
}

struct Entry {
  bool exists = false;      // a real mailbox
  bool subscribed = false;
  bool has_children = false;
  bool child_subscribed = false;
  std::vector<std::string> special_use;
  const MailboxInfo* info = nullptr;
};

}  // namespace

std::string parse_status_items(Cursor& c, const ServerCore& core, std::vector<std::string>& items);

void Session::cmd_list(std::string_view tag, Cursor& c, bool lsub) {
  const char* verb = lsub ? "LSUB" : "LIST";
  bool ext = core_.has("LIST-EXTENDED") && !lsub;
  bool sel_subscribed = false, sel_special = false, recursive = false;
  bool ret_subscribed = false, ret_children = false, ret_special = false, extended = false;
  std::vector<std::string> status_items;
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a reference and a pattern");
  if (ext && c.peek() == '(') {
    extended = true;
    c.eat('(');
    bool first = true;
    while (!c.eat(')')) {
      if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid LIST selection options: " + c.error());
      first = false;
      auto a = c.atom();
      if (!a) return tagged(tag, "BAD", "Invalid LIST selection options: " + c.error());
      std::string o = to_upper(*a);
      if (o == "SUBSCRIBED") {
        sel_subscribed = true;
      } else if (o == "RECURSIVEMATCH") {
        recursive = true;
      } else if (o == "SPECIAL-USE" && core_.has("SPECIAL-USE")) {
        sel_special = true;
      } else if (o != "REMOTE") {
        return tagged(tag, "BAD", "Unknown LIST selection option " + std::string(*a));
      }
    }
    if (recursive && !sel_subscribed && !sel_special) {
      return tagged(tag, "BAD", "RECURSIVEMATCH needs another selection option (RFC 5258 §3)");
    }
    if (!c.sp()) return tagged(tag, "BAD", "LIST needs a reference and a pattern");
  }
  auto ref = c.astring();
  if (!ref || !c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a reference and a pattern: " + c.error());
  std::vector<std::string> patterns;
  if (ext && c.peek() == '(') {
    extended = true;
    c.eat('(');
    while (!c.eat(')')) {
      if (!patterns.empty() && !c.sp()) return tagged(tag, "BAD", "Invalid pattern list: " + c.error());
      auto p = c.list_mailbox();
      if (!p) return tagged(tag, "BAD", "Invalid pattern list: " + c.error());
      patterns.push_back(*p);
    }
    if (patterns.empty()) return tagged(tag, "BAD", "Empty pattern list");
  } else {
    auto p = c.list_mailbox();
    if (!p) return tagged(tag, "BAD", std::string(verb) + " needs a pattern: " + c.error());
    patterns.push_back(*p);
  }
  if (ext && c.eat(' ')) {
    if (!c.eat_word("RETURN") || !c.sp() || !c.eat('(')) {
      return tagged(tag, "BAD", "Invalid LIST return options: " + c.error());
    }
    extended = true;
    bool first = true;
    while (!c.eat(')')) {
      if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid LIST return options: " + c.error());
      first = false;
      auto a = c.atom();
      if (!a) return tagged(tag, "BAD", "Invalid LIST return options: " + c.error());
      std::string o = to_upper(*a);
      if (o == "SUBSCRIBED") {
        ret_subscribed = true;
      } else if (o == "CHILDREN") {
        ret_children = true;
      } else if (o == "SPECIAL-USE" && core_.has("SPECIAL-USE")) {
        ret_special = true;
      } else if (o == "STATUS" && core_.has("LIST-STATUS")) {
        if (!c.sp()) return tagged(tag, "BAD", "RETURN STATUS needs items");
        if (auto err = parse_status_items(c, core_, status_items); !err.empty()) return tagged(tag, "BAD", err);
      } else {
        return tagged(tag, "BAD", "Unknown LIST return option " + std::string(*a));
      }
    }
  }
  if (!c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());
  if (std::find(status_items.begin(), status_items.end(), "HIGHESTMODSEQ") != status_items.end()) {
    enable_condstore();
  }

  // LIST "" "" asks for the delimiter (RFC 3501 §6.3.8).
  if (!lsub && patterns.size() == 1 && patterns[0].empty()) {
    untagged("LIST (\\Noselect) \"/\" \"\"");
    return tagged(tag, "OK", "List completed.");
  }

  auto boxes = store().mailboxes(user_);
  if (!boxes) return storage_failure(tag, boxes.error());
  auto subs = store().subscriptions(user_);
  if (!subs) return storage_failure(tag, subs.error());

  // All names: real mailboxes, subscribed names, and their missing parents (\Noselect).
  std::map<std::string, Entry> all;
  for (const auto& mb : *boxes) {
    auto& e = all[mb.name];
    e.exists = true;
    e.special_use = mb.special_use;
    e.info = &mb;
  }
  for (const auto& s : *subs) all[s].subscribed = true;
  std::vector<std::string> names;
  for (const auto& [name, e] : all) names.push_back(name);
  for (const auto& name : names) {
    bool sub = all[name].subscribed;
    for (std::size_t pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos + 1)) {
      auto& parent = all[name.substr(0, pos)];
      if (all[name].exists || lsub) parent.has_children = true;
      if (sub) parent.child_subscribed = true;
    }
  }

  bool plain = !extended;
  bool show_children = plain || ret_children;
  bool show_special = core_.has("SPECIAL-USE") && (plain || ret_special || sel_special);
  bool show_subscribed = ret_subscribed || sel_subscribed;

  std::vector<std::string> order;
  if (all.count("INBOX")) order.push_back("INBOX");
  for (const auto& [name, e] : all) {
    if (name != "INBOX") order.push_back(name);
  }
  for (const auto& name : order) {
    const Entry& e = all[name];
    bool matched = false;
    for (const auto& p : patterns) {
      std::string full = normalize_mailbox(*ref + p);
      if (list_match(full, name) || list_match(*ref + p, name)) matched = true;
    }
    bool child_match = false;
    if (!matched && recursive && sel_subscribed && e.child_subscribed) {
      // RECURSIVEMATCH: a parent is returned with CHILDINFO when a child matches.
      child_match = true;
      matched = false;
    }
    if (!matched) continue;
    if (lsub) {
      if (!e.subscribed && !e.child_subscribed) continue;
      std::string line = "LSUB (";
      if (!e.subscribed) line += "\\Noselect";
      line += ") \"/\" ";
      write_mailbox(line, name);
      untagged(line);
      continue;
    }
    if (sel_subscribed && !e.subscribed && !(recursive && e.child_subscribed)) continue;
    if (!e.exists && !e.has_children && !sel_subscribed) continue;
    if (sel_special && e.special_use.empty()) continue;
    std::vector<std::string> attrs;
    if (!e.exists) attrs.push_back(e.has_children || !e.subscribed ? "\\Noselect" : "\\NonExistent");
    if (show_children && (e.exists || e.has_children)) {
      attrs.push_back(e.has_children ? "\\HasChildren" : "\\HasNoChildren");
    }
    if (show_subscribed && e.subscribed) attrs.push_back("\\Subscribed");
    if (show_special) attrs.insert(attrs.end(), e.special_use.begin(), e.special_use.end());
    std::string line = "LIST (";
    for (std::size_t i = 0; i < attrs.size(); ++i) {
      if (i) line += ' ';
      line += attrs[i];
    }
    line += ") \"/\" ";
    write_mailbox(line, name);
    if (recursive && sel_subscribed && e.child_subscribed && !e.subscribed) {
      line += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    }
    (void)child_match;
    untagged(line);
    if (!status_items.empty() && e.exists && e.info) {
      auto st = status_line(*e.info, status_items);
      if (!st) return storage_failure(tag, st.error());
      untagged(*st);
    }
  }
  tagged(tag, "OK", lsub ? "Lsub completed." : "List completed.");
}

}  // namespace twinbox::server
