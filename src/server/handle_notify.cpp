// NOTIFY (RFC 5465): SET [STATUS] with the filters SELECTED, SELECTED-DELAYED, INBOXES,
// PERSONAL, SUBSCRIBED, SUBTREE and MAILBOXES (see notify.hpp for how they match) and the
// events MessageNew, MessageExpunge, FlagChange, MailboxName and SubscriptionChange (or NONE);
// NOTIFY NONE.
//
// Events are found by comparing the store with what the session was last told (the store's
// generation counter says when to look), so they cannot be lost while the session is busy.
// They are pushed as soon as the store changes, also while the session is in IDLE.

#include "notify.hpp"

#include "session.hpp"

namespace twinbox::server {
namespace {

/// Skips one balanced parenthesised list (e.g. MessageNew's fetch attributes).
bool skip_list(Cursor& c) {
  if (!c.eat('(')) return false;
  int depth = 1;
  while (!c.at_end() && depth > 0) {
    char ch = c.peek();
    if (ch == '"') {
      if (!c.string()) return false;
      continue;
    }
    c.set_pos(c.pos() + 1);
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
  }
  return depth == 0;
}

std::vector<std::string> notify_status_items(bool condstore) {
  std::vector<std::string> items = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"};
  if (condstore) items.push_back("HIGHESTMODSEQ");
  return items;
}

/// A refusal of NOTIFY SET: status (BAD or NO) and text.
struct Refusal {
  std::string status;
  std::string text;
};

std::optional<NotifyFilter> filter_named(std::string_view f) {
  if (f == "SELECTED") return NotifyFilter::Selected;
  if (f == "SELECTED-DELAYED") return NotifyFilter::SelectedDelayed;
  if (f == "INBOXES") return NotifyFilter::Inboxes;
  if (f == "PERSONAL") return NotifyFilter::Personal;
  if (f == "SUBSCRIBED") return NotifyFilter::Subscribed;
  if (f == "SUBTREE") return NotifyFilter::Subtree;
  if (f == "MAILBOXES") return NotifyFilter::Mailboxes;
  return std::nullopt;
}

/// one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
std::optional<Refusal> parse_mailboxes(Cursor& c, std::vector<std::string>& out) {
  bool list = c.eat('(');
  do {
    auto name = c.astring();
    if (!name) return Refusal{"BAD", "Invalid NOTIFY mailbox: " + c.error()};
    out.push_back(Session::normalize_mailbox(*name));
  } while (list && c.eat(' '));
  if (list && !c.eat(')')) return Refusal{"BAD", "Invalid NOTIFY mailbox list: missing )"};
  return std::nullopt;
}

/// events = ( "(" event *(SP event) ")" ) / "NONE"
std::optional<Refusal> parse_events(Cursor& c, NotifyEvents& ev) {
  if (c.eat_word("NONE")) return std::nullopt;
  if (!c.eat('(')) return Refusal{"BAD", "Invalid NOTIFY events: " + c.error()};
  bool first = true, msg_new = false, msg_expunge = false;
  while (!c.eat(')')) {
    if (!first && !c.sp()) return Refusal{"BAD", "Invalid NOTIFY events: " + c.error()};
    first = false;
    auto e = c.atom();
    if (!e) return Refusal{"BAD", "Invalid NOTIFY events: " + c.error()};
    std::string name = to_upper(*e);
    if (name == "MESSAGENEW" && c.peek() == ' ' && c.rest().size() > 1 && c.rest()[1] == '(') {
      c.sp();
      if (!skip_list(c)) return Refusal{"BAD", "Invalid MessageNew fetch attributes"};
    }
    if (name == "MESSAGENEW") {
      msg_new = true;
    } else if (name == "MESSAGEEXPUNGE") {
      msg_expunge = true;
    } else if (name == "FLAGCHANGE") {
      ev.flags = true;
    } else if (name == "MAILBOXNAME") {
      ev.mailbox_name = true;
    } else if (name == "SUBSCRIPTIONCHANGE") {
      ev.subscription = true;
    } else {
      return Refusal{"NO", "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName "
                           "SubscriptionChange)] Unsupported event " + std::string(*e)};
    }
  }
  // RFC 5465 §5: MessageNew and MessageExpunge go together; FlagChange needs both.
  if (msg_new != msg_expunge || (ev.flags && !msg_new)) {
    return Refusal{"BAD", "MessageNew and MessageExpunge must be requested together, FlagChange only with both"};
  }
  ev.messages = msg_new;
  return std::nullopt;
}

/// event-group = "(" filter-mailboxes SP events ")"
std::optional<Refusal> parse_group(Cursor& c, NotifyGroup& g) {
  if (!c.eat('(')) return Refusal{"BAD", "Invalid NOTIFY event group: " + c.error()};
  auto word = c.atom();
  if (!word) return Refusal{"BAD", "Invalid NOTIFY filter: " + c.error()};
  auto filter = filter_named(to_upper(*word));
  if (!filter) return Refusal{"BAD", "Unknown NOTIFY filter " + std::string(*word)};
  g.filter = *filter;
  if (g.filter == NotifyFilter::Subtree || g.filter == NotifyFilter::Mailboxes) {
    if (!c.sp()) return Refusal{"BAD", "NOTIFY " + to_upper(*word) + " needs mailboxes"};
    if (auto r = parse_mailboxes(c, g.mailboxes)) return r;
  }
  if (!c.sp()) return Refusal{"BAD", "NOTIFY event group needs events"};
  if (auto r = parse_events(c, g.events)) return r;
  bool selected = g.filter == NotifyFilter::Selected || g.filter == NotifyFilter::SelectedDelayed;
  if (selected && (g.events.mailbox_name || g.events.subscription)) {
    return Refusal{"BAD", "MailboxName and SubscriptionChange do not apply to SELECTED"};
  }
  if (!c.eat(')')) return Refusal{"BAD", "Invalid NOTIFY event group: missing )"};
  return std::nullopt;
}

bool below(std::string_view name, std::string_view root) {
  return name == root || (name.size() > root.size() && name.substr(0, root.size()) == root &&
                          name[root.size()] == '/');
}

}  // namespace

bool NotifyGroup::matches(std::string_view name, const std::set<std::string>& subscribed) const {
  switch (filter) {
    case NotifyFilter::Selected:
    case NotifyFilter::SelectedDelayed:
      return false;
    case NotifyFilter::Inboxes:
      return name == "INBOX";
    case NotifyFilter::Personal:
      return true;
    case NotifyFilter::Subscribed:
      return subscribed.count(std::string(name)) > 0;
    case NotifyFilter::Subtree:
      for (const auto& m : mailboxes) {
        if (below(name, m)) return true;
      }
      return false;
    case NotifyFilter::Mailboxes:
      for (const auto& m : mailboxes) {
        if (name == m) return true;
      }
      return false;
  }
  return false;
}

const NotifyEvents* NotifySpec::events_for(std::string_view name,
                                           const std::set<std::string>& subs) const {
  for (const auto& g : others) {
    if (g.matches(name, subs)) return &g.events;
  }
  return nullptr;
}

void Session::cmd_notify(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "NOTIFY needs SET or NONE");
  if (c.eat_word("NONE")) {
    if (!c.end()) return tagged(tag, "BAD", "NOTIFY NONE takes no arguments");
    notify_.reset();
    return tagged(tag, "OK", "NOTIFY completed.");
  }
  if (!c.eat_word("SET")) return tagged(tag, "BAD", "NOTIFY needs SET or NONE");
  auto spec = std::make_unique<NotifySpec>();
  if (!c.sp()) return tagged(tag, "BAD", "NOTIFY SET needs event groups");
  if (c.eat_word("STATUS")) {
    spec->status = true;
    if (!c.sp()) return tagged(tag, "BAD", "NOTIFY SET STATUS needs event groups");
  }
  bool first = true;
  while (!c.at_end()) {
    if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid NOTIFY event groups: " + c.error());
    first = false;
    NotifyGroup g;
    if (auto r = parse_group(c, g)) return tagged(tag, r->status, r->text);
    if (g.filter == NotifyFilter::Selected || g.filter == NotifyFilter::SelectedDelayed) {
      if (spec->selected) return tagged(tag, "BAD", "SELECTED / SELECTED-DELAYED given twice");
      spec->selected = std::move(g);
    } else {
      spec->others.push_back(std::move(g));
    }
  }
  if (first) return tagged(tag, "BAD", "NOTIFY SET needs event groups");
  // Record the current state so later polls report differences only.
  auto boxes = store().mailboxes(user_);
  if (!boxes) return storage_failure(tag, boxes.error());
  auto subs = store().subscriptions(user_);
  if (!subs) return storage_failure(tag, subs.error());
  spec->subscribed.insert(subs->begin(), subs->end());
  for (const auto& mb : *boxes) {
    spec->names[mb.mailboxid] = mb.name;
    auto counts = store().counts(mb.id);
    if (!counts) return storage_failure(tag, counts.error());
    spec->known[mb.name] = NotifyMailboxState{counts->messages, mb.uidnext.value, counts->unseen,
                                              mb.highestmodseq.value, mb.uidvalidity.value};
    const NotifyEvents* ev = spec->events_for(mb.name, spec->subscribed);
    if (spec->status && ev && ev->messages && !(selected_ && selected_->id == mb.id)) {
      auto line = status_line(mb, notify_status_items(condstore_enabled_));
      if (!line) return storage_failure(tag, line.error());
      untagged(*line);
    }
  }
  notify_ = std::move(spec);
  tagged(tag, "OK", "NOTIFY completed.");
}

