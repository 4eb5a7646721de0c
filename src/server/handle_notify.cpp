// NOTIFY (RFC 5465): SET [STATUS] with SELECTED / SELECTED-DELAYED and PERSONAL (INBOXES and
// SUBSCRIBED are served like PERSONAL) for MessageNew, MessageExpunge, FlagChange,
// MailboxName and SubscriptionChange; NOTIFY NONE.
//
// Events are found by comparing the store with what the session was last told (the store's
// generation counter says when to look), so they cannot be lost while the session is busy.

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

}  // namespace

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
    if (!c.eat('(')) return tagged(tag, "BAD", "Invalid NOTIFY event group: " + c.error());
    auto filter = c.atom();
    if (!filter) return tagged(tag, "BAD", "Invalid NOTIFY filter: " + c.error());
    std::string f = to_upper(*filter);
    bool selected_filter = f == "SELECTED" || f == "SELECTED-DELAYED";
    if (f == "SUBTREE" || f == "MAILBOXES") {
      if (!c.sp()) return tagged(tag, "BAD", "NOTIFY " + f + " needs mailboxes");
      if (c.peek() == '(') {
        if (!skip_list(c)) return tagged(tag, "BAD", "Invalid NOTIFY mailbox list");
      } else if (!c.astring()) {
        return tagged(tag, "BAD", "Invalid NOTIFY mailbox: " + c.error());
      }
    } else if (!selected_filter && f != "PERSONAL" && f != "INBOXES" && f != "SUBSCRIBED") {
      return tagged(tag, "BAD", "Unknown NOTIFY filter " + std::string(*filter));
    }
    if (!c.sp()) return tagged(tag, "BAD", "NOTIFY event group needs events");
    std::set<std::string> events;
    if (!c.eat_word("NONE")) {
      if (!c.eat('(')) return tagged(tag, "BAD", "Invalid NOTIFY events: " + c.error());
      bool efirst = true;
      while (!c.eat(')')) {
        if (!efirst && !c.sp()) return tagged(tag, "BAD", "Invalid NOTIFY events: " + c.error());
        efirst = false;
        auto e = c.atom();
        if (!e) return tagged(tag, "BAD", "Invalid NOTIFY events: " + c.error());
        std::string ev = to_upper(*e);
        if (ev == "MESSAGENEW" && c.peek() == ' ' && c.rest().size() > 1 && c.rest()[1] == '(') {
          c.sp();
          if (!skip_list(c)) return tagged(tag, "BAD", "Invalid MessageNew fetch attributes");
        }
        static constexpr std::string_view kKnown[] = {
            "MESSAGENEW", "MESSAGEEXPUNGE", "FLAGCHANGE", "ANNOTATIONCHANGE", "MAILBOXNAME",
            "SUBSCRIPTIONCHANGE", "MAILBOXMETADATACHANGE", "SERVERMETADATACHANGE"};
        bool known = false;
        for (auto k : kKnown) known = known || k == ev;
        if (!known) return tagged(tag, "NO", "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Unknown event " + std::string(*e));
        events.insert(ev);
      }
    }
    if (!c.eat(')')) return tagged(tag, "BAD", "Invalid NOTIFY event group: missing )");
    // RFC 5465 §5: MessageNew and MessageExpunge go together; FlagChange needs both.
    bool msg_new = events.count("MESSAGENEW") > 0, msg_exp = events.count("MESSAGEEXPUNGE") > 0;
    if (msg_new != msg_exp || (events.count("FLAGCHANGE") && !msg_new)) {
      return tagged(tag, "BAD", "MessageNew and MessageExpunge must be requested together, FlagChange only with both");
    }
    if (selected_filter) {
      spec->selected_events = msg_new;
    } else {
      spec->personal_messages = spec->personal_messages || msg_new;
      spec->personal_flags = spec->personal_flags || events.count("FLAGCHANGE") > 0;
      spec->mailbox_name = spec->mailbox_name || events.count("MAILBOXNAME") > 0;
      spec->subscription = spec->subscription || events.count("SUBSCRIPTIONCHANGE") > 0;
    }
  }
  // Record the current state so later polls report differences only.
  auto boxes = store().mailboxes(user_);
  if (!boxes) return storage_failure(tag, boxes.error());
  auto subs = store().subscriptions(user_);
  if (!subs) return storage_failure(tag, subs.error());
  for (const auto& mb : *boxes) {
    spec->names[mb.mailboxid] = mb.name;
    auto counts = store().counts(mb.id);
    if (!counts) return storage_failure(tag, counts.error());
    spec->known[mb.name] = NotifyMailboxState{counts->messages, mb.uidnext.value, counts->unseen,
                                              mb.highestmodseq.value, mb.uidvalidity.value};
    if (spec->status && spec->personal_messages && !(selected_ && selected_->id == mb.id)) {
      auto line = status_line(mb, notify_status_items(condstore_enabled_));
      if (!line) return storage_failure(tag, line.error());
      untagged(*line);
    }
  }
  spec->subscribed.insert(subs->begin(), subs->end());
  notify_ = std::move(spec);
  tagged(tag, "OK", "NOTIFY completed.");
}

