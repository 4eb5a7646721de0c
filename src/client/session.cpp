// Session core: command queue and writer, reader and response dispatcher, mailbox state.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <twinbox/client/session.hpp>
#include <twinbox/imap/flags.hpp>

#include "session_impl.hpp"

namespace twinbox::client {

using detail::OutCommand;
using detail::Piece;

namespace {
constexpr std::size_t kOutLimit = 256 * 1024;   // bytes queued for writing before we stop filling
constexpr std::size_t kChunk = 64 * 1024;       // read size and source chunk size
constexpr int kMaxRounds = 64;                  // I/O rounds per on_ready() (fairness)
}  // namespace

std::uint64_t detail::Piece::size() const {
  if (source) return source_size;
  if (shared) return shared->size();
  if (use_view) return view.size();
  return text.size();
}

// ---- Streaming literal sink -------------------------------------------------------------

struct Session::Impl::Sink : imap::LiteralSink {
  explicit Sink(Session::Impl& i) : impl(i) {}
  Session::Impl& impl;
  bool routed = false;
  std::vector<bool> routes;  // per streamed literal of the current response: to the target?

  Status begin(SeqNum seq, std::string_view item, std::uint64_t size) override {
    routed = impl.stream_target != nullptr && item == "BODY[]";
    routes.push_back(routed);
    if (routed) return impl.stream_target->begin(seq, size);
    if (size > impl.options.max_literal) {
      return fail(Errc::Limit, Scope::Connection,
                  "literal of " + std::to_string(size) + " bytes in FETCH item " +
                      std::string(item) + " exceeds the limit of " +
                      std::to_string(impl.options.max_literal) + " bytes");
    }
    impl.side_literals.emplace_back();
    impl.side_literals.back().reserve(static_cast<std::size_t>(size));
    return {};
  }
  Status chunk(std::string_view data) override {
    if (routed) return impl.stream_target->data(data);
    impl.side_literals.back().append(data);
    return {};
  }
  Status end() override { return {}; }

