// Typed operations of client::Session (PROTOCOL.md §1.5-§1.12).
#include <algorithm>

#include <twinbox/client/session.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/token.hpp>

#include "ops_common.hpp"
#include "session_impl.hpp"

namespace twinbox::client {

using detail::Op;
using detail::Piece;
using detail::failed_now;
using detail::missing_cap;
using detail::new_op;

namespace {


bool same_mailbox(std::string_view a, std::string_view b) {
  return a == b || (imap::iequals(a, "INBOX") && imap::iequals(b, "INBOX"));
}

std::string status_items_text(const Session::Impl& im, const StatusItems& it) {
  std::string s = "(";
  auto add = [&](std::string_view x) {
    if (s.size() > 1) s += ' ';
    s += x;
  };
  if (it.messages) add("MESSAGES");
  if (it.uidnext) add("UIDNEXT");
  if (it.uidvalidity) add("UIDVALIDITY");
  if (it.highestmodseq && (im.caps.has("CONDSTORE") || im.caps.has("QRESYNC"))) {
    add("HIGHESTMODSEQ");
  }
  if (it.unseen) add("UNSEEN");
  if (it.mailboxid && (im.caps.has("OBJECTID") || im.caps.has("OBJECTID+"))) add("MAILBOXID");
  if (s.size() == 1) add("MESSAGES");
  return s + ")";
}

/// list-mailbox (RFC 3501 §9): list-chars as an atom, else a quoted string.
void list_pattern(imap::CommandBuilder& b, std::string_view pattern) {
  bool atom = !pattern.empty();
  for (char c : pattern) {
    auto u = static_cast<unsigned char>(c);
    if (!(imap::chars::is_astring_char(u) || c == '%' || c == '*')) atom = false;
  }
  if (atom) {
    b.raw(pattern);
  } else {
    b.string(pattern);
  }
}

ListEntry to_entry(imap::ListData&& l) {
  ListEntry e;
  e.name = std::move(l.mailbox);
  e.delimiter = l.delimiter;
  e.attributes = std::move(l.attributes);
  e.old_name = std::move(l.old_name);
  static constexpr std::string_view kSpecial[] = {"\\All",     "\\Archive", "\\Drafts",
                                                  "\\Flagged", "\\Junk",    "\\Sent",
                                                  "\\Trash",   "\\Important"};
  for (auto& a : e.attributes) {
    if (imap::iequals(a, "\\Subscribed")) e.subscribed = true;
    for (auto sp : kSpecial) {
      if (e.special_use.empty() && imap::iequals(a, sp)) e.special_use = std::string(sp);
    }
  }
  return e;
}

}  // namespace

bool ListEntry::has_attribute(std::string_view attr) const {
  return std::any_of(attributes.begin(), attributes.end(),
                     [&](const std::string& a) { return imap::iequals(a, attr); });
}

bool ListEntry::selectable() const {
  return !has_attribute("\\Noselect") && !has_attribute("\\NonExistent");
}

// ---- Simple commands --------------------------------------------------------------------

Pending<imap::Tagged> Session::raw(std::string_view command) {
  Impl& im = *impl_;
  auto p = make_pending<imap::Tagged>();
  std::string what(command.substr(0, command.find(' ')));
  auto op = new_op(what, p);
  op->tagged = [p, what](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error(what, t));
    } else {
      p.complete(t);
    }
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  std::vector<Piece> pieces(1);
  pieces[0].text = im.tag_text(tag) + " " + std::string(command) + "\r\n";
  im.enqueue_pieces(tag, std::move(pieces), im.tag_text(tag) + " " + std::string(command), op);
  return p;
}

namespace {
/// Runs `b` as a command whose OK is success (optionally accepting one NO code).
Pending<void> simple(Session::Impl& im, Tag tag, imap::CommandBuilder& b, std::string what,
                     imap::ResponseCode::Kind ok_code = imap::ResponseCode::Kind::None) {
  auto p = make_pending<void>();
  p.slot()->tag = tag;
  auto op = new_op(what, p);
  op->tagged = [p, what, ok_code](const imap::Tagged& t) {
    if (t.cond == imap::Cond::Ok ||
        (ok_code != imap::ResponseCode::Kind::None && t.code.kind == ok_code)) {
      p.complete(Status{});
    } else {
      p.complete(tagged_error(what, t));
    }
  };
  im.enqueue(tag, b.build(), op);
  return p;
}
}  // namespace

Pending<void> Session::noop() {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "NOOP", im.builder_options());
  return simple(im, tag, b, "NOOP");
}

