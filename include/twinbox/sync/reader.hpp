#pragma once
/// Delta readers (DESIGN.md "Data flow" 4, PROTOCOL.md §0, §1.6, §1.7, §2): one side of one
/// mailbox pair, from the stored state to a Delta. Three paths, one output.
///
/// Path selection (decisions of issue 6), per connection and then per mailbox:
/// - Qresync when the session has QRESYNC *and* the server confirmed it with `* ENABLED
///   QRESYNC` (client::Session::qresync()). SELECT (QRESYNC (uidvalidity modseq
///   1:<stored uidnext-1>)) gives VANISHED (EARLIER) and the changed flags; new messages by
///   UID FETCH <stored uidnext>:<snapshot uidnext-1>. While the stored modseq is 0 (nothing to
///   resynchronise from) the QRESYNC parameter is omitted and the mailbox is read like
///   Condstore.
/// - Condstore when CONDSTORE (or QRESYNC, which implies it) is advertised but QRESYNC is not
///   usable: Gmail, or a QRESYNC that ENABLE did not confirm. SELECT (CONDSTORE), then
///   `UID FETCH 1:<stored uidnext-1> (FLAGS) (CHANGEDSINCE m)`.
/// - Plain when the server has no CONDSTORE, and for a single mailbox answering
///   OK [NOMODSEQ] (no MODSEQ item is ever sent there: RFC 7162 §3.1.2.2 makes it BAD).
///   Every flag by `UID FETCH 1:<stored uidnext-1> (FLAGS)`, compared with the stored base by
///   the reconciler; writes to such a side are +FLAGS.SILENT/-FLAGS.SILENT deltas.
/// - A mailbox whose SELECT says UIDNOTSTICKY is refused (mailbox-scope error): its UIDs
///   cannot be paired. A SELECT without UIDNEXT (Courier) is completed by STATUS (UIDNEXT).
/// - A HIGHESTMODSEQ below the stored one (server restored, or lying) voids the stored
///   modseq: that side is read with a full flag read (as Condstore with modseq 0) and its
///   snapshot modseq is stored as 0, so no compare-and-set trusts the bad value and the next
///   run reads every flag again. Without this a change made on the other side in that run
///   was lost (issue 10).
///
/// Expunges on the Condstore and Plain paths, cheapest sound method first (PROTOCOL.md §2):
/// 1. Count check: EXISTS at SELECT minus the new messages fetched equals the number of stored
///    UIDs below the stored UIDNEXT -> nothing below it vanished. A mismatch only ever leads to
///    a scan, never to a deletion, so concurrent changes cannot make it unsound; it relies on
///    every message below the stored UIDNEXT being paired (the engine stores a snapshot only
///    after every message below it was paired, copied or its mailbox stopped).
/// 2. Otherwise `UID SEARCH UID <set>` (sent as `UID SEARCH RETURN (ALL) UID <set>` with
///    ESEARCH, RFC 4731, so the answer is a compressed set). On the Condstore path the set is
///    the whole known range (pipelined with the fetches when EXISTS alone already proves an
///    expunge); on the Plain path the full FLAGS fetch names the candidates (UIDs without a
///    FETCH line) and only those are searched: a missing FETCH line alone is not proof
///    (PROTOCOL.md §4.4).
/// Stored UIDs at or above the stored UIDNEXT (our own copies recorded after the snapshot was
/// taken) are present when the new-message fetch returned them; any other is confirmed by the
/// same SEARCH, on every path.
///
/// The stored modseq of a Condstore read (issue 6). Gmail announces changes in HIGHESTMODSEQ
/// before they are fetchable (PROTOCOL.md §2), and HIGHESTMODSEQ also moves on expunges, so
/// an announced value above everything received is either a change still to come or nothing
/// at all; the two cannot be told apart in one read. Let received = the highest MODSEQ that
/// came back (flag read and new messages), capped by the announced HIGHESTMODSEQ, and at least
/// the stored modseq (0 on a full scan):
/// - received reaches the announced value: store it (SideState::announced_modseq = 0);
/// - otherwise store received and remember the announced value (announced_modseq), so the
///   skip rule (STATUS HIGHESTMODSEQ != stored) reads the mailbox again on the next run and
///   CHANGEDSINCE re-asks from received (idempotent);
/// - except when the stored announced_modseq equals the announced value, nothing above the
///   stored modseq came back, and that stored state is from an earlier run: the change had a
///   whole run interval to become fetchable, so the announced value is stored and the mailbox
///   is skippable again. Not within one run (stored_by_this_run(): the confirming pass follows
///   the first read by milliseconds), and never on a full scan (the stored values belong to an
///   older state). A `twinbox watch` round is a run: a round that an event (such as the echo
///   of our own writes) starts within the debounce of the previous one gives the change only
///   that long; the rule has no clock, so that tests need no waiting.
/// Cost: a mailbox whose HIGHESTMODSEQ moved by an expunge alone (ours or another client's) is
/// SELECTed once more on the next run (a CHANGEDSINCE that returns nothing) before it is
/// skipped again. A change still unfetchable after a whole run interval is lost, and so is
/// one that becomes fetchable only after a higher MODSEQ was received (the rule assumes changes
/// become fetchable in MODSEQ order, as PROTOCOL.md §2 does).
/// The lower stored value is also the UNCHANGEDSINCE of this pass's writes: a message changed
/// above it gets MODIFIED and is read again rather than overwritten.
///
/// A reader runs in two steps so that both sides of a pair progress at once in one Loop:
/// start() queues SELECT; after it completes, next() queues the fetches; after those
/// complete, finish() builds the Delta (and may wait for one confirming SEARCH).
/// On the Qresync path with a stored state, start() also queues the new-message fetch
/// (`UID FETCH <stored UIDNEXT>:4294967295`) in the same round trip, before the snapshot's
/// UIDNEXT is known; next() keeps its answer when the SELECT confirms the stored state
/// (else drops it and reads as above), finish() keeps only the UIDs below the snapshot's
/// UIDNEXT. A changed mailbox costs one round trip per side instead of two (issue 8).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/client/session.hpp>
#include <twinbox/state/store.hpp>
#include <twinbox/sync/delta.hpp>