  /// Puts buffered (non-target) literals back into the FetchData's bodies.
  void patch(imap::FetchData& f) {
    std::size_t k = 0, side = 0;
    for (auto& b : f.bodies) {
      if (!b.streamed) continue;
      bool to_target = k < routes.size() && routes[k];
      ++k;
      if (!to_target && side < impl.side_literals.size()) {
        b.data = std::move(impl.side_literals[side++]);
        b.streamed = false;
      }
    }
    routes.clear();
    impl.side_literals.clear();
  }
};

// ---- Impl ----------------------------------------------------------------------------------

namespace {
imap::ParserLimits limits_from(const SessionOptions& o) {
  imap::ParserLimits l;
  l.max_line_length = o.max_response_line;
  l.max_literal_size = o.max_literal;
  return l;
}
}  // namespace

Session::Impl::Impl(net::StreamPtr s, SessionOptions o)
    : stream(std::move(s)), options(std::move(o)), parser(limits_from(options)) {
  sink = std::make_unique<Sink>(*this);
}

std::string Session::Impl::describe() const {
  return stream ? stream->describe() : std::string("closed connection");
}

imap::BuilderOptions Session::Impl::builder_options() const {
  imap::BuilderOptions b;
  if (caps.literal_plus()) {
    b.literals = imap::LiteralMode::Plus;
  } else if (caps.literal_minus()) {
    b.literals = imap::LiteralMode::Minus;
  } else {
    b.literals = imap::LiteralMode::Sync;
  }
  auto utf8 = [](const std::string& e) { return imap::iequals(e, "UTF8=ACCEPT"); };
  b.utf8_quoted = std::any_of(enabled_list.begin(), enabled_list.end(), utf8);
  return b;
}

void Session::Impl::trace_out(std::string_view line) {
  if (options.trace) options.trace("C: " + detail::shorten(line));
}

Error Session::Impl::not_usable() const {
  if (broken) return *broken;
  return fail(Errc::Internal, Scope::Connection, "session not usable");
}

void Session::Impl::enqueue_pieces(Tag tag, std::vector<Piece> pieces, std::string trace_line,
                                   std::shared_ptr<detail::Op> op) {
  if (broken) {
    if (op->failed) op->failed(*broken);
    op->done = true;
    return;
  }
  OutCommand c;
  c.tag = tag;
  c.tag_text = tag_text(tag);
  c.pieces = std::move(pieces);
  c.trace_line = std::move(trace_line);
  c.op = std::move(op);
  queue.push_back(std::move(c));
}

void Session::Impl::enqueue(Tag tag, Result<imap::WireCommand> cmd,
                            std::shared_ptr<detail::Op> op, std::string trace_override) {
  if (!cmd) {
    Error e = cmd.error().with_context("cannot build " + op->what);
    e.scope = Scope::Mailbox;
    if (op->failed) op->failed(e);
    op->done = true;
    return;
  }
  std::vector<Piece> pieces;
  std::string trace;
  for (auto& seg : cmd->segments) {
    Piece p;
    p.sync_after = seg.await_continuation;
    if (auto* s = std::get_if<std::string>(&seg.data)) {
      p.text = std::move(*s);
      if (trace_override.empty()) trace += p.text;
    } else if (auto* sh = std::get_if<std::shared_ptr<const std::string>>(&seg.data)) {
      p.shared = *sh;
      if (trace_override.empty()) trace += "{" + std::to_string(p.shared->size()) + " bytes}";
    } else {
      p.view = std::get<std::string_view>(seg.data);
      p.use_view = true;
      if (trace_override.empty()) trace += "{" + std::to_string(p.view.size()) + " bytes}";
    }
    pieces.push_back(std::move(p));
  }
  if (!trace_override.empty()) trace = std::move(trace_override);
  // One trace line: CRLFs inside (literal headers) become spaces.
  std::string line;
  for (char ch : trace) {
    if (ch == '\r') continue;
    line += ch == '\n' ? ' ' : ch;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  enqueue_pieces(tag, std::move(pieces), std::move(line), std::move(op));
}

void Session::Impl::send_line(std::string line, std::string_view trace_line) {
  trace_out(trace_line);
  out += line;
  out += "\r\n";
}

void Session::Impl::break_connection(Error e) {
  if (broken) return;
  e.scope = Scope::Connection;
  broken = e;
  state = SessionState::Broken;
  auto fail_op = [&](const std::shared_ptr<detail::Op>& op) {
    if (op && !op->done) {
      op->done = true;
      if (op->failed) op->failed(e);
    }
  };
  for (auto& [tag, op] : in_flight) fail_op(op);
  for (auto& c : queue) fail_op(c.op);
  in_flight.clear();
  queue.clear();
  barrier_op.reset();
  continuation_owner.reset();
  pending_select.reset();
  stream_target = nullptr;
  stream_targets.clear();
  idle_op.reset();
  idling = false;
  if (stream) stream->close();
}

bool Session::Impl::can_start(const OutCommand& c) const {
  if (barrier_op && !barrier_op->done) return false;
  if ((c.op->barrier || c.op->exclusive) && !in_flight.empty()) return false;
  return true;
}

void Session::Impl::fill_output() {
  source_starved = false;
  while (!queue.empty() && !waiting_plus && out.size() - out_pos < kOutLimit && !broken) {
    OutCommand& c = queue.front();
    if (!c.started) {
      if (!can_start(c)) return;
      c.started = true;
      in_flight[c.tag] = c.op;
      if (c.op->barrier) barrier_op = c.op;
      if (c.op->owns_continuations) continuation_owner = c.op;
      if (c.op->is_select) pending_select = c.op;
      ++commands_sent;
      trace_out(c.trace_line);
      if (c.op->sent) c.op->sent();
    }
    while (c.next_piece < c.pieces.size() && out.size() - out_pos < kOutLimit) {
      Piece& p = c.pieces[c.next_piece];
      std::uint64_t size = p.size();
      if (p.source) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - c.piece_offset));
        std::size_t old = out.size();
        out.resize(old + want);
        auto n = want == 0 ? Result<std::size_t>(std::size_t{0}) : p.source->read(out.data() + old, want);
        if (!n) {
          out.resize(old);
          break_connection(n.error().with_context("streaming the literal of " + c.op->what));
          return;
        }
        out.resize(old + *n);
        c.piece_offset += *n;
        if (*n == 0 && want > 0) {
          source_starved = true;
          return;
        }
      } else {
        std::string_view bytes = p.shared ? std::string_view(*p.shared)
                                 : p.use_view ? p.view
                                              : std::string_view(p.text);
        std::size_t room = kOutLimit - (out.size() - out_pos);
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(room, size - c.piece_offset));
        out.append(bytes.substr(static_cast<std::size_t>(c.piece_offset), take));
        c.piece_offset += take;
      }
      if (c.piece_offset < size) continue;
      ++c.next_piece;
      c.piece_offset = 0;
      p.shared.reset();  // a body handed over (AppendMessage::owned) is freed once written
      if (p.sync_after) {
        waiting_plus = true;
        waiting_plus_tag = c.tag;
        if (c.next_piece == c.pieces.size()) queue.pop_front();
        return;
      }
    }
    if (c.next_piece < c.pieces.size()) return;
    queue.pop_front();
  }
}

