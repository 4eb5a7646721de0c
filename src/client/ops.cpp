// Typed operations of client::Session (PROTOCOL.md §1.5-§1.12).
#include <algorithm>

#include <twinbox/client/session.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/token.hpp>

#include "session_impl.hpp"

namespace twinbox::client {

using detail::Op;
using detail::Piece;

namespace {

template <class T>
Pending<T> failed_now(Error e) {
  auto p = make_pending<T>();
  p.complete(std::move(e));
  return p;
}

Error missing_cap(const Session::Impl& im, std::string_view cap, std::string_view what) {
  return fail(Errc::Capability, Scope::Mailbox,
              im.describe() + " does not support " + std::string(cap) + ", needed for " +
                  std::string(what));
}

template <class T>
std::shared_ptr<Op> new_op(std::string what, const Pending<T>& p) {
  auto op = std::make_shared<Op>();
  op->what = std::move(what);
  op->failed = [p](const Error& e) { p.complete(e); };
  return op;
}

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

// ---- FETCH ------------------------------------------------------------------------------------

namespace {

std::string fetch_items_text(const FetchItems& it) {
  std::string s = "(UID";
  if (it.flags) s += " FLAGS";
  if (it.modseq) s += " MODSEQ";
  if (it.internal_date) s += " INTERNALDATE";
  if (it.size) s += " RFC822.SIZE";
  if (it.email_id) s += " EMAILID";
  for (auto& x : it.extra) s += " " + x;
  if (it.body) s += " BODY.PEEK[]";
  return s + ")";
}

}  // namespace

namespace {
Pending<FetchResult> start_fetch(Session::Impl& im, const imap::SeqSet& uids,
                                 const FetchItems& items, const FetchModifiers& mods,
                                 std::function<void(const imap::FetchData&)> on_message,
                                 MessageSink* sink) {
  auto p = make_pending<FetchResult>();
  if (uids.empty()) {
    p.complete(FetchResult{});
    return p;
  }
  bool condstore = im.caps.has("CONDSTORE") || im.caps.has("QRESYNC");
  if ((items.modseq || mods.changed_since) && !condstore) {
    return failed_now<FetchResult>(missing_cap(im, "CONDSTORE", "UID FETCH with MODSEQ"));
  }
  if (mods.vanished && (!im.imap_qresync() || !mods.changed_since)) {
    return failed_now<FetchResult>(fail(Errc::Capability, Scope::Mailbox,
                                        "UID FETCH (VANISHED) needs QRESYNC enabled and "
                                        "CHANGEDSINCE (RFC 7162 §3.2.6)"));
  }
  std::string item_text = fetch_items_text(items);
  std::string mod_text;
  if (mods.changed_since) {
    mod_text = "(CHANGEDSINCE " + std::to_string(mods.changed_since->value);
    if (mods.vanished) mod_text += " VANISHED";
    mod_text += ")";
  }
  auto pieces = imap::split_uid_set(uids, im.options.max_command_line,
                                    item_text.size() + mod_text.size() + 64);
  struct State {
    FetchResult result;
    std::optional<Error> error;
  };
  auto st = std::make_shared<State>();
  auto op = new_op("UID FETCH", p);
  op->remaining = static_cast<int>(pieces.size());
  bool want_vanished = mods.vanished;
  imap::SeqSet set = uids;
  op->untagged = [st, set, want_vanished, on_message, sink, &im](imap::Response& r) {
    if (auto* f = std::get_if<imap::FetchData>(&r)) {
      if (!f->uid || !set.contains(f->uid->value)) return false;
      // A body fetch answers with BODY[]; anything else about these UIDs (a flag change,
      // another pipelined FETCH) is not ours.
      if (sink && std::none_of(f->bodies.begin(), f->bodies.end(), [](const imap::FetchBody& b) {
            return b.item == "BODY" && b.section.empty() && !b.origin;
          })) {
        return false;
      }
      if (sink) {
        if (auto s = sink->end(*f); !s && !im.deferred_break) im.deferred_break = s.error();
      } else if (on_message) {
        on_message(*f);
      } else {
        st->result.messages.push_back(std::move(*f));
      }
      return true;
    }
    if (auto* v = std::get_if<imap::VanishedData>(&r); v && v->earlier && want_vanished) {
      st->result.vanished_earlier.add(v->uids);
      return true;
    }
    return false;
  };
  auto opp = op.get();
  op->tagged = [p, st, opp, sink, &im](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok && !st->error) st->error = tagged_error("UID FETCH", t);
    if (opp->remaining > 0) return;
    if (sink) im.pop_stream_target(sink);
    if (st->error) {
      p.complete(*st->error);
    } else {
      p.complete(std::move(st->result));
    }
  };
  if (sink) {
    auto inner = op->failed;
    op->failed = [inner, sink, &im](const Error& e) {
      im.pop_stream_target(sink);
      inner(e);
    };
    auto registered = std::make_shared<bool>(false);
    op->sent = [sink, &im, registered]() {
      if (!*registered) im.push_stream_target(sink);
      *registered = true;
    };
  }
  for (auto& piece : pieces) {
    Tag tag = im.reserve_tag();
    if (p.slot()->tag == 0) p.slot()->tag = tag;
    imap::CommandBuilder b(im.tag_text(tag), "UID FETCH", im.builder_options());
    b.seqset(piece).raw(item_text);
    if (!mod_text.empty()) b.raw(mod_text);
    im.enqueue(tag, b.build(), op);
  }
  return p;
}
}  // namespace

Pending<FetchResult> Session::uid_fetch(const imap::SeqSet& uids, const FetchItems& items,
                                        const FetchModifiers& modifiers,
                                        std::function<void(const imap::FetchData&)> on_message) {
  return start_fetch(*impl_, uids, items, modifiers, std::move(on_message), nullptr);
}

Pending<FetchResult> Session::uid_fetch_stream(const imap::SeqSet& uids, const FetchItems& items,
                                               MessageSink& sink) {
  FetchItems it = items;
  it.body = true;
  return start_fetch(*impl_, uids, it, {}, {}, &sink);
}

// ---- STORE ----------------------------------------------------------------------------------

Pending<StoreResult> Session::uid_store(const imap::SeqSet& uids, StoreMode mode,
                                        const imap::FlagSet& flags,
                                        std::optional<ModSeq> unchanged_since) {
  Impl& im = *impl_;
  auto p = make_pending<StoreResult>();
  if (uids.empty()) {
    p.complete(StoreResult{});
    return p;
  }
  if (unchanged_since && !(im.caps.has("CONDSTORE") || im.caps.has("QRESYNC"))) {
    return failed_now<StoreResult>(missing_cap(im, "CONDSTORE", "UID STORE (UNCHANGEDSINCE)"));
  }
  std::vector<std::string> list;
  for (auto& f : flags) {
    if (!imap::is_recent_flag(f)) list.push_back(f);
  }
  std::string action = mode == StoreMode::Add      ? "+FLAGS.SILENT"
                       : mode == StoreMode::Remove ? "-FLAGS.SILENT"
                                                   : "FLAGS.SILENT";
  std::string mod;
  if (unchanged_since) mod = "(UNCHANGEDSINCE " + std::to_string(unchanged_since->value) + ")";
  std::size_t reserved = mod.size() + action.size() + flags.to_string().size() + 64;
  auto pieces = imap::split_uid_set(uids, im.options.max_command_line, reserved);
  struct State {
    StoreResult result;
    std::optional<Error> error;
  };
  auto st = std::make_shared<State>();
  auto op = new_op("UID STORE", p);
  op->remaining = static_cast<int>(pieces.size());
  imap::SeqSet set = uids;
  op->untagged = [st, set](imap::Response& r) {
    auto* f = std::get_if<imap::FetchData>(&r);
    if (!f || !f->uid || !set.contains(f->uid->value)) return false;
    st->result.fetched.push_back(std::move(*f));
    return true;
  };
  auto opp = op.get();
  op->tagged = [p, st, opp](const imap::Tagged& t) {
    using K = imap::ResponseCode::Kind;
    if (t.code.kind == K::Modified) st->result.modified.add(t.code.set);
    if (t.code.kind == K::HighestModSeq) st->result.highestmodseq = t.code.modseq;
    // NO [MODIFIED …] is a conditional-store outcome, not a failure (RFC 7162 §3.1.3).
    if (t.cond != imap::Cond::Ok && t.code.kind != K::Modified && !st->error) {
      st->error = tagged_error("UID STORE", t);
    }
    if (opp->remaining > 0) return;
    if (st->error) {
      p.complete(*st->error);
    } else {
      p.complete(std::move(st->result));
    }
  };
  for (auto& piece : pieces) {
    Tag tag = im.reserve_tag();
    if (p.slot()->tag == 0) p.slot()->tag = tag;
    imap::CommandBuilder b(im.tag_text(tag), "UID STORE", im.builder_options());
    b.seqset(piece);
    if (!mod.empty()) b.raw(mod);
    b.atom(action).flags(list);
    im.enqueue(tag, b.build(), op);
  }
  return p;
}

// ---- APPEND ---------------------------------------------------------------------------------

Pending<AppendResult> Session::append(std::string_view mailbox,
                                      std::vector<AppendMessage> messages) {
  Impl& im = *impl_;
  if (messages.empty()) {
    auto p = make_pending<AppendResult>();
    p.complete(AppendResult{});
    return p;
  }
  if (messages.size() > 1 && !im.caps.has("MULTIAPPEND")) {
    return failed_now<AppendResult>(missing_cap(im, "MULTIAPPEND", "appending several messages at once"));
  }
  auto limit = im.caps.number("APPENDLIMIT");
  Tag tag = im.reserve_tag();
  std::string tagt = im.tag_text(tag);
  imap::CommandBuilder b(tagt, "APPEND", im.builder_options());
  b.mailbox(mailbox);
  auto head = b.build();
  if (!head) {
    return failed_now<AppendResult>(head.error().with_context("APPEND to " + std::string(mailbox)));
  }
  std::vector<Piece> pieces;
  std::string trace;
  for (auto& seg : head->segments) {
    Piece pc;
    pc.text = std::string(seg.bytes());
    pc.sync_after = seg.await_continuation;
    trace += pc.text;
    pieces.push_back(std::move(pc));
  }
  // Drop the CRLF that build() put at the end; the messages follow on the same line.
  auto& last = pieces.back().text;
  if (last.size() >= 2 && last.compare(last.size() - 2, 2, "\r\n") == 0) last.resize(last.size() - 2);
  trace.resize(trace.size() - 2);
  std::uint64_t nonsync_max = im.caps.max_nonsync_literal();
  for (auto& m : messages) {
    std::uint64_t size = m.source ? m.source->size() : m.data.size();
    if (limit && size > *limit) {
      return failed_now<AppendResult>(fail(
          Errc::Limit, Scope::Message,
          "message of " + std::to_string(size) + " bytes exceeds the server's APPENDLIMIT of " +
              std::to_string(*limit) + " bytes"));
    }
    std::string text = " (";
    bool first = true;
    for (auto& f : m.flags) {
      if (imap::is_recent_flag(f)) continue;
      if (!imap::is_valid_flag(f)) {
        return failed_now<AppendResult>(fail(Errc::Internal, Scope::Message,
                                             "APPEND: invalid flag '" + f + "'"));
      }
      if (!first) text += ' ';
      text += f;
      first = false;
    }
    text += ")";
    if (m.internal_date) text += " \"" + *m.internal_date + "\"";
    bool sync = size > nonsync_max;
    text += " {" + std::to_string(size) + (sync ? "}" : "+}") + "\r\n";
    trace += text + "{" + std::to_string(size) + " bytes}";
    pieces.back().text += text;
    pieces.back().sync_after = sync;
    Piece body;
    if (m.source) {
      body.source = m.source;
      body.source_size = size;
    } else {
      body.view = m.data;
      body.use_view = true;
    }
    pieces.push_back(std::move(body));
    pieces.emplace_back();
  }
  pieces.back().text = "\r\n";
  std::string line;
  for (char ch : trace) {
    if (ch != '\r') line += ch == '\n' ? ' ' : ch;
  }

  auto p = make_pending<AppendResult>();
  p.slot()->tag = tag;
  std::string what = "APPEND to " + std::string(mailbox);
  auto op = new_op(what, p);
  op->tagged = [p, what](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error(what, t));
      return;
    }
    AppendResult r;
    if (t.code.kind == imap::ResponseCode::Kind::AppendUid) {
      r.uidvalidity = t.code.uidvalidity;
      for (auto& run : t.code.dst_runs) {
        std::uint32_t a = run.first, z = run.last;
        if (a <= z) {
          for (std::uint64_t u = a; u <= z && r.uids.size() < 1000000; ++u) r.uids.emplace_back(static_cast<std::uint32_t>(u));
        } else {
          for (std::uint64_t u = a; u >= z && r.uids.size() < 1000000; --u) r.uids.emplace_back(static_cast<std::uint32_t>(u));
        }
      }
    }
    p.complete(std::move(r));
  };
  im.enqueue_pieces(tag, std::move(pieces), line, op);
  return p;
}

