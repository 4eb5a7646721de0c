// Typed message operations of client::Session: FETCH, STORE, APPEND, EXPUNGE, COPY/MOVE,
// SEARCH, IDLE (PROTOCOL.md §1.7-§1.11).
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
    std::uint64_t size = m.source ? m.source->size() : m.owned ? m.owned->size() : m.data.size();
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
    } else if (m.owned) {
      body.shared = std::move(m.owned);
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
