#include "session.hpp"

#include <poll.h>

#include <algorithm>

#include <twinbox/imap/seqset.hpp>
#include <twinbox/imap/utf7.hpp>

#include "notify.hpp"

namespace twinbox::server {

std::uint32_t Snapshot::seq_of(std::uint32_t uid) const {
  auto it = std::lower_bound(uids.begin(), uids.end(), uid);
  if (it == uids.end() || *it != uid) return 0;
  return static_cast<std::uint32_t>(it - uids.begin()) + 1;
}

Session::Session(ServerCore& core, net::StreamPtr stream, std::uint64_t id)
    : core_(core),
      stream_(std::move(stream)),
      id_(id),
      peer_(peer_address_key(stream_->fd())),
      framer_(FrameLimits{core.options().limits.max_line, core.options().limits.max_literal,
                          core.has("LITERAL+")}),
      last_activity_(Clock::now()) {}

Session::~Session() = default;

void Session::start(const std::string& preauth_user) {
  if (!preauth_user.empty()) {
    user_ = preauth_user;
    state_ = SessionState::Authenticated;
    send("* PREAUTH [CAPABILITY " + core_.capabilities(true, tls_active_, compressed_) +
         "] Logged in as " + user_ + "\r\n");
  } else {
    send("* OK [CAPABILITY " + core_.capabilities(false, tls_active_, compressed_) + "] " +
         core_.options().greeting + "\r\n");
  }
  seen_generation_ = store().generation();
  write_out();
}

void Session::reject(std::string_view why) {
  send("* BYE " + std::string(why) + "\r\n");
  close_after_flush_ = true;
  write_out();
}

void Session::close(std::string_view bye) {
  if (closed_) return;
  if (!bye.empty()) {
    send("* BYE " + std::string(bye) + "\r\n");
    write_out();
  }
  closed_ = true;
  stream_->close();
}

void Session::untagged(std::string_view text) {
  out_ += "* ";
  out_ += text;
  out_ += "\r\n";
}

void Session::tagged(std::string_view tag, std::string_view status, std::string_view text) {
  out_ += tag;
  out_ += ' ';
  out_ += status;
  out_ += ' ';
  out_ += text;
  out_ += "\r\n";
}

bool Session::output_full() const {
  return out_.size() - out_pos_ >= core_.options().limits.output_high_water;
}

short Session::wanted_events() const {
  if (closed_) return 0;
  short ev = 0;
  bool pending_out = out_pos_ < out_.size();
  if (pending_out) ev |= POLLOUT;
  bool paused = paused_until_ > Clock::now();
  if (!pending_out || !output_full()) {
    if (!close_after_flush_ && !paused && !after_flush_) ev |= POLLIN;
  }
  return ev;
}

bool Session::has_buffered_input() const { return !closed_ && stream_->buffered_input(); }

Clock::time_point Session::next_deadline() const {
  auto t = last_activity_ + std::chrono::milliseconds(core_.options().limits.idle_timeout_ms);
  if (paused_until_ != Clock::time_point{} && paused_until_ < t) t = paused_until_;
  return t;
}

void Session::on_tick(Clock::time_point now) {
  if (closed_) return;
  if (paused_until_ != Clock::time_point{} && now >= paused_until_) {
    paused_until_ = {};
    if (after_pause_) {
      auto f = std::move(after_pause_);
      after_pause_ = nullptr;
      f();
    }
    process();
    write_out();
  }
  if (now - last_activity_ >= std::chrono::milliseconds(core_.options().limits.idle_timeout_ms)) {
    close("Disconnected for inactivity.");
  }
}

void Session::on_ready() {
  if (closed_) return;
  // Read everything available (bounded per round so one client cannot starve the others).
  if (!close_after_flush_ && !after_flush_) {
    char buf[16384];
    std::size_t budget = 1 << 20;
    while (budget > 0 && in_.size() < core_.options().limits.max_line +
                                          core_.options().limits.max_literal + 4096) {
      auto n = stream_->read_some(buf, sizeof buf);
      if (!n) {
        // EOF or error: answer what was already received (a client may send LOGOUT and
        // shut down its side at once), then close.
        process();
        write_out();
        closed_ = true;
        stream_->close();
        return;
      }
      if (*n == 0) break;
      in_.append(buf, *n);
      budget -= std::min(budget, *n);
      last_activity_ = Clock::now();
    }
  }
  process();
  write_out();
  // Changes that came while this session was busy (its own commands included).
  if (notify_) on_store_changed();
}

void Session::write_out() {
  while (!closed_ && out_pos_ < out_.size()) {
    std::size_t len = out_.size() - out_pos_;
    if (core_.test_enabled() && core_.options().test.drop_after_bytes > 0) {
      std::uint64_t left = core_.options().test.drop_after_bytes - std::min(bytes_written_, core_.options().test.drop_after_bytes);
      if (left == 0) {
        closed_ = true;
        stream_->close();
        return;
      }
      len = static_cast<std::size_t>(std::min<std::uint64_t>(len, left));
    }
    auto n = stream_->write_some(out_.data() + out_pos_, len);
    if (!n) {
      closed_ = true;
      stream_->close();
      return;
    }
    if (*n == 0) break;
    out_pos_ += *n;
    bytes_written_ += *n;
  }
  if (closed_) return;
  auto f = stream_->flush();
  if (!f) {
    closed_ = true;
    stream_->close();
    return;
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
    if (*f) {
      if (close_after_flush_) {
        closed_ = true;
        stream_->close();
        return;
      }
      if (after_flush_) {
        auto fn = std::move(after_flush_);
        after_flush_ = nullptr;
        fn();
      }
    }
  } else if (out_pos_ > (1 << 20)) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
}

void Session::process() {
  while (!closed_ && !close_after_flush_ && !after_flush_) {
    if (paused_until_ != Clock::time_point{}) return;
    if (output_full()) {
      write_out();
      if (output_full()) return;
    }
    if (job_) {
      if (job_->step()) job_.reset();
      continue;
    }
    if (line_mode_ != LineMode::None) {
      std::size_t nl = in_.find('\n');
      if (nl == std::string::npos) {
        if (in_.size() > core_.options().limits.max_line) close("Line too long.");
        return;
      }
      std::string line = in_.substr(0, nl);
      in_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_mode_ == LineMode::Idle) {
        finish_idle(line);
      } else {
        continue_authenticate(line);
      }
      continue;
    }
    auto st = framer_.scan(in_);
    switch (st) {
      case CommandFramer::State::NeedMore:
        return;
      case CommandFramer::State::Continuation:
        send("+ Ready for literal data\r\n");
        write_out();
        continue;
      case CommandFramer::State::LineTooLong: {
        // Recover the tag if the line starts with one, then skip to the end of the line.
        std::size_t nl = in_.find('\n');
        if (nl == std::string::npos) {
          close("Command line too long; closing the connection.");
          return;
        }
        Cursor c(in_);
        auto tag = c.tag();
        std::string t = tag ? std::string(*tag) : "*";
        in_.erase(0, nl + 1);
        framer_.reset();
        tagged(t, "BAD", "[TOOBIG] Command line too long (limit " +
                             std::to_string(core_.options().limits.max_line) + " octets).");
        continue;
      }
      case CommandFramer::State::LiteralTooBig: {
        Cursor c(in_);
        auto tag = c.tag();
        std::string t = tag ? std::string(*tag) : "*";
        bool plus = framer_.literal_plus();
        std::uint64_t size = framer_.literal_size();
        in_.erase(0, framer_.consumed());
        framer_.reset();
        tagged(t, "NO", "[TOOBIG] Literal of " + std::to_string(size) +
                            " octets is over the limit of " +
                            std::to_string(core_.options().limits.max_literal) + ".");
        if (plus) {
          // A non-synchronizing literal is on its way and cannot be refused (RFC 7888 §4).
          close("Literal too big; closing the connection.");
          return;
        }
        continue;
      }
      case CommandFramer::State::Complete: {
        std::size_t n = framer_.consumed();
        bool refused = framer_.nonsync_refused();
        std::string cmd = in_.substr(0, n);
        in_.erase(0, n);
        framer_.reset();
        if (refused) {
          // The literal was read (and dropped) so that its bytes are not taken for commands.
          Cursor c(cmd);
          auto tag = c.tag();
          tagged(tag ? std::string(*tag) : "*", "BAD",
                 "Non-synchronizing literal {n+} used, but LITERAL+ is not offered: send {n} "
                 "and wait for the + continuation");
          continue;
        }
        // Strip exactly one line ending: a literal's data may itself end with CRLF.
        if (!cmd.empty() && cmd.back() == '\n') cmd.pop_back();
        if (!cmd.empty() && cmd.back() == '\r') cmd.pop_back();
        if (cmd.empty()) continue;  // tolerate blank lines
        handle_command(cmd);
        continue;
      }
    }
  }
}

