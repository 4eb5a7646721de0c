// SELECT / EXAMINE (RFC 3501 §6.3.1-§6.3.2; CONDSTORE RFC 7162 §3.1.8; QRESYNC §3.2.5),
// CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 3501 §6.4.3, RFC 4315 §2.1).

#include <algorithm>

#include <twinbox/imap/seqset.hpp>

#include "session.hpp"

namespace twinbox::server {
namespace {

struct QresyncParams {
  UidValidity uidvalidity;
  ModSeq modseq;
  std::optional<imap::SeqSet> known_uids;
  std::optional<std::pair<imap::SeqSet, imap::SeqSet>> seq_match;
};

/// `(QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))` after the keyword.
std::string parse_qresync(Cursor& c, QresyncParams& q) {
  if (!c.sp() || !c.eat('(')) return "QRESYNC needs a parameter list";
  auto uv = c.nz_number();
  if (!uv || !c.sp()) return "Invalid QRESYNC UIDVALIDITY: " + c.error();
  auto ms = c.number64();
  if (!ms) return "Invalid QRESYNC modseq: " + c.error();
  q.uidvalidity = UidValidity(*uv);
  q.modseq = ModSeq(*ms);
  if (c.eat(' ')) {
    if (c.peek() != '(') {
      auto set = c.seqset_text();
      if (!set) return "Invalid QRESYNC known UIDs: " + c.error();
      auto parsed = imap::SeqSet::parse(*set, false);
      if (!parsed) return "Invalid QRESYNC known UIDs: " + parsed.error().message;
      q.known_uids = *parsed;
      if (!c.eat(' ')) {
        if (!c.eat(')')) return "Invalid QRESYNC parameters: " + c.error();
        return {};
      }
    }
    if (!c.eat('(')) return "Invalid QRESYNC sequence match data: " + c.error();
    auto seqs = c.seqset_text();
    if (!seqs || !c.sp()) return "Invalid QRESYNC sequence match data: " + c.error();
    auto uids = c.seqset_text();
    if (!uids || !c.eat(')')) return "Invalid QRESYNC sequence match data: " + c.error();
    auto s1 = imap::SeqSet::parse(*seqs, false);
    auto s2 = imap::SeqSet::parse(*uids, false);
    if (!s1 || !s2) return "Invalid QRESYNC sequence match data";
    if (s1->size() != s2->size()) return "Invalid QRESYNC sets: sequence and UID sets differ in size";
    q.seq_match = std::make_pair(*s1, *s2);
  }
  if (!c.eat(')')) return "Invalid QRESYNC parameters: " + c.error();
  return {};
}

}  // namespace

void Session::unselect(bool send_closed) {
  if (!selected_) return;
  selected_.reset();
  state_ = SessionState::Authenticated;
  if (send_closed) untagged("OK [CLOSED] Previous mailbox closed.");
}

void Session::cmd_select(std::string_view tag, Cursor& c, bool read_only) {
  const char* verb = read_only ? "EXAMINE" : "SELECT";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a mailbox name");
  auto raw = c.astring();
  if (!raw) return tagged(tag, "BAD", std::string(verb) + " needs a mailbox name: " + c.error());
  bool want_condstore = false;
  std::optional<QresyncParams> qr;
  if (c.eat(' ')) {
    if (!c.eat('(')) return tagged(tag, "BAD", "Invalid SELECT parameters: " + c.error());
    bool first = true;
    while (!c.eat(')')) {
      if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid SELECT parameters: " + c.error());
      first = false;
      if (c.eat_word("CONDSTORE") && core_.has("CONDSTORE")) {
        want_condstore = true;
      } else if (c.eat_word("QRESYNC") && core_.has("QRESYNC")) {
        if (!qresync_enabled_) return tagged(tag, "BAD", "QRESYNC is not enabled (ENABLE QRESYNC first)");
        QresyncParams q;
        if (auto err = parse_qresync(c, q); !err.empty()) return tagged(tag, "BAD", err);
        qr = q;
      } else {
        return tagged(tag, "BAD", "Unknown SELECT parameter: " + std::string(c.rest().substr(0, 20)));
      }
    }
  }
  if (!c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());

  // RFC 7162 §3.2.11: with QRESYNC enabled, [CLOSED] separates the old mailbox's responses.
  unselect(qresync_enabled_ && selected_.has_value());
  auto mb = find_mailbox(*raw, tag);
  if (!mb) return;
  if (want_condstore) enable_condstore();
  auto msgs = store().messages(mb->id);
  if (!msgs) return storage_failure(tag, msgs.error());

  Snapshot s;
  s.id = mb->id;
  s.name = mb->name;
  s.read_only = read_only;
  s.uidvalidity = mb->uidvalidity;
  s.seen_modseq = mb->highestmodseq;
  s.modseq_announced = condstore_enabled_;
  std::uint32_t first_unseen = 0;
  std::vector<Uid> claim;
  for (const auto& m : *msgs) {
    s.uids.push_back(m.uid.value);
    if (m.recent && !read_only) {
      s.recent.insert(m.uid.value);
      claim.push_back(m.uid);
    }
    if (first_unseen == 0 && !has_flag(m.flags, "\\Seen")) first_unseen = static_cast<std::uint32_t>(s.uids.size());
    for (const auto& f : m.flags) {
      if (!f.empty() && f[0] != '\\') s.keywords.insert(f);
    }
  }
  s.max_uid = mb->uidnext.value > 0 ? mb->uidnext.value - 1 : 0;
  if (!s.uids.empty()) s.max_uid = std::max(s.max_uid, s.uids.back());
  s.exists_reported = static_cast<std::uint32_t>(s.uids.size());
  if (!claim.empty()) {
    if (auto st = store().clear_recent(mb->id, claim); !st) return storage_failure(tag, st.error());
  }
  selected_ = std::move(s);
  state_ = SessionState::Selected;
  auto& sel = *selected_;

  untagged(flags_line());
  untagged(permanent_flags_line());
  untagged(std::to_string(sel.uids.size()) + " EXISTS");
  untagged(std::to_string(sel.recent.size()) + " RECENT");
  if (first_unseen) untagged("OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen.");
  untagged("OK [UIDVALIDITY " + std::to_string(mb->uidvalidity.value) + "] UIDs valid");
  untagged("OK [UIDNEXT " + std::to_string(mb->uidnext.value) + "] Predicted next UID");
  if (core_.has("CONDSTORE")) {
    untagged("OK [HIGHESTMODSEQ " + std::to_string(mb->highestmodseq.value) + "] Highest");
  }
  if (core_.has("OBJECTID")) untagged("OK [MAILBOXID (" + mb->mailboxid + ")] Ok");

  if (qr && qr->uidvalidity == mb->uidvalidity) {
    // RFC 7162 §3.2.5: expunges since the client's modseq, then changed messages.
    imap::SeqSet known;
    if (qr->known_uids) {
      known = *qr->known_uids;
    } else if (mb->uidnext.value > 1) {
      known.add(1, mb->uidnext.value - 1);
    }
    auto gone = store().expunged_since(mb->id, qr->modseq);
    if (!gone) return storage_failure(tag, gone.error());
    imap::SeqSet vanished;
    for (Uid u : *gone) {
      if (known.contains(u.value)) vanished.add(u.value);
    }
    if (!vanished.empty()) untagged("VANISHED (EARLIER) " + vanished.to_string());
    for (std::size_t i = 0; i < msgs->size(); ++i) {
      const auto& m = (*msgs)[i];
      if (m.modseq <= qr->modseq || !known.contains(m.uid.value)) continue;
      std::string line = std::to_string(i + 1) + " FETCH (UID " + std::to_string(m.uid.value) +
                         " FLAGS (" + join_flags(m.flags);
      if (sel.recent.count(m.uid.value)) line += m.flags.empty() ? "\\Recent" : " \\Recent";
      line += ") MODSEQ (" + std::to_string(m.modseq.value) + "))";
      untagged(line);
    }
  }
  tagged(tag, "OK", read_only ? "[READ-ONLY] Examine completed." : "[READ-WRITE] Select completed.");
}

void Session::cmd_close(std::string_view tag, Cursor& c, bool expunge) {
  if (!c.end()) return tagged(tag, "BAD", "CLOSE/UNSELECT take no arguments");
  if (expunge && !selected_->read_only) {
    // CLOSE expunges \Deleted messages silently (RFC 3501 §6.4.2).
    auto msgs = store().messages(selected_->id);
    if (!msgs) return storage_failure(tag, msgs.error());
    std::vector<Uid> del;
    for (const auto& m : *msgs) {
      if (has_flag(m.flags, "\\Deleted")) del.push_back(m.uid);
    }
    if (auto st = store().expunge(selected_->id, del); !st) return storage_failure(tag, st.error());
  }
  unselect(false);
  tagged(tag, "OK", expunge ? "Close completed." : "Unselect completed.");
}

Status Session::expunge_uids(const std::vector<std::uint32_t>& uids, bool announce) {
  auto& s = *selected_;
  std::vector<Uid> list;
  for (auto u : uids) list.emplace_back(u);
  if (auto st = absorb(); !st) return st;
  if (!list.empty()) {
    if (auto st = store().expunge(s.id, list); !st) return st;
    auto mb = store().mailbox_by_id(s.id);
    if (!mb) return mb.error();
    if (*mb) own_change((*mb)->highestmodseq);
  }
  for (auto u : uids) s.ghosts.insert(u);
  if (announce) return deliver(true);
  return {};
}

void Session::cmd_expunge(std::string_view tag, Cursor& c, bool uid) {
  std::vector<std::uint32_t> positions;
  bool restrict = false;
  if (uid) {
    if (!c.sp()) return tagged(tag, "BAD", "UID EXPUNGE needs a UID set");
    auto set = c.seqset_text();
    if (!set) return tagged(tag, "BAD", "UID EXPUNGE needs a UID set: " + c.error());
    std::string err;
    positions = resolve(*set, true, err);
    if (!err.empty()) return tagged(tag, "BAD", err);
    restrict = true;
  }
  if (!c.end()) return tagged(tag, "BAD", "Invalid EXPUNGE arguments: " + c.error());
  if (selected_->read_only) return tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only.");
  auto msgs = store().messages(selected_->id);
  if (!msgs) return storage_failure(tag, msgs.error());
  std::set<std::uint32_t> wanted;
  for (auto p : positions) wanted.insert(selected_->uids[p]);
  std::vector<std::uint32_t> del;
  for (const auto& m : *msgs) {
    if (!has_flag(m.flags, "\\Deleted")) continue;
    if (selected_->seq_of(m.uid.value) == 0) continue;  // not announced to this session yet
    if (restrict && !wanted.count(m.uid.value)) continue;
    del.push_back(m.uid.value);
  }
  if (auto st = expunge_uids(del, true); !st) return storage_failure(tag, st.error());
  if (qresync_enabled_) {
    auto mb = store().mailbox_by_id(selected_->id);
    if (mb && *mb) {
      return tagged(tag, "OK", "[HIGHESTMODSEQ " + std::to_string((*mb)->highestmodseq.value) +
                                   "] Expunge completed.");
    }
  }
  tagged(tag, "OK", "Expunge completed.");
}

}  // namespace twinbox::server