Pending<void> Session::logout() {
  Impl& im = *impl_;
  auto p = make_pending<void>();
  auto op = new_op("LOGOUT", p);
  op->is_logout = true;
  op->tagged = [p, &im](const imap::Tagged&) {
    im.state = SessionState::Logout;
    im.mbox.open = false;
    p.complete(Status{});
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), "LOGOUT", im.builder_options());
  im.enqueue(tag, b.build(), op);
  return p;
}

Pending<void> Session::create(std::string_view mailbox, std::string_view special_use) {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "CREATE", im.builder_options());
  b.mailbox(mailbox);
  if (!special_use.empty() && im.caps.has("CREATE-SPECIAL-USE")) {
    b.raw("(USE (" + std::string(special_use) + "))");
  }
  return simple(im, tag, b, "CREATE " + std::string(mailbox),
                imap::ResponseCode::Kind::AlreadyExists);
}

Pending<void> Session::delete_mailbox(std::string_view mailbox) {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "DELETE", im.builder_options());
  b.mailbox(mailbox);
  return simple(im, tag, b, "DELETE " + std::string(mailbox));
}

Pending<void> Session::rename(std::string_view from, std::string_view to) {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "RENAME", im.builder_options());
  b.mailbox(from).mailbox(to);
  return simple(im, tag, b, "RENAME " + std::string(from));
}

Pending<void> Session::subscribe(std::string_view mailbox) {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "SUBSCRIBE", im.builder_options());
  b.mailbox(mailbox);
  return simple(im, tag, b, "SUBSCRIBE " + std::string(mailbox));
}

Pending<void> Session::unsubscribe(std::string_view mailbox) {
  Impl& im = *impl_;
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "UNSUBSCRIBE", im.builder_options());
  b.mailbox(mailbox);
  return simple(im, tag, b, "UNSUBSCRIBE " + std::string(mailbox));
}

Pending<void> Session::unselect() {
  Impl& im = *impl_;
  if (!im.caps.has("UNSELECT")) return failed_now<void>(missing_cap(im, "UNSELECT", "UNSELECT"));
  auto p = make_pending<void>();
  auto op = new_op("UNSELECT", p);
  op->tagged = [p, &im](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("UNSELECT", t));
      return;
    }
    im.mbox.open = false;
    if (im.state == SessionState::Selected) im.state = SessionState::Authenticated;
    p.complete(Status{});
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), "UNSELECT", im.builder_options());
  im.enqueue(tag, b.build(), op);
  return p;
}

Pending<void> Session::notify(std::string_view events) {
  Impl& im = *impl_;
  if (!im.caps.has("NOTIFY")) return failed_now<void>(missing_cap(im, "NOTIFY", "NOTIFY"));
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "NOTIFY", im.builder_options());
  if (imap::iequals(events, "NONE")) {
    b.atom("NONE");
  } else {
    b.atom("SET").raw(events);
  }
  return simple(im, tag, b, "NOTIFY");
}

// ---- LIST / STATUS / NAMESPACE ------------------------------------------------------------

Pending<imap::StatusData> Session::status(std::string_view mailbox, const StatusItems& items) {
  Impl& im = *impl_;
  auto p = make_pending<imap::StatusData>();
  std::string name(mailbox);
  auto got = std::make_shared<std::optional<imap::StatusData>>();
  auto op = new_op("STATUS " + name, p);
  op->untagged = [got, name](imap::Response& r) {
    auto* s = std::get_if<imap::StatusData>(&r);
    if (!s || !same_mailbox(s->mailbox, name) || got->has_value()) return false;
    *got = std::move(*s);
    return true;
  };
  op->tagged = [p, got, name](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("STATUS " + name, t));
    } else if (!got->has_value()) {
      p.complete(fail(Errc::Protocol, Scope::Mailbox,
                      "STATUS " + name + ": the server said OK but sent no STATUS data"));
    } else {
      p.complete(std::move(**got));
    }
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), "STATUS", im.builder_options());
  b.mailbox(mailbox).raw(status_items_text(im, items));
  im.enqueue(tag, b.build(), op);
  return p;
}