Status Session::notify_poll() {
  if (!notify_) return {};
  auto& spec = *notify_;
  if (spec.selected_events && selected_) {
    if (auto st = absorb(); !st) return st;
    if (auto st = deliver(true); !st) return st;
  }
  if (!spec.personal_messages && !spec.mailbox_name && !spec.subscription) return {};
  auto boxes = store().mailboxes(user_);
  if (!boxes) return boxes.error();
  std::map<std::string, std::string> names;
  for (const auto& mb : *boxes) {
    names[mb.mailboxid] = mb.name;
    auto old = spec.names.find(mb.mailboxid);
    bool is_new = old == spec.names.end();
    if (spec.mailbox_name) {
      if (is_new || old->second != mb.name) {
        std::string line = "LIST () \"/\" ";
        write_mailbox(line, mb.name);
        if (old != spec.names.end()) {
          line += " (\"OLDNAME\" (";
          write_mailbox(line, old->second);
          line += "))";
        }
        untagged(line);
      }
    }
    if (spec.personal_messages && !(selected_ && selected_->id == mb.id)) {
      auto counts = store().counts(mb.id);
      if (!counts) return counts.error();
      NotifyMailboxState now{counts->messages, mb.uidnext.value, counts->unseen,
                             mb.highestmodseq.value, mb.uidvalidity.value};
      auto& known = spec.known[mb.name];
      // A new mailbox is announced by LIST (MailboxName), not by STATUS.
      bool report = !is_new && (now.messages != known.messages || now.uidnext != known.uidnext ||
                    now.uidvalidity != known.uidvalidity ||
                    (spec.personal_flags && (now.unseen != known.unseen ||
                                             now.highestmodseq != known.highestmodseq)));
      if (report) {
        auto line = status_line(mb, notify_status_items(condstore_enabled_));
        if (!line) return line.error();
        untagged(*line);
      }
      known = now;
    }
  }
  if (spec.mailbox_name) {
    for (const auto& [id, name] : spec.names) {
      if (!names.count(id)) {
        std::string line = "LIST (\\NonExistent) \"/\" ";
        write_mailbox(line, name);
        untagged(line);
        spec.known.erase(name);
      }
    }
  }
  spec.names = std::move(names);
  if (spec.subscription) {
    auto subs = store().subscriptions(user_);
    if (!subs) return subs.error();
    std::set<std::string> now(subs->begin(), subs->end());
    for (const auto& s : now) {
      if (!spec.subscribed.count(s)) {
        std::string line = "LIST (\\Subscribed) \"/\" ";
        write_mailbox(line, s);
        untagged(line);
      }
    }
    for (const auto& s : spec.subscribed) {
      if (!now.count(s)) {
        std::string line = "LIST () \"/\" ";
        write_mailbox(line, s);
        untagged(line);
      }
    }
    spec.subscribed = std::move(now);
  }
  return {};
}

}  // namespace twinbox::server