void Session::handle_command(std::string_view cmd) {
  Cursor c(cmd);
  auto tag = c.tag();
  if (!tag || !c.eat(' ')) {
    tagged("*", "BAD", "Missing or invalid tag" + (c.error().empty() ? std::string() : ": " + c.error()));
    return;
  }
  auto name = c.atom();
  if (!name) {
    tagged(*tag, "BAD", "Missing command name");
    return;
  }
  std::string upper = to_upper(*name);
  bool uid = false;
  if (upper == "UID") {
    if (!c.sp()) {
      tagged(*tag, "BAD", "UID needs a command (FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE)");
      return;
    }
    auto sub = c.atom();
    if (!sub) {
      tagged(*tag, "BAD", "UID needs a command (FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE)");
      return;
    }
    upper = to_upper(*sub);
    uid = true;
  }
  std::string t(*tag);
  dispatch(t, upper, c, uid);
}

void Session::storage_failure(std::string_view tag, const Error& e) {
  tagged(tag, "NO", "[SERVERBUG] " + e.message);
}

void Session::enable_condstore() {
  if (!core_.has("CONDSTORE")) return;
  condstore_enabled_ = true;
  if (selected_) selected_->modseq_announced = true;
}

std::string Session::normalize_mailbox(std::string_view name) {
  std::string n(name);
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  if (iequals(n, "INBOX")) return "INBOX";
  if (n.size() > 6 && iequals(n.substr(0, 6), "INBOX/")) n.replace(0, 5, "INBOX");
  return n;
}