Pending<std::vector<ListEntry>> Session::list(const ListOptions& o) {
  Impl& im = *impl_;
  auto p = make_pending<std::vector<ListEntry>>();
  bool extended = im.caps.has("LIST-EXTENDED");
  bool list_status = o.with_status && im.caps.has("LIST-STATUS");
  bool lsub = o.subscribed_only && !extended;
  std::vector<std::string> returns;
  if (o.return_special_use && im.caps.has("SPECIAL-USE")) returns.emplace_back("SPECIAL-USE");
  if (o.return_subscribed && extended) returns.emplace_back("SUBSCRIBED");
  if (list_status) returns.push_back("STATUS " + status_items_text(im, o.status_items));
  if (!extended && !list_status) returns.clear();  // plain LIST has no RETURN

  struct State {
    std::vector<ListEntry> entries;
    std::vector<imap::StatusData> statuses;
    int status_left = 0;
    bool list_done = false;
    std::optional<Error> error;
  };
  auto st = std::make_shared<State>();
  auto finish = [p, st]() {
    if (st->error) {
      p.complete(*st->error);
      return;
    }
    for (auto& s : st->statuses) {
      for (auto& e : st->entries) {
        if (same_mailbox(e.name, s.mailbox) && !e.status) e.status = std::move(s);
      }
    }
    p.complete(std::move(st->entries));
  };
  std::vector<std::string> patterns = o.patterns.empty() ? std::vector<std::string>{"*"} : o.patterns;
  bool multi_in_one = extended && patterns.size() > 1;
  int commands = multi_in_one ? 1 : static_cast<int>(patterns.size());
  auto op = new_op(lsub ? "LSUB" : "LIST", p);
  op->remaining = commands;
  auto kind = lsub ? imap::ListData::Kind::Lsub : imap::ListData::Kind::List;
  op->untagged = [st, kind](imap::Response& r) {
    if (auto* l = std::get_if<imap::ListData>(&r); l && l->kind == kind) {
      st->entries.push_back(to_entry(std::move(*l)));
      return true;
    }
    if (auto* s = std::get_if<imap::StatusData>(&r)) {
      bool known = std::any_of(st->entries.begin(), st->entries.end(),
                               [&](const ListEntry& e) { return same_mailbox(e.name, s->mailbox); });
      if (!known) return false;
      st->statuses.push_back(std::move(*s));
      return true;
    }
    return false;
  };
  bool fallback_status = o.with_status && !list_status;
  StatusItems items = o.status_items;
  auto opp = op.get();
  op->tagged = [this, st, finish, fallback_status, items, opp](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok && !st->error) st->error = tagged_error(opp->what, t);
    if (opp->remaining > 0) return;
    if (st->error || !fallback_status) {
      finish();
      return;
    }
    // No LIST-STATUS: one pipelined STATUS per selectable mailbox (PROTOCOL.md §1.5).
    for (auto& e : st->entries) {
      if (!e.selectable()) continue;
      ++st->status_left;
    }
    if (st->status_left == 0) {
      finish();
      return;
    }
    for (auto& e : st->entries) {
      if (!e.selectable()) continue;
      auto sp = status(e.name, items);
      auto waiter = std::make_shared<Op>();
      // Chain: poll the STATUS pending from its own completion via a tiny op wrapper.
      auto slot = sp.slot();
      auto check = [st, finish, slot]() {
        if (slot->result && !*slot->result &&
            slot->result->error().code == Errc::Closed && !st->error) {
          st->error = slot->result->error();
        }
        if (slot->result && *slot->result) st->statuses.push_back(**slot->result);
        if (--st->status_left == 0) finish();
      };
      // Wrap the STATUS op's callbacks so the LIST completes after the last STATUS.
      auto& q = impl_->queue;
      for (auto& c : q) {
        if (c.tag != sp.tag()) continue;
        auto inner_tagged = c.op->tagged;
        auto inner_failed = c.op->failed;
        c.op->tagged = [inner_tagged, check](const imap::Tagged& tt) {
          inner_tagged(tt);
          check();
        };
        c.op->failed = [inner_failed, check](const Error& err) {
          inner_failed(err);
          check();
        };
      }
      if (sp.ready()) check();
    }
  };

  auto build = [&](Tag tag, const std::vector<std::string>& pats) {
    imap::CommandBuilder b(im.tag_text(tag), lsub ? "LSUB" : "LIST", im.builder_options());
    if (o.subscribed_only && extended) b.raw("(SUBSCRIBED)");
    b.astring(o.reference);
    if (pats.size() == 1) {
      list_pattern(b, pats[0]);
    } else {
      b.begin_list();
      for (auto& pat : pats) list_pattern(b, pat);
      b.end_list();
    }
    if (!returns.empty()) {
      std::string r = "RETURN (";
      for (std::size_t i = 0; i < returns.size(); ++i) r += (i ? " " : "") + returns[i];
      b.raw(r + ")");
    }
    return b.build();
  };
  if (multi_in_one) {
    Tag tag = im.reserve_tag();
    p.slot()->tag = tag;
    im.enqueue(tag, build(tag, patterns), op);
  } else {
    for (auto& pat : patterns) {
      Tag tag = im.reserve_tag();
      if (p.slot()->tag == 0) p.slot()->tag = tag;
      im.enqueue(tag, build(tag, {pat}), op);
    }
  }
  return p;
}