Status Session::Impl::write_out() {
  while (out_pos < out.size()) {
    auto n = stream->write_some(out.data() + out_pos, out.size() - out_pos);
    if (!n) {
      break_connection(n.error().with_context("writing to " + describe()));
      return *broken;
    }
    if (*n == 0) break;
    out_pos += *n;
    ++progress;
  }
  if (out_pos == out.size()) {
    out.clear();
    out_pos = 0;
  } else if (out_pos > kChunk && out_pos * 2 > out.size()) {
    out.erase(0, out_pos);
    out_pos = 0;
  }
  auto f = stream->flush();
  if (!f) {
    break_connection(f.error().with_context("writing to " + describe()));
    return *broken;
  }
  need_flush = !*f;
  return {};
}

void Session::Impl::reset_input() {
  parser = imap::ResponseParser(limits_from(options));
  tracer.reset();
  side_literals.clear();
  sink->routes.clear();
  if (stream_target) parser.set_literal_sink(sink.get(), options.stream_threshold);
}

Status Session::Impl::read_in() {
  if (input_paused) return {};
  char buf[kChunk];
  for (int i = 0; i < 16 && !broken; ++i) {
    auto n = stream->read_some(buf, sizeof buf);
    if (!n) {
      if (n.error().code == Errc::Closed) {
        if (state == SessionState::Logout && in_flight.empty() && queue.empty()) {
          broken = fail(Errc::Closed, Scope::Connection, "logged out of " + describe());
          stream->close();
          return *broken;
        }
        std::string msg = "connection to " + describe() + " closed by the server";
        if (!bye_text.empty()) msg += ": " + bye_text;
        break_connection(fail(Errc::Closed, Scope::Connection, msg));
      } else {
        break_connection(n.error().with_context("reading from " + describe()));
      }
      return *broken;
    }
    if (*n == 0) break;
    ++progress;
    std::string_view bytes(buf, *n);
    tracer.feed(bytes, options.trace);
    parser.feed(bytes);
    while (!broken) {
      auto st = parser.next(resp);
      if (st == imap::ParseStatus::NeedMore) break;
      if (st == imap::ParseStatus::Error) {
        Error e = parser.error();
        e = e.with_context("malformed response from " + describe());
        break_connection(e);
        return *broken;
      }
      if (auto* f = std::get_if<imap::FetchData>(&resp); f && !sink->routes.empty()) sink->patch(*f);
      std::uint64_t gen = input_generation;
      Status s = dispatch(resp);
      if (!s) return s;
      if (gen != input_generation) return {};  // input was reset (STARTTLS, COMPRESS)
    }
  }
  if (broken) return *broken;
  return {};
}