// ---- EXPUNGE / COPY / MOVE ---------------------------------------------------------------------

namespace {

/// Claims live expunges of UIDs in `set` for an operation's result.
bool claim_expunge(Session::Impl& im, const imap::SeqSet& set, imap::Response& r,
                   imap::SeqSet& out, std::uint32_t* unmapped) {
  if (auto* v = std::get_if<imap::VanishedData>(&r); v && !v->earlier) {
    imap::SeqSet rest = v->uids;
    rest.remove(set);
    if (!rest.empty()) return false;  // also names other UIDs: a change for everyone
    out.add(v->uids);
    return true;
  }
  if (std::holds_alternative<imap::ExpungeData>(r)) {
    if (im.last_expunged_uid != 0) {
      if (!set.contains(im.last_expunged_uid)) return false;
      out.add(im.last_expunged_uid);
      return true;
    }
    if (unmapped) {
      ++*unmapped;
      return true;
    }
  }
  return false;
}

}  // namespace

Pending<ExpungeResult> Session::uid_expunge(const imap::SeqSet& uids) {
  Impl& im = *impl_;
  if (!im.caps.has("UIDPLUS")) {
    return failed_now<ExpungeResult>(missing_cap(im, "UIDPLUS", "UID EXPUNGE"));
  }
  auto p = make_pending<ExpungeResult>();
  if (uids.empty()) {
    p.complete(ExpungeResult{});
    return p;
  }
  auto pieces = imap::split_uid_set(uids, im.options.max_command_line, 64);
  struct State {
    ExpungeResult result;
    std::optional<Error> error;
  };
  auto st = std::make_shared<State>();
  auto op = new_op("UID EXPUNGE", p);
  op->remaining = static_cast<int>(pieces.size());
  imap::SeqSet set = uids;
  op->untagged = [st, set, &im](imap::Response& r) {
    return claim_expunge(im, set, r, st->result.expunged, &st->result.unmapped_expunges);
  };
  auto opp = op.get();
  op->tagged = [p, st, opp](const imap::Tagged& t) {
    if (t.code.kind == imap::ResponseCode::Kind::HighestModSeq) st->result.highestmodseq = t.code.modseq;
    if (t.cond != imap::Cond::Ok && !st->error) st->error = tagged_error("UID EXPUNGE", t);
    if (opp->remaining > 0) return;
    if (st->error) {
      p.complete(*st->error);
    } else {
      p.complete(std::move(st->result));
    }
  };
  for (auto& piece : pieces) {
    Tag tag = im.reserve_tag();
    if (p.slot()->tag == 0) p.slot()->tag = tag;
    imap::CommandBuilder b(im.tag_text(tag), "UID EXPUNGE", im.builder_options());
    b.seqset(piece);
    im.enqueue(tag, b.build(), op);
  }
  return p;
}