Pending<NamespaceInfo> Session::namespaces() {
  Impl& im = *impl_;
  if (!im.caps.has("NAMESPACE")) {
    return failed_now<NamespaceInfo>(missing_cap(im, "NAMESPACE", "NAMESPACE"));
  }
  auto p = make_pending<NamespaceInfo>();
  auto got = std::make_shared<std::optional<NamespaceInfo>>();
  auto op = new_op("NAMESPACE", p);
  op->untagged = [got](imap::Response& r) {
    auto* n = std::get_if<imap::NamespaceData>(&r);
    if (!n) return false;
    *got = std::move(*n);
    return true;
  };
  op->tagged = [p, got](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("NAMESPACE", t));
    } else if (!got->has_value()) {
      p.complete(fail(Errc::Protocol, Scope::Connection, "NAMESPACE: no NAMESPACE data"));
    } else {
      p.complete(std::move(**got));
    }
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), "NAMESPACE", im.builder_options());
  im.enqueue(tag, b.build(), op);
  return p;
}

// ---- SELECT ---------------------------------------------------------------------------------

Pending<SelectInfo> Session::select(std::string_view mailbox, const SelectOptions& o) {
  Impl& im = *impl_;
  auto p = make_pending<SelectInfo>();
  std::string name(mailbox);
  std::string verb = o.read_only ? "EXAMINE" : "SELECT";
  struct State {
    bool active = false;
    imap::SeqSet vanished;
    std::vector<imap::FetchData> changed;
  };
  auto st = std::make_shared<State>();
  auto op = new_op(verb + " " + name, p);
  op->is_select = true;
  bool ro = o.read_only;
  op->activate = [st, &im, name, ro]() {
    st->active = true;
    im.mbox.info.mailbox = name;
    im.mbox.info.read_only = ro;
  };
  op->untagged = [st](imap::Response& r) {
    if (!st->active) return false;
    if (auto* f = std::get_if<imap::FetchData>(&r)) {
      st->changed.push_back(std::move(*f));
      return true;
    }
    if (auto* v = std::get_if<imap::VanishedData>(&r); v && v->earlier) {
      st->vanished.add(v->uids);
      return true;
    }
    return false;
  };
  bool qresync_sent = false;
  std::string params;
  if (o.qresync && im.imap_qresync() && o.qresync->modseq.value > 0 &&
      o.qresync->uidvalidity.valid()) {
    const QresyncParams& q = *o.qresync;
    params = "(QRESYNC (" + std::to_string(q.uidvalidity.value) + " " +
             std::to_string(q.modseq.value);
    if (q.known_uids && !q.known_uids->empty()) {
      std::string known = q.known_uids->to_string();
      std::string match;
      if (q.seq_match && !q.seq_match->first.empty() &&
          q.seq_match->first.size() == q.seq_match->second.size()) {
        match = " (" + q.seq_match->first.to_string() + " " + q.seq_match->second.to_string() + ")";
      }
      // The parameter cannot be split: drop what does not fit the line budget (§3.2.5.1:
      // known-uids then defaults to every UID).
      if (known.size() + match.size() + name.size() + 64 <= im.options.max_command_line) {
        params += " " + known + match;
      } else if (known.size() + name.size() + 64 <= im.options.max_command_line) {
        params += " " + known;
      }
    }
    params += "))";
    qresync_sent = true;
  } else if ((o.condstore || o.qresync) && im.caps.has("CONDSTORE")) {
    params = "(CONDSTORE)";
  }
  op->tagged = [p, st, &im, name, verb, qresync_sent](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
      im.mbox.open = false;
      if (im.state == SessionState::Selected) im.state = SessionState::Authenticated;
      p.complete(tagged_error(verb + " " + name, t));
      return;
    }
    if (t.code.kind == imap::ResponseCode::Kind::ReadOnly) im.mbox.info.read_only = true;
    if (t.code.kind == imap::ResponseCode::Kind::ReadWrite) im.mbox.info.read_only = false;
    im.state = SessionState::Selected;
    im.mbox.open = true;
    SelectInfo info = im.mbox.info;
    info.qresync_sent = qresync_sent;
    info.vanished_earlier = std::move(st->vanished);
    info.changed = std::move(st->changed);
    im.mbox.changes = MailboxChanges{};
    im.mbox.changes.exists = info.exists;
    p.complete(std::move(info));
  };
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), verb, im.builder_options());
  b.mailbox(mailbox);
  if (!params.empty()) b.raw(params);
  im.enqueue(tag, b.build(), op);
  return p;
}

}  // namespace twinbox::client