Status Session::notify_selected() {
  const auto& g = notify_->selected;
  if (!g || !g->events.messages || !selected_) return {};
  if (auto st = absorb(); !st) return st;
  // SELECTED-DELAYED holds expunges back until a command that may report them (§6).
  return deliver(g->filter == NotifyFilter::Selected, g->events.flags);
}

void Session::notify_mailbox_names(const std::vector<MailboxInfo>& boxes) {
  auto& spec = *notify_;
  std::map<std::string, std::string> names;
  for (const auto& mb : boxes) {
    names[mb.mailboxid] = mb.name;
    auto old = spec.names.find(mb.mailboxid);
    if (old != spec.names.end() && old->second == mb.name) continue;
    const NotifyEvents* ev = spec.events_for(mb.name, spec.subscribed);
    if (old != spec.names.end() && !(ev && ev->mailbox_name)) ev = spec.events_for(old->second, spec.subscribed);
    if (!ev || !ev->mailbox_name) continue;
    std::string line = "LIST () \"/\" ";
    write_mailbox(line, mb.name);
    if (old != spec.names.end()) {
      line += " (\"OLDNAME\" (";
      write_mailbox(line, old->second);
      line += "))";
    }
    untagged(line);
  }
  for (const auto& [id, name] : spec.names) {
    if (names.count(id)) continue;
    spec.known.erase(name);
    const NotifyEvents* ev = spec.events_for(name, spec.subscribed);
    if (!ev || !ev->mailbox_name) continue;
    std::string line = "LIST (\\NonExistent) \"/\" ";
    write_mailbox(line, name);
    untagged(line);
  }
  spec.names = std::move(names);
}