namespace {

Pending<CopyResult> copy_or_move(Session::Impl& im, const imap::SeqSet& uids,
                                 std::string_view dest, bool move) {
  std::string verb = move ? "UID MOVE" : "UID COPY";
  if (move && !im.caps.has("MOVE")) return failed_now<CopyResult>(missing_cap(im, "MOVE", verb));
  auto p = make_pending<CopyResult>();
  if (uids.empty()) {
    p.complete(CopyResult{});
    return p;
  }
  auto pieces = imap::split_uid_set(uids, im.options.max_command_line, dest.size() + 64);
  struct State {
    CopyResult result;
    std::optional<Error> error;
    std::uint32_t unmapped = 0;
  };
  auto st = std::make_shared<State>();
  std::string what = verb + " to " + std::string(dest);
  auto op = new_op(what, p);
  op->remaining = static_cast<int>(pieces.size());
  auto add_copyuid = [st, what](const imap::ResponseCode& code) {
    auto pairs = imap::copyuid_pairs(code);
    if (!pairs) {
      if (!st->error) st->error = pairs.error().with_context(what);
      return;
    }
    st->result.dest_uidvalidity = code.uidvalidity;
    st->result.pairs.insert(st->result.pairs.end(), pairs->begin(), pairs->end());
  };
  imap::SeqSet set = uids;
  op->untagged = [st, set, move, add_copyuid, &im](imap::Response& r) {
    if (auto* c = std::get_if<imap::Condition>(&r);
        c && c->cond == imap::Cond::Ok && c->code.kind == imap::ResponseCode::Kind::CopyUid) {
      add_copyuid(c->code);
      return true;
    }
    if (move) return claim_expunge(im, set, r, st->result.expunged, &st->unmapped);
    return false;
  };
  auto opp = op.get();
  op->tagged = [p, st, opp, what, add_copyuid](const imap::Tagged& t) {
    using K = imap::ResponseCode::Kind;
    if (t.cond == imap::Cond::Ok && t.code.kind == K::CopyUid) add_copyuid(t.code);
    if (t.code.kind == K::HighestModSeq) st->result.highestmodseq = t.code.modseq;
    if (t.cond != imap::Cond::Ok && !st->error) st->error = tagged_error(what, t);
    if (opp->remaining > 0) return;
    if (st->error) {
      p.complete(*st->error);
    } else {
      p.complete(std::move(st->result));
    }
  };
  for (auto& piece : pieces) {
    Tag tag = im.reserve_tag();
    if (p.slot()->tag == 0) p.slot()->tag = tag;
    imap::CommandBuilder b(im.tag_text(tag), verb, im.builder_options());
    b.seqset(piece).mailbox(dest);
    im.enqueue(tag, b.build(), op);
  }
  return p;
}

}  // namespace