Status Session::Impl::on_ready() {
  if (broken) return *broken;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::uint64_t before = progress;
    fill_output();
    if (broken) return *broken;
    if (auto s = write_out(); !s) return s;
    if (auto s = read_in(); !s) return s;
    if (progress == before) break;
  }
  return {};
}

Status Session::Impl::pump(Deadline deadline) {
  if (broken) return *broken;
  std::uint64_t before = progress;
  if (auto s = on_ready(); !s) return s;
  if (progress != before) return {};
  if (stream->fd() < 0) {
    return fail(Errc::Timeout, Scope::Connection,
                "no progress on " + describe() + " (the stream has nothing to read)");
  }
  pollfd p{};
  p.fd = stream->fd();
  p.events = static_cast<short>(stream->poll_events() | POLLIN |
                                ((out_pos < out.size() || need_flush) ? POLLOUT : 0));
  int rc = ::poll(&p, 1, net::poll_timeout_ms(deadline));
  if (rc < 0) {
    if (errno == EINTR) return {};
    return fail(Errc::Io, Scope::Connection, std::string("poll failed: ") + std::strerror(errno));
  }
  if (rc == 0) {
    return fail(Errc::Timeout, Scope::Connection,
                "timed out waiting for " + describe() + " (" + std::to_string(in_flight.size()) +
                    " command(s) unanswered)");
  }
  return on_ready();
}

Status Session::Impl::run_until(const std::function<bool()>& done, Deadline deadline) {
  while (!done()) {
    if (broken) return *broken;
    if (auto s = pump(deadline); !s) {
      if (done()) return {};
      return s;
    }
  }
  return {};
}

// ---- Dispatch ------------------------------------------------------------------------------

Error tagged_error(std::string_view what, const imap::Tagged& t) {
  using K = imap::ResponseCode::Kind;
  Errc code = Errc::Protocol;
  if (t.code.kind == K::TryCreate || t.code.kind == K::NonExistent) code = Errc::NotFound;
  std::string msg = std::string(what) + " failed: server said " +
                    std::string(imap::to_string(t.cond));
  if (t.code.kind != K::None) msg += " [" + t.code.atom + "]";
  msg += ": " + (t.text.empty() ? std::string("(no text)") : t.text);
  if (t.cond == imap::Cond::Bad) msg += " (the server rejected the command as invalid)";
  return fail(code, Scope::Mailbox, std::move(msg));
}

void Session::Impl::apply_code(const imap::ResponseCode& code) {
  using K = imap::ResponseCode::Kind;
  SelectInfo& info = mbox.info;
  switch (code.kind) {
    case K::Capability:
      caps = imap::CapabilitySet(code.capabilities);
      break;
    case K::PermanentFlags:
      if (mbox.open) {
        info.permanent_flags = code.flags;
        info.permanent_flags_sent = true;
      }
      break;
    case K::UidNext:
      if (mbox.open) info.uidnext = Uid(code.number);
      break;
    case K::UidValidity:
      if (mbox.open) info.uidvalidity = UidValidity(code.number);
      break;
    case K::HighestModSeq:
      if (mbox.open) info.highestmodseq = code.modseq;
      break;
    case K::NoModSeq:
      if (mbox.open) info.nomodseq = true;
      break;
    case K::MailboxId:
      if (mbox.open) info.mailbox_id = code.mailbox_id;
      break;
    case K::UidNotSticky:
      if (mbox.open) info.uid_not_sticky = true;
      break;
    case K::NotificationOverflow:
      mbox.changes.notification_overflow = true;
      break;
    default:
      break;
  }
}

void Session::Impl::maybe_activate_select(bool closed_seen) {
  if (!pending_select || pending_select->done) return;
  bool oldest = !in_flight.empty() && in_flight.begin()->second == pending_select;
  if (!closed_seen && !oldest) return;
  auto op = pending_select;
  pending_select.reset();
  mbox = detail::MailboxModel{};
  mbox.open = true;
  state = SessionState::Selected;
  if (op->activate) op->activate();
}