std::string Session::invalid_mailbox_reason(std::string_view name) {
  if (name.empty()) return "Mailbox name is empty";
  if (name.front() == '/') return "Mailbox name must not start with the delimiter /";
  if (name.find("//") != std::string_view::npos) return "Mailbox name has an empty level (//)";
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return "Mailbox name contains control characters";
    if (c >= 0x80) return "Mailbox name is not valid mUTF-7 (8-bit characters)";
  }
  if (name.find('*') != std::string_view::npos || name.find('%') != std::string_view::npos) {
    return "Mailbox name must not contain the wildcards * or %";
  }
  if (!imap::is_valid_utf7(name)) return "Mailbox name is not valid mUTF-7";
  return {};
}

std::optional<MailboxInfo> Session::find_mailbox(std::string_view name, std::string_view tag) {
  auto mb = store().find_mailbox(user_, normalize_mailbox(name));
  if (!mb) {
    storage_failure(tag, mb.error());
    return std::nullopt;
  }
  if (!*mb) {
    tagged(tag, "NO", "[NONEXISTENT] Mailbox doesn't exist: " + std::string(name));
    return std::nullopt;
  }
  return **mb;
}

std::vector<std::uint32_t> Session::resolve(std::string_view set_text, bool uid, std::string& error) {
  std::vector<std::uint32_t> out;
  if (!selected_) return out;
  const auto& uids = selected_->uids;
  if (set_text == "$") {
    // The saved result (RFC 5182 §2.1): its messages still in the snapshot, in order.
    if (!core_.has("SEARCHRES")) {
      error = "SEARCHRES ($) is not supported";
      return out;
    }
    for (auto u : selected_->saved) {
      auto it = std::lower_bound(uids.begin(), uids.end(), u);
      if (it != uids.end() && *it == u) out.push_back(static_cast<std::uint32_t>(it - uids.begin()));
    }
    return out;
  }
  std::uint32_t star = uid ? (uids.empty() ? 0 : uids.back())
                           : static_cast<std::uint32_t>(uids.size());
  if (star == 0) {
    // Empty mailbox: "*" matches nothing; sequence numbers are all invalid.
    if (!uid) {
      auto parsed = imap::SeqSet::parse(set_text, true, 1);
      if (!parsed) {
        error = parsed.error().message;
        return out;
      }
      error = "Invalid message sequence number (the mailbox is empty)";
      return out;
    }
    star = 0xffffffffU;
  }
  auto parsed = imap::SeqSet::parse(set_text, true, star);
  if (!parsed) {
    error = parsed.error().message;
    return out;
  }
  if (uid) {
    for (const auto& r : parsed->ranges()) {
      auto lo = std::lower_bound(uids.begin(), uids.end(), r.lo);
      auto hi = std::upper_bound(lo, uids.end(), r.hi);
      for (auto it = lo; it != hi; ++it) out.push_back(static_cast<std::uint32_t>(it - uids.begin()));
    }
  } else {
    auto max = parsed->max();
    if (max && *max > uids.size()) {
      error = "Invalid message sequence number: " + std::to_string(*max) + " (EXISTS is " +
              std::to_string(uids.size()) + ")";
      return out;
    }
    for (const auto& r : parsed->ranges()) {
      for (std::uint64_t s = r.lo; s <= r.hi; ++s) out.push_back(static_cast<std::uint32_t>(s - 1));
    }
  }
  return out;
}