Status Session::notify_subscriptions() {
  auto& spec = *notify_;
  auto subs = store().subscriptions(user_);
  if (!subs) return subs.error();
  std::set<std::string> now(subs->begin(), subs->end());
  // A name matches SUBSCRIBED while it is subscribed before or after the change.
  std::set<std::string> either = now;
  either.insert(spec.subscribed.begin(), spec.subscribed.end());
  auto report = [&](const std::string& name, bool subscribed) {
    const NotifyEvents* ev = spec.events_for(name, either);
    if (!ev || !ev->subscription) return;
    std::string line = subscribed ? "LIST (\\Subscribed) \"/\" " : "LIST () \"/\" ";
    write_mailbox(line, name);
    untagged(line);
  };
  for (const auto& s : now) {
    if (!spec.subscribed.count(s)) report(s, true);
  }
  for (const auto& s : spec.subscribed) {
    if (!now.count(s)) report(s, false);
  }
  spec.subscribed = std::move(now);
  return {};
}

Status Session::notify_poll() {
  if (!notify_) return {};
  if (auto st = notify_selected(); !st) return st;
  auto& spec = *notify_;
  if (spec.others.empty()) return {};
  auto boxes = store().mailboxes(user_);
  if (!boxes) return boxes.error();
  if (auto st = notify_subscriptions(); !st) return st;
  for (const auto& mb : *boxes) {
    const NotifyEvents* ev = spec.events_for(mb.name, spec.subscribed);
    if (!ev || !ev->messages || (selected_ && selected_->id == mb.id)) {
      spec.known.erase(mb.name);  // no baseline: reported again only after a fresh look
      continue;
    }
    auto counts = store().counts(mb.id);
    if (!counts) return counts.error();
    NotifyMailboxState now{counts->messages, mb.uidnext.value, counts->unseen,
                           mb.highestmodseq.value, mb.uidvalidity.value};
    // Without a baseline (a new or renamed mailbox, announced by LIST if at all, or one that
    // just entered a filter) the state is only recorded.
    auto it = spec.known.find(mb.name);
    bool report = it != spec.known.end() &&
                  (now.messages != it->second.messages || now.uidnext != it->second.uidnext ||
                   now.uidvalidity != it->second.uidvalidity ||
                   (ev->flags && (now.unseen != it->second.unseen ||
                                  now.highestmodseq != it->second.highestmodseq)));
    if (report) {
      auto line = status_line(mb, notify_status_items(condstore_enabled_));
      if (!line) return line.error();
      untagged(*line);
    }
    spec.known[mb.name] = now;
  }
  notify_mailbox_names(*boxes);
  return {};
}

}  // namespace twinbox::server