void Session::Impl::apply_untagged(imap::Response& r, std::uint32_t& expunged_uid) {
  SelectInfo& info = mbox.info;
  bool track = !imap_qresync();
  if (auto* c = std::get_if<imap::CapabilityData>(&r)) {
    caps = imap::CapabilitySet(c->capabilities);
  } else if (auto* e = std::get_if<imap::EnabledData>(&r)) {
    for (auto& x : e->capabilities) enabled_list.push_back(x);
  } else if (auto* ex = std::get_if<imap::ExistsData>(&r)) {
    if (!mbox.open) return;
    if (ex->count > info.exists) mbox.changes.exists_grew = true;
    info.exists = ex->count;
    mbox.changes.exists = ex->count;
    if (track && ex->count > mbox.seq_uid.size()) mbox.seq_uid.resize(ex->count, 0);
  } else if (auto* rc = std::get_if<imap::RecentData>(&r)) {
    if (mbox.open) info.recent = rc->count;
  } else if (auto* x = std::get_if<imap::ExpungeData>(&r)) {
    if (!mbox.open) return;
    std::uint32_t seq = x->seq.value;
    if (seq >= 1 && seq <= mbox.seq_uid.size()) {
      expunged_uid = mbox.seq_uid[seq - 1];
      mbox.seq_uid.erase(mbox.seq_uid.begin() + static_cast<std::ptrdiff_t>(seq - 1));
    }
    if (info.exists > 0) --info.exists;
    mbox.changes.exists = info.exists;
  } else if (auto* v = std::get_if<imap::VanishedData>(&r)) {
    if (!mbox.open || v->earlier) return;
    std::uint64_t n = v->uids.size();
    info.exists = n >= info.exists ? 0 : info.exists - static_cast<std::uint32_t>(n);
    mbox.changes.exists = info.exists;
    if (!mbox.seq_uid.empty()) {
      std::erase_if(mbox.seq_uid, [&](std::uint32_t u) { return u != 0 && v->uids.contains(u); });
    }
  } else if (auto* f = std::get_if<imap::FetchData>(&r)) {
    if (!mbox.open) return;
    std::uint32_t seq = f->seq.value;
    if (track && seq >= 1) {
      if (f->uid) {
        if (seq > mbox.seq_uid.size()) mbox.seq_uid.resize(seq, 0);
        mbox.seq_uid[seq - 1] = f->uid->value;
      } else if (seq <= mbox.seq_uid.size() && mbox.seq_uid[seq - 1] != 0) {
        f->uid = Uid(mbox.seq_uid[seq - 1]);
      }
    }
  } else if (auto* fl = std::get_if<imap::FlagsData>(&r)) {
    if (mbox.open) info.flags = fl->flags;
  } else if (auto* cond = std::get_if<imap::Condition>(&r)) {
    apply_code(cond->code);
  }
}

void Session::Impl::record_unclaimed(imap::Response& r, std::uint32_t expunged_uid) {
  MailboxChanges& ch = mbox.changes;
  if (std::holds_alternative<imap::ExpungeData>(r)) {
    if (!mbox.open) return;
    if (expunged_uid != 0) {
      ch.expunged.add(expunged_uid);
    } else {
      ++ch.unmapped_expunges;
    }
  } else if (auto* v = std::get_if<imap::VanishedData>(&r)) {
    if (mbox.open && !v->earlier) ch.expunged.add(v->uids);
  } else if (auto* f = std::get_if<imap::FetchData>(&r)) {
    if (mbox.open) ch.fetches.push_back(std::move(*f));
  } else if (auto* s = std::get_if<imap::StatusData>(&r)) {
    ch.status_updates.push_back(std::move(*s));
  } else if (auto* l = std::get_if<imap::ListData>(&r)) {
    ch.list_updates.push_back(std::move(*l));
  }
}