namespace twinbox::sync {

enum class ReadPath { Qresync, Condstore, Plain };
std::string_view to_string(ReadPath p);

/// The path a session supports at best (per connection; a mailbox can still drop to Plain
/// with NOMODSEQ).
ReadPath best_path(const client::Session& session);

/// Extracts the Message-ID value from a `BODY[HEADER.FIELDS (MESSAGE-ID)]` answer (unfolded,
/// trimmed); "" when absent.
std::string message_id_from_header(std::string_view header);

/// Builds a NewMessage read on `side` from a FETCH with UID FLAGS INTERNALDATE RFC822.SIZE,
/// the Message-ID header section and, where fetched, EMAILID or X-GM-MSGID (into
/// identity.email_id[side]; X-GM-MSGID as "X-GM-MSGID:<decimal>", which no EMAILID can equal:
/// ':' is not an objectid character, RFC 8474 §4).
NewMessage new_message_from_fetch(const imap::FetchData& f, Side side = Side::Local);

/// The server's own message id a session offers (issue 5): EMAILID with OBJECTID (RFC 8474),
/// else X-GM-MSGID with X-GM-EXT-1 (Gmail), else none.
enum class MessageIdItem { None, EmailId, GmMsgId };
MessageIdItem message_id_item(const client::Session& session);
/// Adds the FETCH item for `id` to `items` (nothing for None).
void add_message_id_item(client::FetchItems& items, MessageIdItem id);

/// FETCH items that identify a message (for new messages and content matching); MODSEQ only
/// when `with_modseq` (never in a NOMODSEQ mailbox). The server's message id (EMAILID or
/// X-GM-MSGID) is fetched with them where offered: it recognises moves without Message-ID and
/// among look-alikes, and must be stored while the message exists (after it vanished it
/// cannot be asked for).
client::FetchItems identity_items(bool with_modseq, MessageIdItem id = MessageIdItem::None);

class DeltaReader {
 public:
  /// `stored_uids`: the UIDs of this side in the stored pairs (void ones excluded). `side`:
  /// which side `session` is (the slot of identity.email_id the reader fills).
  /// New messages are read with identity_items(); stored pairs' UIDs above the stored UIDNEXT
  /// (this run's own copies and moves, read again by the confirming pass) with FLAGS and the
  /// message id only, so the engine learns the ids of the messages it created.
  DeltaReader(client::Session& session, Side side, std::string mailbox, state::SideState stored,
              std::vector<Uid> stored_uids);

  /// Queues SELECT.
  void start();
  [[nodiscard]] bool step_ready() const;
  /// After start()'s SELECT completed: checks it and queues the fetches. Mailbox-scope errors.
  Status next();
  /// After next()'s fetches completed: the Delta.
  Result<Delta> finish();

  /// Before start(): `stored` was written by this same run (a confirming pass), so an announced
  /// HIGHESTMODSEQ remembered there has not had time to become fetchable (see above).
  void stored_by_this_run() { stored_by_this_run_ = true; }