void Session::own_change(ModSeq m) {
  if (selected_ && m.value == selected_->seen_modseq.value + 1) selected_->seen_modseq = m;
}

Status Session::absorb() {
  if (!selected_) return {};
  auto& s = *selected_;
  auto mb = store().mailbox_by_id(s.id);
  if (!mb) return mb.error();
  if (!*mb) {
    // Deleted (or renamed away and recreated) under us: everything is gone.
    for (auto u : s.uids) s.ghosts.insert(u);
    s.pending_flags.clear();
    return {};
  }
  if ((*mb)->highestmodseq <= s.seen_modseq) return {};
  auto changed = store().changed_since(s.id, s.seen_modseq);
  if (!changed) return changed.error();
  std::vector<Uid> claim;
  for (const auto& [uid, ms] : *changed) {
    if (uid.value > s.max_uid) {
      s.uids.push_back(uid.value);
      s.max_uid = uid.value;
      claim.push_back(uid);
    } else if (s.seq_of(uid.value) != 0 && !s.ghosts.count(uid.value)) {
      s.pending_flags.insert(uid.value);
    }
  }
  auto gone = store().expunged_since(s.id, s.seen_modseq);
  if (!gone) return gone.error();
  for (Uid uid : *gone) {
    if (s.seq_of(uid.value) != 0) {
      s.ghosts.insert(uid.value);
      s.pending_flags.erase(uid.value);
    }
  }
  s.seen_modseq = (*mb)->highestmodseq;
  if (!s.read_only && !claim.empty()) {
    // \Recent goes to exactly one session (RFC 3501 §2.3.2): the first to see the message.
    std::vector<Uid> mine;
    for (Uid u : claim) {
      auto m = store().message(s.id, u);
      if (m && *m && (*m)->recent) mine.push_back(u);
    }
    if (!mine.empty() && store().clear_recent(s.id, mine)) {
      for (Uid u : mine) s.recent.insert(u.value);
    }
  }
  return {};
}