void Session::Impl::handle_continuation(const imap::Continuation& c) {
  if (waiting_plus) {
    waiting_plus = false;
    return;
  }
  if (continuation_owner && !continuation_owner->done && continuation_owner->continuation) {
    continuation_owner->continuation(c);
    return;
  }
  break_connection(fail(Errc::Protocol, Scope::Connection,
                        describe() + " sent a continuation request (\"+ " + c.text +
                            "\") nobody waited for"));
}

void Session::Impl::handle_tagged(const imap::Tagged& t) {
  std::string_view tag = t.tag;
  Tag num = 0;
  if (tag.size() > options.tag_prefix.size() && tag.substr(0, options.tag_prefix.size()) == options.tag_prefix) {
    if (auto n = parse_nz_number(tag.substr(options.tag_prefix.size()))) num = *n;
  }
  auto it = in_flight.find(num);
  if (it == in_flight.end()) {
    break_connection(fail(Errc::Protocol, Scope::Connection,
                          describe() + " answered tag '" + t.tag + "', which is not in flight"));
    return;
  }
  auto op = it->second;
  if (waiting_plus && waiting_plus_tag == num) {
    // The server refused the literal: the rest of the command is never sent.
    waiting_plus = false;
    if (!queue.empty() && queue.front().tag == num) queue.pop_front();
  }
  // A command answered while its non-synchronizing literal is still being written keeps
  // being written: the server reads those octets anyway (RFC 7888 §3).
  if (op == pending_select) maybe_activate_select(true);
  if (t.cond == imap::Cond::Ok) apply_code(t.code);
  else if (t.code.kind == imap::ResponseCode::Kind::Capability) apply_code(t.code);
  in_flight.erase(it);
  --op->remaining;
  if (op->remaining <= 0 && !op->done) op->done = true;
  if (op->tagged) op->tagged(t);
  if (op->done) {
    if (barrier_op == op) barrier_op.reset();
    if (continuation_owner == op) continuation_owner.reset();
  }
  if (deferred_break) {
    Error e = std::move(*deferred_break);
    deferred_break.reset();
    break_connection(std::move(e));
  }
}

void Session::Impl::push_stream_target(MessageSink* s) {
  stream_targets.push_back(s);
  if (!stream_target) {
    stream_target = s;
    parser.set_literal_sink(sink.get(), options.stream_threshold);
  }
}

void Session::Impl::pop_stream_target(MessageSink* s) {
  auto it = std::find(stream_targets.begin(), stream_targets.end(), s);
  if (it != stream_targets.end()) stream_targets.erase(it);
  stream_target = stream_targets.empty() ? nullptr : stream_targets.front();
  if (!stream_target) parser.set_literal_sink(nullptr);
}

Status Session::Impl::dispatch(imap::Response& r) {
  ++progress;
  if (auto* t = std::get_if<imap::Tagged>(&r)) {
    handle_tagged(*t);
    return broken ? Status(*broken) : Status{};
  }
  if (auto* c = std::get_if<imap::Continuation>(&r)) {
    handle_continuation(*c);
    return broken ? Status(*broken) : Status{};
  }
  auto* cond = std::get_if<imap::Condition>(&r);
  if (state == SessionState::Greeting) {
    if (!cond || cond->cond == imap::Cond::No || cond->cond == imap::Cond::Bad) {
      break_connection(fail(Errc::Protocol, Scope::Connection,
                            describe() + " did not start with an IMAP greeting: " +
                                imap::describe(r)));
      return *broken;
    }
    greeting = *cond;
    if (cond->code.kind == imap::ResponseCode::Kind::Capability) apply_code(cond->code);
    if (cond->cond == imap::Cond::Bye) {
      break_connection(fail(Errc::Closed, Scope::Connection,
                            describe() + " refused the connection: " + cond->text));
      return *broken;
    }
    state = cond->cond == imap::Cond::Preauth ? SessionState::Authenticated
                                              : SessionState::NotAuthenticated;
    return {};
  }
  if (cond && cond->cond == imap::Cond::Bye) {
    bye_text = cond->text;
    bool logging_out = std::any_of(in_flight.begin(), in_flight.end(),
                                   [](const auto& kv) { return kv.second->is_logout; });
    if (observer) observer(r);
    if (!logging_out) {
      break_connection(fail(Errc::Closed, Scope::Connection,
                            describe() + " closed the connection (BYE): " + cond->text));
      return *broken;
    }
    return {};
  }
  maybe_activate_select(cond && cond->code.kind == imap::ResponseCode::Kind::Closed);
  std::uint32_t expunged_uid = 0;
  apply_untagged(r, expunged_uid);
  last_expunged_uid = expunged_uid;
  if (observer) observer(r);
  bool claimed = false;
  for (auto& [tag, op] : in_flight) {
    if (!op->done && op->untagged && op->untagged(r)) {
      claimed = true;
      break;
    }
  }
  if (deferred_break) {
    Error e = std::move(*deferred_break);
    deferred_break.reset();
    break_connection(std::move(e));
    return *broken;
  }
  if (!claimed) record_unclaimed(r, expunged_uid);
  return {};
}