Pending<CopyResult> Session::uid_copy(const imap::SeqSet& uids, std::string_view dest) {
  return copy_or_move(*impl_, uids, dest, false);
}

Pending<CopyResult> Session::uid_move(const imap::SeqSet& uids, std::string_view dest) {
  return copy_or_move(*impl_, uids, dest, true);
}

// ---- SEARCH ---------------------------------------------------------------------------------

Pending<SearchResult> Session::uid_search(std::string_view criteria) {
  Impl& im = *impl_;
  auto p = make_pending<SearchResult>();
  bool esearch = im.caps.has("ESEARCH");
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  std::string tagt = im.tag_text(tag);
  auto got = std::make_shared<SearchResult>();
  auto claimed = std::make_shared<bool>(false);
  auto op = new_op("UID SEARCH", p);
  op->untagged = [got, claimed, tagt, esearch](imap::Response& r) {
    if (auto* e = std::get_if<imap::ESearchData>(&r)) {
      if (!esearch || (e->tag && *e->tag != tagt) || *claimed) return false;
      *claimed = true;
      if (e->all) got->uids = std::move(*e->all);
      got->count = e->count;
      got->min = e->min;
      got->max = e->max;
      got->modseq = e->modseq;
      return true;
    }
    if (auto* s = std::get_if<imap::SearchData>(&r)) {
      if (esearch || *claimed) return false;
      *claimed = true;
      got->uids = std::move(s->ids);
      got->count = static_cast<std::uint32_t>(got->uids.size());
      got->modseq = s->modseq;
      return true;
    }
    return false;
  };
  op->tagged = [p, got](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("UID SEARCH", t));
      return;
    }
    if (!got->count) got->count = static_cast<std::uint32_t>(got->uids.size());
    if (!got->min) got->min = got->uids.min();
    if (!got->max) got->max = got->uids.max();
    p.complete(std::move(*got));
  };
  imap::CommandBuilder b(tagt, "UID SEARCH", im.builder_options());
  if (esearch) b.raw("RETURN (ALL)");
  b.raw(criteria);
  im.enqueue(tag, b.build(), op);
  return p;
}

