#pragma once
/// Delta readers (DESIGN.md "Data flow" 4, PROTOCOL.md §0, §1.6, §1.7, §2): one side of one
/// mailbox pair, from the stored state to a Delta. Three paths, one output:
/// - Qresync: SELECT (QRESYNC (uidvalidity modseq known-uids)) gives VANISHED (EARLIER) and
///   the changed flags; new messages by UID FETCH <stored uidnext>:<snapshot uidnext - 1>.
/// - Condstore (CONDSTORE without QRESYNC, e.g. Gmail, or a QRESYNC that ENABLE did not
///   confirm): UID FETCH 1:<uidnext-1> (FLAGS) (CHANGEDSINCE m) and an expunge scan (message
///   count check first, then UID SEARCH). The stored modseq becomes the highest MODSEQ actually
///   received when any FETCH came back, else the announced HIGHESTMODSEQ.
/// - Plain (no CONDSTORE, or a mailbox answering NOMODSEQ): every flag by UID FETCH
///   1:<uidnext-1> (FLAGS), which also proves expunges (a UID absent from the answer of a
///   UID FETCH of the whole known range is gone, RFC 4549 §4.3.1).
///
/// A reader runs in two steps so that both sides of a pair progress at once in one Loop:
/// start() queues SELECT; after it completes, next() queues the fetches; after those
/// complete, finish() builds the Delta.

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

/// Builds a NewMessage from a FETCH with UID FLAGS INTERNALDATE RFC822.SIZE and the
/// Message-ID header section.
NewMessage new_message_from_fetch(const imap::FetchData& f);

/// FETCH items that identify a message (for new messages and content matching).
client::FetchItems identity_items(const client::Session& session);

class DeltaReader {
 public:
  /// `stored_uids`: the UIDs of this side in the stored pairs (void ones excluded).
  DeltaReader(client::Session& session, std::string mailbox, state::SideState stored,
              std::vector<Uid> stored_uids);

  /// Queues SELECT.
  void start();
  [[nodiscard]] bool step_ready() const;
  /// After start()'s SELECT completed: checks it and queues the fetches. Mailbox-scope errors.
  Status next();
  /// After next()'s fetches completed: the Delta.
  Result<Delta> finish();

  [[nodiscard]] ReadPath path() const { return path_; }
  [[nodiscard]] const client::SelectInfo& select_info() const { return info_; }

 private:
  Status fetch_new(Uid from, Uid to_exclusive);

  client::Session& session_;
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
  int stage_ = 0;
};

}  // namespace twinbox::sync
