#include <algorithm>
#include <span>

#include <twinbox/imap/datetime.hpp>
#include <twinbox/sync/reader.hpp>

namespace twinbox::sync {

std::string_view to_string(ReadPath p) {
  switch (p) {
    case ReadPath::Qresync: return "QRESYNC";
    case ReadPath::Condstore: return "CONDSTORE";
    case ReadPath::Plain: return "plain";
  }
  return "?";
}

ReadPath best_path(const client::Session& session) {
  if (session.qresync()) return ReadPath::Qresync;
  // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3) even when ENABLE did not confirm QRESYNC.
  if (session.has("CONDSTORE") || session.has("QRESYNC")) return ReadPath::Condstore;
  return ReadPath::Plain;
}

std::string message_id_from_header(std::string_view header) {
  // Unfold and find "Message-ID:" (case-insensitive) at a line start.
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t eol = header.find('\n', pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    constexpr std::string_view kName = "message-id:";
    bool match = line.size() >= kName.size();
    for (std::size_t i = 0; match && i < kName.size(); ++i) {
      char c = line[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      if (c != kName[i]) match = false;
    }
    if (match) {
      std::string value(line.substr(kName.size()));
      // Continuation lines start with whitespace.
      std::size_t next = eol + 1;
      while (next < header.size() && (header[next] == ' ' || header[next] == '\t')) {
        std::size_t e2 = header.find('\n', next);
        if (e2 == std::string_view::npos) e2 = header.size();
        value += header.substr(next, e2 - next);
        next = e2 + 1;
      }
      std::string out;
      for (char c : value) {
        if (c != '\r' && c != '\n' && c != ' ' && c != '\t') out += c;
      }
      return out;
    }
    pos = eol + 1;
  }
  return {};
}

NewMessage new_message_from_fetch(const imap::FetchData& f, Side side) {
  NewMessage m;
  if (f.email_id && !f.email_id->empty()) {
    m.identity.email_id[side] = *f.email_id;
  } else if (f.gm_msgid) {
    m.identity.email_id[side] = "X-GM-MSGID:" + std::to_string(*f.gm_msgid);
  }
  m.uid = f.uid.value_or(Uid());
  m.flags = normalize_flags(f.flags.items());
  m.identity.size = f.rfc822_size.value_or(0);
  if (f.internal_date) {
    if (auto dt = imap::parse_date_time(*f.internal_date)) m.identity.internaldate = dt->unix_seconds;
  }
  for (const auto& b : f.bodies) {
    if (b.item == "BODY" && b.data && b.section.find("HEADER.FIELDS") != std::string::npos) {
      m.identity.message_id = message_id_from_header(*b.data);
    }
  }
  return m;
}

MessageIdItem message_id_item(const client::Session& session) {
  if (session.has("OBJECTID")) return MessageIdItem::EmailId;
  if (session.has("X-GM-EXT-1")) return MessageIdItem::GmMsgId;
  return MessageIdItem::None;
}

void add_message_id_item(client::FetchItems& items, MessageIdItem id) {
  if (id == MessageIdItem::EmailId) items.email_id = true;
  if (id == MessageIdItem::GmMsgId) items.extra.emplace_back("X-GM-MSGID");
}

client::FetchItems identity_items(bool with_modseq, MessageIdItem id) {
  client::FetchItems items;
  items.flags = true;
  items.internal_date = true;
  items.size = true;
  items.modseq = with_modseq;
  items.extra.emplace_back("BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
  add_message_id_item(items, id);
  return items;
}

DeltaReader::DeltaReader(client::Session& session, Side side, std::string mailbox,
                         state::SideState stored, std::vector<Uid> stored_uids)
    : session_(session),
      side_(side),
      id_item_(message_id_item(session)),
      mailbox_(std::move(mailbox)),
      stored_(std::move(stored)),
      stored_uids_(std::move(stored_uids)) {
  std::sort(stored_uids_.begin(), stored_uids_.end());
}

void DeltaReader::start() {
  path_ = best_path(session_);
  // A window must lie above what is stored: else the snapshot's UIDNEXT would go backwards.
  if (limit_.valid() && limit_.value <= std::max<std::uint32_t>(stored_.uidnext.value, 1)) limit_ = Uid();
  const client::SelectInfo* sel = session_.selected();
  if (continue_uidnext_.valid() && limit_.valid() && sel && sel->mailbox == mailbox_ &&
      !sel->read_only && sel->uidvalidity == stored_.uidvalidity && stored_.uidvalidity.valid()) {
    continued_ = true;
    info_ = client::SelectInfo{};
    info_.mailbox = mailbox_;
    info_.uidvalidity = stored_.uidvalidity;
    info_.uidnext = std::max(continue_uidnext_, stored_.uidnext);
    info_.highestmodseq = stored_.highestmodseq;
    stop_ = limit_.value < info_.uidnext.value ? limit_ : info_.uidnext;
    (void)fetch_new(stored_.uidnext, stop_);  // never fails: it only queues
    stage_ = 2;
    return;
  }
  client::SelectOptions opts;
  bool known = stored_.uidvalidity.valid() && stored_.uidnext.value > 1;
  if (path_ == ReadPath::Qresync && known && stored_.highestmodseq.value > 0) {
    client::QresyncParams q;
    q.uidvalidity = stored_.uidvalidity;
    q.modseq = stored_.highestmodseq;
    imap::SeqSet ks;
    ks.add(1, stored_.uidnext.value - 1);
    q.known_uids = ks;
    opts.qresync = q;
  } else if (path_ == ReadPath::Condstore) {
    opts.condstore = true;
  }
  select_ = session_.select(mailbox_, opts);
  stage_ = 1;
  if (opts.qresync) {
    // Pipelined with the SELECT: the new messages from the stored UIDNEXT up, without waiting
    // for the snapshot's UIDNEXT (one round trip less per mailbox and pass, issue 8). The
    // answer is kept only if the SELECT shows the stored state still applies (next()); what
    // arrived at or above the snapshot's UIDNEXT is dropped in finish().
    speculative_ = true;
    (void)fetch_new(stored_.uidnext, limit_);  // never fails: it only queues
  }
}

void DeltaReader::take_new(const imap::FetchData& m) {
  if (!m.uid) return;
  // A speculative fetch runs before the snapshot is known: finish() bounds it.
  if (!speculative_ && m.uid->value >= stop_.value) return;
  added_.push_back(new_message_from_fetch(m, side_));
  if (m.modseq && *m.modseq > max_seen_) max_seen_ = *m.modseq;
}

std::uint32_t DeltaReader::exists_at_select() const {
  return select_.ready() && select_.result() ? select_.result()->exists : 0;
}

bool DeltaReader::step_ready() const {
  if (stage_ == 1) {
    return select_.ready() && std::all_of(fetches_.begin(), fetches_.end(), [](const auto& f) { return f.ready(); });
  }
  if (stage_ == 2) {
    for (const auto& f : fetches_) {
      if (!f.ready()) return false;
    }
    if (flags_.valid() && !flags_.ready()) return false;
    if (search_.valid() && !search_.ready()) return false;
    return true;
  }
  return true;
}

Status DeltaReader::fetch_new(Uid from, Uid to_exclusive) {
  // to_exclusive 0: open-ended (the speculative fetch; 4294967295 is the highest UID there
  // can be, RFC 9051 §2.3.1.1, and unlike `*` never names a message below `from`).
  const std::uint32_t last = to_exclusive.valid() ? to_exclusive.value - 1 : 4294967295U;
  if (to_exclusive.valid() && to_exclusive.value <= from.value) return {};
  imap::SeqSet set;
  set.add(from.value, last);
  // UIDs above the stored UIDNEXT that are stored pairs already (the messages this run
  // appended, read again by the confirming pass) only need their flags (reconcile rule 7).
  // Not on a full scan: there the stored UIDs may belong to an old UIDVALIDITY.
  imap::SeqSet paired;
  for (auto it = std::lower_bound(stored_uids_.begin(), stored_uids_.end(), from);
       !full_scan_ && it != stored_uids_.end() && it->value <= last; ++it) {
    paired.add(it->value);
  }
  set.remove(paired);
  const bool modseq = path_ != ReadPath::Plain;
  if (!set.empty()) {
    client::FetchItems items = identity_items(modseq, id_item_);
    if (skip_content_identity_) {
      items.internal_date = false;
      items.extra.clear();
      add_message_id_item(items, id_item_);  // the server's id is in its index: kept
    }
    fetches_.push_back(session_.uid_fetch(set, items, {}, [this](const imap::FetchData& m) { take_new(m); }));
  }
  if (!paired.empty()) {
    client::FetchItems items;
    items.modseq = modseq;
    add_message_id_item(items, id_item_);
    fetches_.push_back(session_.uid_fetch(paired, items, {}, [this](const imap::FetchData& m) { take_new(m); }));
  }
  return {};
}

std::size_t DeltaReader::stored_below(Uid base) const {
  return static_cast<std::size_t>(
      std::lower_bound(stored_uids_.begin(), stored_uids_.end(), base) - stored_uids_.begin());
}

void DeltaReader::queue_flag_read(const imap::SeqSet& known) {
  client::FetchItems items;
  items.flags = true;
  if (path_ == ReadPath::Plain) {
    flags_ = session_.uid_fetch(known, items);
    return;
  }
  items.modseq = true;
  if (stored_.highestmodseq.value == 0 || modseq_backwards_) {
    flags_ = session_.uid_fetch(known, items);  // no usable modseq: read every flag
  } else {
    client::FetchModifiers mods;
    mods.changed_since = stored_.highestmodseq;
    flags_ = session_.uid_fetch(known, items, mods);
  }
  // EXISTS below the number of stored UIDs proves an expunge already: scan in the same
  // round trip. Otherwise the count check in finish() decides (usually: no scan at all).
  if (info_.exists < stored_below(stored_.uidnext)) {
    search_ = session_.uid_search("UID " + known.to_string());
    scan_sent_ = true;
  }
}

Status DeltaReader::next() {
  if (continued_) return {};  // the window's fetch was queued by start()
  auto sel = std::move(select_.result());
  if (!sel) return sel.error().with_context("SELECT " + mailbox_);
  info_ = std::move(*sel);
  if (info_.uid_not_sticky) {
    return fail(Errc::Protocol, Scope::Mailbox,
                "the server says UIDs in " + mailbox_ +
                    " are not persistent (UIDNOTSTICKY); twinbox cannot sync such a mailbox "
                    "safely and leaves it alone");
  }
  if (!info_.uidvalidity.valid()) {
    return fail(Errc::Protocol, Scope::Mailbox,
                "the server sent no UIDVALIDITY for " + mailbox_ + "; cannot sync it safely");
  }
  if (!info_.uidnext.valid()) {
    // Courier omits UIDNEXT in SELECT (PROTOCOL.md §1.5): ask STATUS.
    auto st = session_.wait(session_.status(mailbox_, client::StatusItems{}),
                            net::deadline_in(std::chrono::seconds(120)));
    if (!st) return st.error().with_context("STATUS " + mailbox_);
    if (!st->uid_next) {
      return fail(Errc::Protocol, Scope::Mailbox,
                  "the server reports no UIDNEXT for " + mailbox_ + "; cannot sync it safely");
    }
    info_.uidnext = *st->uid_next;
  }
  if (info_.nomodseq) path_ = ReadPath::Plain;
  if (path_ == ReadPath::Qresync && !info_.qresync_sent && stored_.uidvalidity.valid()) {
    // QRESYNC on, but nothing to resynchronise from yet (modseq 0): read like CONDSTORE.
    path_ = ReadPath::Condstore;
  }
  stage_ = 2;
  bool fresh = !stored_.uidvalidity.valid();
  uidvalidity_changed_ = !fresh && (info_.uidvalidity != stored_.uidvalidity ||
                                    info_.uidnext.value < stored_.uidnext.value);
  full_scan_ = fresh || uidvalidity_changed_;
  if (uidvalidity_changed_) {
    // Content re-pairing needs every message, with its full identity.
    limit_ = Uid();
    skip_content_identity_ = false;
  }
  stop_ = limit_.valid() && limit_.value < info_.uidnext.value ? limit_ : info_.uidnext;
  if (full_scan_) {
    drop_speculative();
    return fetch_new(Uid(1), stop_);
  }
  if (path_ != ReadPath::Plain && info_.highestmodseq < stored_.highestmodseq) {
    // RFC 7162 §3.1.2.1: HIGHESTMODSEQ never goes down for one UIDVALIDITY. It did: nothing
    // read by modseq can be trusted, so read every flag.
    modseq_backwards_ = true;
    path_ = ReadPath::Condstore;
  }

  Uid base = stored_.uidnext.valid() ? stored_.uidnext : Uid(1);
  // The stored state applies (same UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ not backwards,
  // QRESYNC answered) and the server took the open-ended range: the fetch sent with the
  // SELECT is this pass's new-message read. A server refusing the range (NO or BAD) gets the
  // bounded fetch below instead; a lost connection fails that one too.
  const bool spec_ok = std::all_of(fetches_.begin(), fetches_.end(), [](const auto& f) { return f.result().has_value(); });
  if (speculative_ && path_ == ReadPath::Qresync && !modseq_backwards_ && spec_ok) {
    fetches_.clear();
    return {};
  }
  drop_speculative();
  if (auto s = fetch_new(base, stop_); !s) return s;
  if (base.value <= 1 || path_ == ReadPath::Qresync) return {};  // QRESYNC: SELECT answered
  imap::SeqSet known;
  known.add(1, base.value - 1);
  queue_flag_read(known);
  return {};
}

Status DeltaReader::find_vanished(Delta& d, Uid base, const std::vector<Uid>& present_old) {
  const std::size_t old_stored = stored_below(base);
  const std::span<const Uid> old_uids(stored_uids_.data(), old_stored);
  const std::span<const Uid> new_uids(stored_uids_.data() + old_stored,
                                      stored_uids_.size() - old_stored);
  // Stored UIDs at or above base (our own copies recorded after the snapshot) are present when
  // the new-message fetch returned them; the others need the confirming SEARCH.
  imap::SeqSet ask;
  for (Uid u : new_uids) {
    auto at = std::lower_bound(d.added.begin(), d.added.end(), u,
                               [](const NewMessage& m, Uid x) { return m.uid < x; });
    if (at == d.added.end() || at->uid != u) ask.add(u.value);
  }
  // Count check: EXISTS at SELECT minus the new messages = the messages below base.
  std::size_t old_present = info_.exists >= d.added.size() ? info_.exists - d.added.size() : 0;
  bool count_ok = old_present == old_stored;
  if (path_ == ReadPath::Plain && !count_ok) {
    // Candidates: stored UIDs without a FETCH line in the full flag read.
    for (Uid u : old_uids) {
      if (!std::binary_search(present_old.begin(), present_old.end(), u)) ask.add(u.value);
    }
  } else if (path_ == ReadPath::Condstore && scan_sent_) {
    auto s = std::move(search_.result());
    if (!s) return s.error().with_context("UID SEARCH in " + mailbox_);
    for (Uid u : old_uids) {
      if (!s->uids.contains(u.value)) d.vanished.push_back(u);
    }
  } else if (path_ == ReadPath::Condstore && !count_ok && base.value > 1) {
    ask.add(1, base.value - 1);
  }
  // (Qresync: VANISHED (EARLIER) of the SELECT answered for the known range.)
  if (ask.empty()) return {};
  auto found = session_.wait(session_.uid_search("UID " + ask.to_string()),
                             net::deadline_in(std::chrono::seconds(120)));
  if (!found) return found.error().with_context("UID SEARCH in " + mailbox_);
  for (Uid u : stored_uids_) {
    if (ask.contains(u.value) && !found->uids.contains(u.value)) d.vanished.push_back(u);
  }
  return {};
}

void DeltaReader::drop_speculative() {
  if (!speculative_) return;
  // Its answers (or its error: it may have run with no mailbox selected) are not this read's.
  speculative_ = false;
  fetches_.clear();
  added_.clear();
  max_seen_ = ModSeq();
}

void DeltaReader::settle_modseq(MailboxSnapshot& snap, ModSeq max_seen) const {
  // Gmail: HIGHESTMODSEQ may announce changes not yet fetchable (PROTOCOL.md §2); expunges
  // move it too. The rule and its reasons: reader.hpp.
  const ModSeq announced = info_.highestmodseq;
  const ModSeq stored = full_scan_ ? ModSeq() : stored_.highestmodseq;
  const ModSeq received = std::max(stored, std::min(max_seen, announced));
  if (!(received < announced)) return;  // snap.highestmodseq is the announced value
  const bool had_its_chance = !full_scan_ && !stored_by_this_run_ &&
                              stored_.announced_modseq == announced && received == stored;
  if (had_its_chance) return;
  snap.highestmodseq = received;
  snap.announced = announced;
}

Result<Delta> DeltaReader::finish() {
  if (continued_) {
    Delta d;
    d.snapshot = {stored_.uidvalidity, stop_, stored_.highestmodseq, stored_.announced_modseq};
    d.more_new = stop_.value < info_.uidnext.value;
    for (auto& f : fetches_) {
      auto r = std::move(f.result());
      if (!r) return r.error().with_context("UID FETCH (new messages) in " + mailbox_);
    }
    d.added = std::move(added_);
    std::sort(d.added.begin(), d.added.end(),
              [](const NewMessage& a, const NewMessage& b) { return a.uid < b.uid; });
    return d;
  }
  Delta d;
  d.snapshot.uidvalidity = info_.uidvalidity;
  d.snapshot.uidnext = stop_;
  d.more_new = stop_.value < info_.uidnext.value;
  d.snapshot.highestmodseq = info_.nomodseq ? ModSeq() : info_.highestmodseq;
  d.uidvalidity_changed = uidvalidity_changed_;
  ModSeq max_seen = max_seen_;
  for (auto& f : fetches_) {
    auto r = std::move(f.result());
    if (!r) return r.error().with_context("UID FETCH (new messages) in " + mailbox_);
  }
  d.added = std::move(added_);
  if (speculative_) {
    // Only what the snapshot covers: at or above the stored UIDNEXT, below the SELECT's.
    std::erase_if(d.added, [&](const NewMessage& m) {
      return m.uid.value < stored_.uidnext.value || m.uid.value >= stop_.value;
    });
  }
  std::sort(d.added.begin(), d.added.end(),
            [](const NewMessage& a, const NewMessage& b) { return a.uid < b.uid; });
  if (full_scan_) {
    if (path_ == ReadPath::Condstore) settle_modseq(d.snapshot, max_seen);
    return d;
  }

  Uid base = stored_.uidnext.valid() ? stored_.uidnext : Uid(1);
  std::vector<Uid> present_old;
  if (path_ == ReadPath::Qresync) {
    for (const auto& r : info_.vanished_earlier.ranges()) {
      // Bounded by the stored UIDs, not by the (possibly huge) range.
      auto lo = std::lower_bound(stored_uids_.begin(), stored_uids_.end(), Uid(r.lo));
      for (auto it = lo; it != stored_uids_.end() && it->value <= r.hi; ++it) {
        d.vanished.push_back(*it);
      }
    }
    for (const auto& f : info_.changed) {
      if (!f.uid || f.uid->value >= base.value || !f.has_flags) continue;
      d.changed.push_back({*f.uid, normalize_flags(f.flags.items()), f.modseq.value_or(ModSeq())});
    }
  } else if (flags_.valid()) {
    auto r = std::move(flags_.result());
    if (!r) return r.error().with_context("UID FETCH (FLAGS) in " + mailbox_);
    for (const auto& f : r->messages) {
      if (!f.uid || f.uid->value >= base.value || !f.has_flags) continue;
      d.changed.push_back({*f.uid, normalize_flags(f.flags.items()), f.modseq.value_or(ModSeq())});
      if (f.modseq && *f.modseq > max_seen) max_seen = *f.modseq;
      present_old.push_back(*f.uid);
    }
    std::sort(present_old.begin(), present_old.end());
  }
  if (auto st = find_vanished(d, base, present_old); !st) return st.error();
  if (modseq_backwards_) {
    d.snapshot.highestmodseq = ModSeq();
  } else if (path_ == ReadPath::Condstore) {
    settle_modseq(d.snapshot, max_seen);
  }
  auto is_stored = [&](Uid u) {
    return std::binary_search(stored_uids_.begin(), stored_uids_.end(), u);
  };
  std::erase_if(d.vanished, [&](Uid u) { return !is_stored(u); });
  std::sort(d.vanished.begin(), d.vanished.end());
  d.vanished.erase(std::unique(d.vanished.begin(), d.vanished.end()), d.vanished.end());
  std::sort(d.changed.begin(), d.changed.end(),
            [](const FlagChange& a, const FlagChange& b) { return a.uid < b.uid; });
  return d;
}

}  // namespace twinbox::sync