Status Session::deliver(bool allow_expunge, bool allow_flags) {
  if (!selected_) return {};
  auto& s = *selected_;
  if (allow_expunge && !s.ghosts.empty()) {
    // Only messages the client was told about are announced; a message that came and went
    // between two announcements is dropped silently.
    if (qresync_enabled_) {
      imap::SeqSet set;
      for (std::size_t i = 0; i < s.uids.size() && i < s.exists_reported; ++i) {
        if (s.ghosts.count(s.uids[i])) set.add(s.uids[i]);
      }
      if (!set.empty()) untagged("VANISHED " + set.to_string());
    } else {
      // Ascending, each number adjusted for the EXPUNGEs already sent (RFC 3501 §7.4.1).
      std::size_t sent = 0;
      for (std::size_t i = 0; i < s.uids.size() && i < s.exists_reported; ++i) {
        if (s.ghosts.count(s.uids[i])) untagged(std::to_string(i + 1 - sent++) + " EXPUNGE");
      }
    }
    std::vector<std::uint32_t> keep;
    keep.reserve(s.uids.size());
    std::uint32_t removed_known = 0;
    for (std::size_t i = 0; i < s.uids.size(); ++i) {
      if (s.ghosts.count(s.uids[i])) {
        if (i < s.exists_reported) ++removed_known;
        s.recent.erase(s.uids[i]);
      } else {
        keep.push_back(s.uids[i]);
      }
    }
    s.uids.swap(keep);
    s.exists_reported -= removed_known;
    s.ghosts.clear();
  }
  if (s.uids.size() > s.exists_reported) {
    untagged(std::to_string(s.uids.size()) + " EXISTS");
    untagged(std::to_string(s.recent.size()) + " RECENT");
    s.exists_reported = static_cast<std::uint32_t>(s.uids.size());
  }
  if (allow_flags && !s.pending_flags.empty()) {
    std::vector<std::string> all_flags;
    std::vector<std::string> lines;
    for (auto uid : s.pending_flags) {
      std::uint32_t seq = s.seq_of(uid);
      if (seq == 0 || seq > s.exists_reported || s.ghosts.count(uid)) continue;
      auto m = store().message(s.id, Uid(uid));
      if (!m) return m.error();
      if (!*m) continue;
      std::string line = std::to_string(seq) + " FETCH (";
      if (qresync_enabled_) line += "UID " + std::to_string(uid) + " ";
      line += "FLAGS (" + join_flags((*m)->flags);
      if (s.recent.count(uid)) line += (*m)->flags.empty() ? "\\Recent" : " \\Recent";
      line += ")";
      if (condstore_enabled_) line += " MODSEQ (" + std::to_string((*m)->modseq.value) + ")";
      line += ")";
      all_flags.insert(all_flags.end(), (*m)->flags.begin(), (*m)->flags.end());
      lines.push_back(std::move(line));
    }
    announce_keywords(all_flags);
    for (const auto& l : lines) untagged(l);
    s.pending_flags.clear();
  }
  return {};
}

void Session::announce_keywords(const std::vector<std::string>& flags) {
  if (!selected_) return;
  bool added = false;
  for (const auto& f : flags) {
    if (f.empty() || f[0] == '\\') continue;
    if (selected_->keywords.insert(f).second) added = true;
  }
  if (added) {
    untagged(flags_line());
    untagged(permanent_flags_line());
  }
}

std::string Session::flags_line() const {
  std::string l = "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  if (selected_) {
    for (const auto& k : selected_->keywords) l += " " + k;
  }
  return l + ")";
}

std::string Session::permanent_flags_line() const {
  if (selected_ && selected_->read_only) return "OK [PERMANENTFLAGS ()] Read-only mailbox.";
  std::string l = "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  if (selected_) {
    for (const auto& k : selected_->keywords) l += " " + k;
  }
  return l + " \\*)] Flags permitted.";
}

void Session::on_store_changed() {
  if (closed_) return;
  if (seen_generation_ == store().generation()) return;
  if (line_mode_ == LineMode::Idle) {
    seen_generation_ = store().generation();
    // IDLE reports the selected mailbox at once; NOTIFY events for other mailboxes go out
    // too (a NOTIFY client waiting in IDLE would otherwise see them only after DONE).
    if (selected_) (void)(absorb() && deliver(true));
    if (notify_) (void)notify_poll();
    write_out();
    return;
  }
  // Otherwise NOTIFY events wait until the session is between commands (on_ready() looks
  // again once its input is used up), and the generation is only taken as seen then.
  if (notify_ && line_mode_ == LineMode::None && !job_ && in_.empty()) {
    seen_generation_ = store().generation();
    (void)notify_poll();
    write_out();
  }
}

}  // namespace twinbox::server
