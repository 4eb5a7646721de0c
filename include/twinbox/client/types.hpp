#pragma once
/// Plain value types of the client layer: what the typed operations of Session return
/// (session.hpp) and what they take. Server data stays in the imap layer's types where they
/// fit (imap::StatusData, imap::FetchData, imap::FlagSet, imap::SeqSet).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/response.hpp>
#include <twinbox/imap/seqset.hpp>

namespace twinbox::client {

/// Tags are "<prefix><n>", n counting from 1 per session ("a1", "a2", …).
using Tag = std::uint32_t;

/// Receives one protocol trace line ("C: a1 LOGIN alice <redacted>", "S: * 3 EXISTS").
/// Passwords, AUTHENTICATE payloads and OAuth tokens are redacted; literals appear as
/// "{4096 bytes}". The string_view lives only during the call.
using TraceFn = std::function<void(std::string_view line)>;

// ---- Pending results --------------------------------------------------------------------

namespace detail {
template <class T>
struct Slot {
  std::optional<Result<T>> result;
  Tag tag = 0;  ///< tag of the (first) command
};
}  // namespace detail

/// The future result of a pipelined operation. Copyable handle to shared state that the
/// Session fills in when the operation's tagged response (all of them, for operations that
/// were split into several commands) has arrived. Drive the session (Session::wait,
/// Session::run_until, Loop::run_until) until ready().
template <class T>
class Pending {
 public:
  Pending() = default;
  explicit Pending(std::shared_ptr<detail::Slot<T>> slot) : slot_(std::move(slot)) {}

  [[nodiscard]] bool valid() const { return slot_ != nullptr; }
  [[nodiscard]] bool ready() const { return slot_ && slot_->result.has_value(); }
  /// The result; only when ready() (asserts otherwise).
  [[nodiscard]] Result<T>& result() const {
    TWINBOX_ASSERT(ready(), "Pending::result() before the operation completed");
    return *slot_->result;
  }
  /// Tag of the (first) command sent for the operation; 0 when it failed before sending.
  [[nodiscard]] Tag tag() const { return slot_ ? slot_->tag : 0; }

  /// For the Session: completes the operation (the first completion wins).
  void complete(Result<T> r) const {
    if (slot_ && !slot_->result) slot_->result.emplace(std::move(r));
  }
  [[nodiscard]] const std::shared_ptr<detail::Slot<T>>& slot() const { return slot_; }