// ---- Session forwarding ----------------------------------------------------------------

Session::Session(net::StreamPtr stream, SessionOptions options)
    : impl_(std::make_unique<Impl>(std::move(stream), std::move(options))) {}
Session::~Session() = default;

SessionState Session::state() const { return impl_->state; }
const imap::CapabilitySet& Session::capabilities() const { return impl_->caps; }
bool Session::has(std::string_view capability) const { return impl_->caps.has(capability); }
bool Session::enabled(std::string_view extension) const {
  return std::any_of(impl_->enabled_list.begin(), impl_->enabled_list.end(),
                     [&](const std::string& e) { return imap::iequals(e, extension); });
}
bool Session::compressed() const { return impl_->compressed; }
const SelectInfo* Session::selected() const {
  return impl_->mbox.open && impl_->state == SessionState::Selected ? &impl_->mbox.info : nullptr;
}
std::optional<Uid> Session::uid_of(SeqNum seq) const {
  const auto& v = impl_->mbox.seq_uid;
  if (seq.value < 1 || seq.value > v.size() || v[seq.value - 1] == 0) return std::nullopt;
  return Uid(v[seq.value - 1]);
}
MailboxChanges Session::take_changes() {
  MailboxChanges c = std::move(impl_->mbox.changes);
  impl_->mbox.changes = MailboxChanges{};
  impl_->mbox.changes.exists = impl_->mbox.info.exists;
  return c;
}
bool Session::has_changes() const { return !impl_->mbox.changes.empty(); }
void Session::set_observer(std::function<void(const imap::Response&)> observer) {
  impl_->observer = std::move(observer);
}
const std::optional<Error>& Session::broken() const { return impl_->broken; }
std::string Session::describe() const { return impl_->describe(); }
std::uint64_t Session::commands_sent() const { return impl_->commands_sent; }
std::size_t Session::in_flight() const { return impl_->in_flight.size() + impl_->queue.size(); }

Status Session::run_until(const std::function<bool()>& done, Deadline deadline) {
  return impl_->run_until(done, deadline);
}
Status Session::pump(Deadline deadline) { return impl_->pump(deadline); }
Status Session::on_ready() { return impl_->on_ready(); }
int Session::fd() const { return impl_->stream && !impl_->broken ? impl_->stream->fd() : -1; }
short Session::poll_events() const {
  if (!impl_->stream || impl_->broken) return 0;
  short ev = static_cast<short>(impl_->stream->poll_events() | POLLIN);
  if (impl_->out_pos < impl_->out.size() || impl_->need_flush) ev = static_cast<short>(ev | POLLOUT);
  return ev;
}
std::uint64_t Session::progress() const { return impl_->progress; }
bool Session::ready_without_poll() const {
  return impl_->stream && !impl_->broken && impl_->stream->buffered_input();
}

}  // namespace twinbox::client
