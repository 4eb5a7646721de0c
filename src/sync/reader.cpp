#include <algorithm>

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
  if (session.has("CONDSTORE")) return ReadPath::Condstore;
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

NewMessage new_message_from_fetch(const imap::FetchData& f) {
  NewMessage m;
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

client::FetchItems identity_items(const client::Session& session) {
  client::FetchItems items;
  items.flags = true;
  items.internal_date = true;
  items.size = true;
  items.modseq = session.has("CONDSTORE") || session.qresync();
  items.extra.emplace_back("BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
  return items;
}

DeltaReader::DeltaReader(client::Session& session, std::string mailbox, state::SideState stored,
                         std::vector<Uid> stored_uids)
    : session_(session),
      mailbox_(std::move(mailbox)),
      stored_(std::move(stored)),
      stored_uids_(std::move(stored_uids)) {
  std::sort(stored_uids_.begin(), stored_uids_.end());
}

void DeltaReader::start() {
  path_ = best_path(session_);
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
}

bool DeltaReader::step_ready() const {
  if (stage_ == 1) return select_.ready();
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
  if (to_exclusive.value <= from.value) return {};
  imap::SeqSet set;
  set.add(from.value, to_exclusive.value - 1);
  // UIDs above the stored UIDNEXT that are stored pairs already (the messages this run
  // appended, read again by the confirming pass) only need their flags (reconcile rule 7).
  // Not on a full scan: there the stored UIDs may belong to an old UIDVALIDITY.
  imap::SeqSet paired;
  for (auto it = std::lower_bound(stored_uids_.begin(), stored_uids_.end(), from);
       !full_scan_ && it != stored_uids_.end() && it->value < to_exclusive.value; ++it) {
    paired.add(it->value);
  }
  set.remove(paired);
  if (!set.empty()) fetches_.push_back(session_.uid_fetch(set, identity_items(session_)));
  if (!paired.empty()) {
    client::FetchItems items;
    items.modseq = session_.has("CONDSTORE") || session_.qresync();
    fetches_.push_back(session_.uid_fetch(paired, items));
  }
  return {};
}

Status DeltaReader::next() {
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
  if (full_scan_) return fetch_new(Uid(1), info_.uidnext);

  Uid base = stored_.uidnext.valid() ? stored_.uidnext : Uid(1);
  if (auto s = fetch_new(base, info_.uidnext); !s) return s;
  if (base.value <= 1) return {};
  imap::SeqSet known;
  known.add(1, base.value - 1);
  switch (path_) {
    case ReadPath::Qresync:
      break;  // SELECT itself answered
    case ReadPath::Condstore: {
      client::FetchModifiers mods;
      mods.changed_since = stored_.highestmodseq;
      client::FetchItems items;
      items.flags = true;
      items.modseq = true;
      if (stored_.highestmodseq.value == 0) {
        flags_ = session_.uid_fetch(known, items);  // no modseq stored: read all flags
      } else {
        flags_ = session_.uid_fetch(known, items, mods);
      }
      // Expunges: cheapest sound method. If every stored UID is still there, EXISTS equals
      // stored + new; checked in finish(). Ask SEARCH only when the count disagrees, which
      // is known only after the new-message fetch; ask it now (one pipelined command).
      search_ = session_.uid_search("UID " + known.to_string());
      break;
    }
    case ReadPath::Plain: {
      client::FetchItems items;
      items.flags = true;
      flags_ = session_.uid_fetch(known, items);
      break;
    }
  }
  return {};
}

Result<Delta> DeltaReader::finish() {
  Delta d;
  d.snapshot.uidvalidity = info_.uidvalidity;
  d.snapshot.uidnext = info_.uidnext;
  d.snapshot.highestmodseq = info_.nomodseq ? ModSeq() : info_.highestmodseq;
  d.uidvalidity_changed = uidvalidity_changed_;
  ModSeq max_seen;
  for (auto& f : fetches_) {
    auto r = std::move(f.result());
    if (!r) return r.error().with_context("UID FETCH (new messages) in " + mailbox_);
    for (const auto& m : r->messages) {
      if (!m.uid || m.uid->value >= info_.uidnext.value) continue;
      d.added.push_back(new_message_from_fetch(m));
      if (m.modseq && *m.modseq > max_seen) max_seen = *m.modseq;
    }
  }
  std::sort(d.added.begin(), d.added.end(),
            [](const NewMessage& a, const NewMessage& b) { return a.uid < b.uid; });
  if (full_scan_) return d;

  Uid base = stored_.uidnext.valid() ? stored_.uidnext : Uid(1);
  auto is_stored = [&](Uid u) {
    return std::binary_search(stored_uids_.begin(), stored_uids_.end(), u);
  };
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
    std::vector<Uid> present;
    for (const auto& f : r->messages) {
      if (!f.uid || f.uid->value >= base.value || !f.has_flags) continue;
      d.changed.push_back({*f.uid, normalize_flags(f.flags.items()), f.modseq.value_or(ModSeq())});
      if (f.modseq && *f.modseq > max_seen) max_seen = *f.modseq;
      present.push_back(*f.uid);
    }
    if (path_ == ReadPath::Plain) {
      // A UID FETCH of the whole known range answers for every message still there.
      std::sort(present.begin(), present.end());
      for (Uid u : stored_uids_) {
        if (!std::binary_search(present.begin(), present.end(), u)) d.vanished.push_back(u);
      }
    } else if (search_.valid()) {
      auto s = std::move(search_.result());
      if (!s) return s.error().with_context("UID SEARCH in " + mailbox_);
      for (Uid u : stored_uids_) {
        if (!s->uids.contains(u.value)) d.vanished.push_back(u);
      }
    }
    if (path_ == ReadPath::Condstore && max_seen.value > 0) {
      // Gmail: HIGHESTMODSEQ may announce changes not yet fetchable (PROTOCOL.md §2).
      d.snapshot.highestmodseq = std::min(d.snapshot.highestmodseq, max_seen);
      if (d.snapshot.highestmodseq < stored_.highestmodseq) d.snapshot.highestmodseq = stored_.highestmodseq;
    }
  }
  std::erase_if(d.vanished, [&](Uid u) { return !is_stored(u); });
  std::sort(d.vanished.begin(), d.vanished.end());
  d.vanished.erase(std::unique(d.vanished.begin(), d.vanished.end()), d.vanished.end());
  std::sort(d.changed.begin(), d.changed.end(),
            [](const FlagChange& a, const FlagChange& b) { return a.uid < b.uid; });
  return d;
}

}  // namespace twinbox::sync