 private:
  std::shared_ptr<detail::Slot<T>> slot_;
};

template <class T>
Pending<T> make_pending() {
  return Pending<T>(std::make_shared<detail::Slot<T>>());
}

// ---- Authentication ----------------------------------------------------------------------

enum class AuthMechanism {
  Auto,         ///< OAuth when a token callback is set (OAUTHBEARER, else XOAUTH2); else PLAIN
                ///< when advertised, else LOGIN unless LOGINDISABLED
  Plain,        ///< AUTHENTICATE PLAIN (RFC 4616), SASL-IR (RFC 4959) when offered
  Login,        ///< LOGIN (RFC 3501 §6.2.3); refused when LOGINDISABLED
  OAuthBearer,  ///< AUTHENTICATE OAUTHBEARER (RFC 7628)
  XOAuth2,      ///< AUTHENTICATE XOAUTH2 (Google / Microsoft)
};
std::string_view to_string(AuthMechanism m);

struct Credentials {
  std::string username;
  std::string password;  ///< PLAIN / LOGIN
  AuthMechanism mechanism = AuthMechanism::Auto;
  /// Returns a fresh OAuth 2 access token; called once per authentication attempt.
  std::function<Result<std::string>()> oauth_token;
  /// Host and port announced in the OAUTHBEARER GS2 header (RFC 7628 §3.1); optional.
  std::string host;
  std::uint16_t port = 0;
};

// ---- LIST / STATUS / NAMESPACE -------------------------------------------------------------

/// Which STATUS items to ask for (RFC 3501 §6.3.10, RFC 7162 §3.1.7). HIGHESTMODSEQ is
/// dropped automatically when the server lacks CONDSTORE.
struct StatusItems {
  bool messages = true;
  bool uidnext = true;
  bool uidvalidity = true;
  bool highestmodseq = true;
  bool unseen = false;
  bool mailboxid = false;  ///< RFC 8474 §4 (only when OBJECTID is advertised)
};

struct ListOptions {
  std::string reference;                      ///< usually ""
  std::vector<std::string> patterns{"*"};     ///< raw wire patterns
  bool subscribed_only = false;               ///< selection option SUBSCRIBED (else LSUB-free)
  bool return_special_use = true;             ///< RETURN (SPECIAL-USE) when advertised
  bool return_subscribed = false;             ///< RETURN (SUBSCRIBED) when LIST-EXTENDED
  /// Ask for STATUS of every selectable mailbox: LIST-STATUS (RFC 5819) when advertised,
  /// else one pipelined STATUS per mailbox after the LIST.
  bool with_status = false;
  StatusItems status_items;
};

/// One mailbox from LIST (RFC 3501 §7.2.2, RFC 5258, RFC 6154).
struct ListEntry {
  std::string name;                   ///< raw wire name (modified UTF-7 or UTF-8)
  std::optional<char> delimiter;      ///< nullopt for a flat namespace (NIL)
  std::vector<std::string> attributes;
  std::string special_use;            ///< "\\Sent", "\\Trash", … or "" (first one found)
  bool subscribed = false;            ///< \Subscribed attribute present
  std::optional<std::string> old_name;  ///< OLDNAME (RFC 5465 §5.4)
  std::optional<imap::StatusData> status;  ///< when with_status and the server answered
  [[nodiscard]] bool has_attribute(std::string_view attr) const;
  /// False for \Noselect and \NonExistent.
  [[nodiscard]] bool selectable() const;
};

/// NAMESPACE (RFC 2342 §5).
using NamespaceInfo = imap::NamespaceData;

// ---- SELECT ----------------------------------------------------------------------------------

/// QRESYNC parameter of SELECT/EXAMINE (RFC 7162 §3.2.5). Sent only when QRESYNC is enabled
/// and modseq > 0 (the grammar needs ≥ 1, PROTOCOL.md §1.6).
struct QresyncParams {
  UidValidity uidvalidity;
  ModSeq modseq;
  std::optional<imap::SeqSet> known_uids;
  /// (seq set, uid set) of equal cardinality, ascending (RFC 7162 §3.2.5.2).
  std::optional<std::pair<imap::SeqSet, imap::SeqSet>> seq_match;
};

struct SelectOptions {
  bool read_only = false;  ///< EXAMINE instead of SELECT
  bool condstore = false;  ///< `(CONDSTORE)` parameter (RFC 7162 §3.1.8); needs CONDSTORE
  std::optional<QresyncParams> qresync;  ///< needs QRESYNC enabled
};

/// What SELECT/EXAMINE reported (RFC 3501 §6.3.1, RFC 7162 §3.1.2.1, §3.2.5, RFC 8474 §4.2).
struct SelectInfo {
  std::string mailbox;
  bool read_only = false;
  UidValidity uidvalidity;
  Uid uidnext;                 ///< invalid (0) when not sent (Courier)
  ModSeq highestmodseq;        ///< 0 when NOMODSEQ or not sent
  bool nomodseq = false;       ///< OK [NOMODSEQ]: no CONDSTORE in this mailbox
  std::uint32_t exists = 0;
  std::uint32_t recent = 0;
  imap::FlagSet flags;
  imap::FlagSet permanent_flags;
  bool permanent_flags_sent = false;
  std::string mailbox_id;      ///< MAILBOXID, "" when absent
  bool uid_not_sticky = false; ///< NO/OK [UIDNOTSTICKY]
  bool qresync_sent = false;   ///< the QRESYNC parameter was actually sent
  imap::SeqSet vanished_earlier;           ///< VANISHED (EARLIER) during SELECT (QRESYNC)
  std::vector<imap::FetchData> changed;    ///< FETCH lines during SELECT (QRESYNC)
};

// ---- FETCH -----------------------------------------------------------------------------------

/// Items of UID FETCH (RFC 3501 §6.4.5). UID is always included.
struct FetchItems {
  bool flags = true;
  bool modseq = false;        ///< MODSEQ (RFC 7162 §3.1.4.1); needs CONDSTORE
  bool internal_date = false;
  bool size = false;          ///< RFC822.SIZE
  bool body = false;          ///< BODY.PEEK[] (never BODY[]: that sets \Seen)
  bool email_id = false;      ///< EMAILID (RFC 8474 §5.1; needs OBJECTID)
  std::vector<std::string> extra;  ///< raw items, e.g. "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
};

struct FetchModifiers {
  std::optional<ModSeq> changed_since;  ///< CHANGEDSINCE (RFC 7162 §3.1.4.1)
  bool vanished = false;                ///< VANISHED (RFC 7162 §3.2.6); needs QRESYNC enabled
};

/// The answer to a UID FETCH (possibly sent as several commands when the UID set is long).
struct FetchResult {
  /// FETCH responses whose UID is in the requested set, in arrival order (empty when an
  /// on_message callback consumed them).
  std::vector<imap::FetchData> messages;
  imap::SeqSet vanished_earlier;  ///< VANISHED (EARLIER) answering the VANISHED modifier
};

/// Receives the messages of a streaming body fetch (Session::uid_fetch_stream), one after
/// the other: begin, data*, end. Memory stays independent of message sizes.
/// Calls come from inside the Session's I/O processing: they may queue commands on any
/// session, but must not drive a session (no wait/run_until/pump).
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  /// A body literal of `size` octets starts. `seq` is the message's sequence number; the
  /// UID may only be known at end() (items can come in any order).
  virtual Status begin(SeqNum seq, std::uint64_t size) = 0;
  /// The next piece of the body (never empty; valid only during the call).
  virtual Status data(std::string_view chunk) = 0;
  /// The FETCH response is complete: `meta` holds UID, FLAGS, INTERNALDATE, RFC822.SIZE,
  /// MODSEQ as requested (its bodies[] entry has streamed = true). Called for every FETCH of a
  /// requested UID, also when it carried no body (begin/data were then not called).
  /// An error from any call aborts the connection (a literal cannot be stopped midway).
  virtual Status end(const imap::FetchData& meta) = 0;
};