  /// Between start()'s SELECT completing and next(): its EXISTS (0 when the SELECT failed).
  [[nodiscard]] std::uint32_t exists_at_select() const;
  /// Before start() (also its pipelined fetch) or next(): new messages are read with FLAGS, RFC822.SIZE (and MODSEQ) only, without
  /// INTERNALDATE and BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] (on maildir Dovecot stats every
  /// message file for the first and opens it for the second: 4-8x the time). Only for a side
  /// whose new messages all go to an empty other side with nothing stored: the copy completes
  /// the identity from the FETCH of the bodies (executor_copy.cpp).
  void skip_content_identity() { skip_content_identity_ = true; }
  /// Before start(): read new messages only below UID `end` this pass (a mailbox of any size
  /// is read and copied in windows, so memory does not grow with it; issue 8). The snapshot's
  /// UIDNEXT is then min(end, UIDNEXT) and Delta::more_new tells that messages above it were
  /// left for the next pass. Ignored after a UIDVALIDITY change (re-pairing by content needs
  /// every message at once). The caller makes sure nothing on the other side could pair with
  /// a message above `end` (engine.cpp: that side had nothing new).
  void limit_new(Uid end) { limit_ = end; }
  /// Before start(), with limit_new(): the next window of a mailbox this session still has
  /// selected from an earlier pass of this run that wrote nothing to it; `uidnext` is that
  /// SELECT's UIDNEXT. The window's new messages are read with one UID FETCH and no SELECT
  /// (a SELECT of a large mailbox costs Dovecot 20-80 ms per window, issue 8). The snapshot
  /// is the stored one with UIDNEXT at the window's end: changes to older messages since that
  /// SELECT are the next run's to read (the stored HIGHESTMODSEQ is still that SELECT's).
  /// Falls back to a normal read when the session has another mailbox (or UIDVALIDITY)
  /// selected.
  void continue_window(Uid uidnext) { continue_uidnext_ = uidnext; }

  [[nodiscard]] ReadPath path() const { return path_; }
  [[nodiscard]] const client::SelectInfo& select_info() const { return info_; }

 private:
  Status fetch_new(Uid from, Uid to_exclusive);
  /// on_message of the new-message fetches: each FETCH line becomes a NewMessage at once
  /// (a FetchData is ~20x larger; keeping them all made the peak memory of a first sync).
  void take_new(const imap::FetchData& m);
  void queue_flag_read(const imap::SeqSet& known);
  /// Number of stored UIDs below `base` (stored_uids_ is sorted).
  [[nodiscard]] std::size_t stored_below(Uid base) const;
  /// Forgets the speculative new-message fetch sent with the SELECT (start()).
  void drop_speculative();
  /// Expunges of the Condstore/Plain paths and of stored UIDs >= base (see the header).
  Status find_vanished(Delta& d, Uid base, const std::vector<Uid>& present_old);
  /// The Condstore path's stored modseq and announced value (see the header) into `snap`.
  void settle_modseq(MailboxSnapshot& snap, ModSeq max_seen) const;

  client::Session& session_;
  Side side_;
  MessageIdItem id_item_;
  std::string mailbox_;
  state::SideState stored_;
  std::vector<Uid> stored_uids_;
  ReadPath path_ = ReadPath::Plain;
  client::Pending<client::SelectInfo> select_;
  client::SelectInfo info_;
  std::vector<client::Pending<client::FetchResult>> fetches_;
  client::Pending<client::FetchResult> flags_;
  client::Pending<client::SearchResult> search_;
  bool full_scan_ = false;  ///< added = every message (new pair, or UIDVALIDITY changed)
  bool uidvalidity_changed_ = false;
  bool modseq_backwards_ = false;  ///< HIGHESTMODSEQ below the stored one: full flag read
  bool scan_sent_ = false;         ///< search_ covers the whole known range
  bool skip_content_identity_ = false;
  Uid limit_;  ///< limit_new(); invalid = none
  Uid stop_;   ///< new messages are below this UID: min(limit_, SELECT's UIDNEXT)
  bool speculative_ = false;  ///< fetches_ were sent with the SELECT, before its answer
  bool stored_by_this_run_ = false;
  Uid continue_uidnext_;  ///< continue_window(); invalid = none
  bool continued_ = false;  ///< start() took the continue_window() path
  std::vector<NewMessage> added_;  ///< filled by take_new()
  ModSeq max_seen_;                ///< highest MODSEQ among added_
  int stage_ = 0;
};

}  // namespace twinbox::sync