// ---- IDLE -----------------------------------------------------------------------------------

Pending<void> Session::idle() {
  Impl& im = *impl_;
  if (!im.caps.has("IDLE")) return failed_now<void>(missing_cap(im, "IDLE", "IDLE"));
  if (im.idle_op) {
    return failed_now<void>(fail(Errc::Internal, Scope::Connection, "IDLE is already running"));
  }
  auto p = make_pending<void>();
  auto op = new_op("IDLE", p);
  op->barrier = true;
  op->owns_continuations = true;
  im.idle_done_requested = false;
  op->continuation = [&im](const imap::Continuation&) {
    if (im.idle_done_requested) {
      im.send_line("DONE", "DONE");
      im.idle_done_requested = false;
    } else {
      im.idling = true;
    }
  };
  op->tagged = [p, &im](const imap::Tagged& t) {
    im.idling = false;
    im.idle_op.reset();
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("IDLE", t));
    } else {
      p.complete(Status{});
    }
  };
  auto inner = op->failed;
  op->failed = [inner, &im](const Error& e) {
    im.idling = false;
    inner(e);
  };
  im.idle_op = op;
  Tag tag = im.reserve_tag();
  p.slot()->tag = tag;
  imap::CommandBuilder b(im.tag_text(tag), "IDLE", im.builder_options());
  im.enqueue(tag, b.build(), op);
  return p;
}

void Session::idle_done() {
  Impl& im = *impl_;
  if (!im.idle_op || im.broken) return;
  if (im.idling) {
    im.send_line("DONE", "DONE");
    im.idling = false;
  } else {
    im.idle_done_requested = true;
  }
}

bool Session::idling() const { return impl_->idling; }

}  // namespace twinbox::client