// ---- STORE -----------------------------------------------------------------------------------

enum class StoreMode { Add, Remove, Replace };  ///< +FLAGS / -FLAGS / FLAGS

/// The answer to UID STORE (RFC 3501 §6.4.6, RFC 7162 §3.1.3).
struct StoreResult {
  imap::SeqSet modified;  ///< UIDs that failed UNCHANGEDSINCE ([MODIFIED], on OK or NO)
  /// Every FETCH with a UID of the set seen while the command ran: new MODSEQ of the winners
  /// (always reported with CONDSTORE, even with .SILENT) and the current flags of losers
  /// when the server sent them.
  std::vector<imap::FetchData> fetched;
  std::optional<ModSeq> highestmodseq;  ///< [HIGHESTMODSEQ] in the tagged OK
};

// ---- APPEND ----------------------------------------------------------------------------------

/// A pull source for a streamed literal body (an APPEND fed from another connection's
/// FETCH). size() is the exact literal size; read() returns up to len bytes, 0 when no bytes
/// are available yet (the Session then waits and tries again after the next I/O round of any
/// session in the same Loop). An error, or a source that ends early, aborts the connection:
/// a literal cannot be stopped midway.
class BodySource {
 public:
  virtual ~BodySource() = default;
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  virtual Result<std::size_t> read(char* buf, std::size_t len) = 0;
};

struct AppendMessage {
  imap::FlagSet flags;                       ///< \Recent is dropped
  std::optional<std::string> internal_date;  ///< "dd-Mon-yyyy hh:mm:ss +zzzz"
  /// The body, either bytes the caller keeps alive until the operation completes…
  std::string_view data;
  /// …or bytes handed over to the session, freed as soon as the command has been written
  /// (a copy pipeline's memory then stays at what is not yet on the wire). Wins over data…
  std::shared_ptr<const std::string> owned;
  /// …or a streamed source (owned by the caller, alive until completion). Wins over both.
  BodySource* source = nullptr;
};

/// APPENDUID (RFC 4315 §3): uids in transmission order; empty when the server sent none.
struct AppendResult {
  UidValidity uidvalidity;
  std::vector<Uid> uids;
};

// ---- COPY / MOVE / EXPUNGE / SEARCH ------------------------------------------------------------

/// COPYUID (RFC 4315 §3), from an untagged OK or the tagged OK; pairs (source, destination)
/// zipped in wire order. Empty when the server sent no COPYUID.
struct CopyResult {
  UidValidity dest_uidvalidity;
  std::vector<std::pair<Uid, Uid>> pairs;
  imap::SeqSet expunged;  ///< source UIDs reported gone during a MOVE (VANISHED/EXPUNGE)
  std::optional<ModSeq> highestmodseq;
};

struct ExpungeResult {
  imap::SeqSet expunged;  ///< UIDs reported by VANISHED (or EXPUNGE mapped to UIDs)
  std::uint32_t unmapped_expunges = 0;  ///< EXPUNGE lines whose UID was unknown
  std::optional<ModSeq> highestmodseq;
};

struct SearchResult {
  imap::SeqSet uids;            ///< ALL (ESEARCH) or the SEARCH numbers
  std::optional<std::uint32_t> count, min, max;
  std::optional<ModSeq> modseq;
};

// ---- Unsolicited changes ---------------------------------------------------------------------

/// Changes seen in the selected mailbox by untagged data (any time, any command, IDLE),
/// accumulated until Session::take_changes().
struct MailboxChanges {
  imap::SeqSet expunged;                 ///< live VANISHED, or EXPUNGE mapped to UIDs
  std::uint32_t unmapped_expunges = 0;   ///< EXPUNGE of a sequence number with unknown UID
  std::vector<imap::FetchData> fetches;  ///< unsolicited FETCH (not claimed by a command)
  bool exists_grew = false;              ///< EXISTS rose (new mail)
  std::uint32_t exists = 0;              ///< latest EXISTS
  /// NOTIFY (RFC 5465): STATUS and LIST lines nobody asked for (partial, merge them).
  std::vector<imap::StatusData> status_updates;
  std::vector<imap::ListData> list_updates;
  bool notification_overflow = false;    ///< OK [NOTIFICATIONOVERFLOW]
  [[nodiscard]] bool empty() const {
    return expunged.empty() && unmapped_expunges == 0 && fetches.empty() && !exists_grew &&
           status_updates.empty() && list_updates.empty() && !notification_overflow;
  }
};

}  // namespace twinbox::client
