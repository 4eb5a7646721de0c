#pragma once
/// client::Session: one IMAP connection, pipelined (PROTOCOL.md §1, §3, §6).
///
/// Model
/// - A Session owns a non-blocking net::Stream. Operations queue commands and return a
///   Pending<T>; nothing blocks until the caller drives I/O with wait()/run_until()/pump() or
///   through a Loop (loop.hpp) that polls several sessions at once. No threads.
/// - Many tagged commands may be in flight; each completes by its own tag. A command with a
///   synchronizing literal waits for `+`, and commands queued after it wait behind it (only
///   one command may wait for a continuation at a time, RFC 3501 §5.5). Non-synchronizing
///   literals are used with LITERAL+ (any size) or LITERAL- (≤ 4096 octets, RFC 7888).
/// - Untagged data is applied to the selected mailbox's state whenever it arrives, then
///   offered to the commands in flight that asked for that kind of data (LIST, STATUS,
///   SEARCH, FETCH by UID); it is never assumed to answer "the" command in flight.
/// - Errors: NO/BAD fail the operation (Errc::Protocol, or Errc::NotFound for
///   TRYCREATE/NONEXISTENT, Scope::Mailbox) with the server's text; a missing capability
///   fails at once with Errc::Capability; BYE, EOF, a malformed response (offset + excerpt)
///   or a timeout break the connection: every pending operation then fails with that error
///   (Errc::Closed carries the server's BYE text) and later operations fail at once.
/// - Callbacks (MessageSink, BodySource, on_message, observers) run inside I/O processing:
///   they may queue operations on any session, never drive one (no wait/run_until/pump).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/client/types.hpp>
#include <twinbox/imap/capability.hpp>
#include <twinbox/imap/response.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::client {

using net::Deadline;

struct SessionOptions {
  /// The transport is encrypted (TLS, or a local tunnel). A PREAUTH greeting on a
  /// non-secure transport is refused unless allow_plaintext (RFC 9051 §7.1.4).
  bool secure_transport = false;
  /// The user explicitly chose an unencrypted connection.
  bool allow_plaintext = false;
  /// Command lines (excluding literals) are kept under this many octets by splitting long
  /// UID sets into several commands (PROTOCOL.md §3 "Line length").
  std::size_t max_command_line = 8192;
  /// Body literals of at least this size are streamed, never buffered.
  std::uint64_t stream_threshold = 0;
  std::string tag_prefix = "a";
  TraceFn trace;  ///< protocol trace (--debug), redacted
  /// Parser limits (imap::ParserLimits): longest response line / buffered literal.
  std::uint64_t max_response_line = 16u << 20;
  std::uint64_t max_literal = 64u << 20;
};

enum class SessionState { Greeting, NotAuthenticated, Authenticated, Selected, Logout, Broken };

/// Hook used by starttls(): takes the plaintext stream (already drained) and returns the
/// TLS stream after a verified handshake. Provided by connect() (net layer TLS).
using StreamUpgrade = std::function<Result<net::StreamPtr>(net::StreamPtr plain, Deadline)>;

class Session {
 public:
  Session(net::StreamPtr stream, SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- Connection setup (each waits for its answer, bounded by the deadline) -------------

  /// Reads the greeting (RFC 3501 §7.1): OK → not authenticated, PREAUTH → authenticated
  /// (refused on a plaintext transport unless allowed), BYE → Errc::Closed with the text.
  /// Capabilities come from the greeting's [CAPABILITY] or a CAPABILITY command.
  Status greet(Deadline deadline);
  /// CAPABILITY (RFC 3501 §6.1.1): replaces the whole set.
  Status refresh_capabilities(Deadline deadline);
  /// STARTTLS (RFC 3501 §6.2.1): refuses (Errc::Tls) when not advertised; discards any bytes
  /// received before the handshake; re-reads CAPABILITY afterwards.
  Status starttls(const StreamUpgrade& upgrade, Deadline deadline);
  /// Logs in (PROTOCOL.md §1.3). Errc::Auth (AUTHENTICATIONFAILED, not to be retried),
  /// Errc::AuthRetry (UNAVAILABLE), Errc::Auth with a specific message for PRIVACYREQUIRED,
  /// EXPIRED, CONTACTADMIN; Errc::Capability when no usable mechanism is advertised.
  /// Capabilities are replaced from the tagged OK's [CAPABILITY] or a CAPABILITY command.
  /// A no-op after PREAUTH.
  Status authenticate(const Credentials& credentials, Deadline deadline);
  /// ENABLE (RFC 5161 §3.1): returns what the server listed in `* ENABLED` (success is judged
  /// only by that list). Needs ENABLE; must come before any SELECT.
  Result<std::vector<std::string>> enable(const std::vector<std::string>& extensions,
                                          Deadline deadline);
  /// ID (RFC 2971 §3.1) with the given key/value pairs (never an empty list).
  Result<imap::IdData> id(const std::vector<std::pair<std::string, std::string>>& params,
                          Deadline deadline);
  /// ENABLE and ID queued without waiting: connect() pipelines them with the first command
  /// of the caller (a no-op sync then costs one round trip after login).
  Pending<std::vector<std::string>> send_enable(const std::vector<std::string>& extensions);
  Pending<imap::IdData> send_id(const std::vector<std::pair<std::string, std::string>>& params);
  /// COMPRESS DEFLATE (RFC 4978 §3): needs COMPRESS=DEFLATE and nothing in flight; then
  /// `wrap` puts the stream into net's deflate stream (connect() passes it). NO
  /// [COMPRESSIONACTIVE] is success.
  Status compress(const StreamUpgrade& wrap, Deadline deadline);

  // ---- State ----------------------------------------------------------------------------

  [[nodiscard]] SessionState state() const;
  [[nodiscard]] const imap::CapabilitySet& capabilities() const;
  [[nodiscard]] bool has(std::string_view capability) const;
  /// True when the server listed `extension` in `* ENABLED`.
  [[nodiscard]] bool enabled(std::string_view extension) const;
  [[nodiscard]] bool qresync() const { return enabled("QRESYNC"); }
  [[nodiscard]] bool compressed() const;
  /// The selected mailbox's state (updated by untagged data), or nullptr.
  [[nodiscard]] const SelectInfo* selected() const;
  /// UID of sequence number `seq` in the selected mailbox when known (tracked when QRESYNC
  /// is off: EXISTS appends unknown slots, EXPUNGE erases, FETCH with UID fills).
  [[nodiscard]] std::optional<Uid> uid_of(SeqNum seq) const;
  /// Drains the changes seen in the selected mailbox since the last call.
  MailboxChanges take_changes();
  [[nodiscard]] bool has_changes() const;
  /// Called for every untagged response after it was applied to the mailbox state (also
  /// those claimed by a command). For watch mode and diagnostics.
  void set_observer(std::function<void(const imap::Response&)> observer);
  /// The connection's error once it is broken.
  [[nodiscard]] const std::optional<Error>& broken() const;
  [[nodiscard]] std::string describe() const;
  /// Commands sent so far (tests and benchmarks count round trips with it).
  [[nodiscard]] std::uint64_t commands_sent() const;
  [[nodiscard]] std::size_t in_flight() const;

  // ---- I/O driving ------------------------------------------------------------------------

  /// Drives this session until `p` is ready (or the deadline/connection breaks) and returns
  /// its result.
  template <class T>
  Result<T> wait(const Pending<T>& p, Deadline deadline) {
    if (!p.ready()) {
      Status s = run_until([&p] { return p.ready(); }, deadline);
      if (!s && !p.ready()) return s.error();
    }
    return std::move(p.result());
  }
  /// Drives this session until done() is true. Errc::Timeout at the deadline (the
  /// connection stays usable), or the connection's error.
  Status run_until(const std::function<bool()>& done, Deadline deadline);
  /// One round: waits (until the deadline) for the stream to be ready, then on_ready().
  Status pump(Deadline deadline);
  /// Non-blocking: writes what the stream accepts, reads what is there, dispatches every
  /// complete response. Returns the connection's error once broken.
  Status on_ready();
  /// For poll loops: the stream's fd (-1 for fd-less test streams), the events wanted now
  /// (POLLIN always; POLLOUT while output is pending), and whether it can progress without
  /// polling (buffered input, or a streamed body source that has become readable).
  [[nodiscard]] int fd() const;
  [[nodiscard]] short poll_events() const;
  [[nodiscard]] bool ready_without_poll() const;
  /// Grows whenever on_ready() wrote bytes, read bytes or dispatched a response. A poll loop
  /// compares it around on_ready() to know whether a round moved without waiting.
  [[nodiscard]] std::uint64_t progress() const;

  // ---- Typed operations (pipelined; each returns at once) ---------------------------------

  /// NOOP (RFC 3501 §6.1.2): lets the server deliver pending updates.
  Pending<void> noop();
  /// LOGOUT (RFC 3501 §6.1.3): the BYE before the tagged OK is expected, not an error.
  Pending<void> logout();
  /// LIST (RFC 3501 §6.3.8) with RETURN options (RFC 5258 §3, RFC 6154 §2, RFC 5819 §2);
  /// with_status uses LIST-STATUS or falls back to LIST + one pipelined STATUS per
  /// selectable mailbox.
  Pending<std::vector<ListEntry>> list(const ListOptions& options);
  /// STATUS (RFC 3501 §6.3.10; HIGHESTMODSEQ RFC 7162 §3.1.7, MAILBOXID RFC 8474 §4).
  Pending<imap::StatusData> status(std::string_view mailbox, const StatusItems& items);
  /// NAMESPACE (RFC 2342 §5); Errc::Capability without NAMESPACE.
  Pending<NamespaceInfo> namespaces();
  /// CREATE (RFC 3501 §6.3.3), with `USE (\Sent)` (RFC 6154 §3) when special_use is given
  /// and CREATE-SPECIAL-USE is advertised (silently plain CREATE otherwise).
  /// NO [ALREADYEXISTS] is success.
  Pending<void> create(std::string_view mailbox, std::string_view special_use = {});
  /// DELETE (RFC 3501 §6.3.4).
  Pending<void> delete_mailbox(std::string_view mailbox);
  /// RENAME (RFC 3501 §6.3.5).
  Pending<void> rename(std::string_view from, std::string_view to);
  /// SUBSCRIBE / UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7).
  Pending<void> subscribe(std::string_view mailbox);
  Pending<void> unsubscribe(std::string_view mailbox);
  /// SELECT / EXAMINE (RFC 3501 §6.3.1-2) with (CONDSTORE) (RFC 7162 §3.1.8) or
  /// (QRESYNC (…)) (RFC 7162 §3.2.5). The QRESYNC parameter is sent only when QRESYNC is
  /// enabled and its modseq is non-zero (else a plain SELECT). Compare the returned
  /// uidvalidity with the one you sent: a stale one gives a plain SELECT (§3.2.5).
  Pending<SelectInfo> select(std::string_view mailbox, const SelectOptions& options = {});
  /// UNSELECT (RFC 3691); Errc::Capability without UNSELECT.
  Pending<void> unselect();
  /// UID FETCH (RFC 3501 §6.4.8; CHANGEDSINCE RFC 7162 §3.1.4.1, VANISHED §3.2.6). The set
  /// is explicit (never `n:*`) and split into several commands when long. With on_message
  /// set, each matching FETCH goes to it instead of into FetchResult::messages.
  Pending<FetchResult> uid_fetch(const imap::SeqSet& uids, const FetchItems& items,
                                 const FetchModifiers& modifiers = {},
                                 std::function<void(const imap::FetchData&)> on_message = {});
  /// UID FETCH … BODY.PEEK[] streamed to `sink` chunk by chunk (memory independent of message
  /// size); `items` says what else to fetch (body is forced on). The sink must outlive the
  /// operation.
  Pending<FetchResult> uid_fetch_stream(const imap::SeqSet& uids, const FetchItems& items,
                                        MessageSink& sink);
  /// UID STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3): `.SILENT` forms;
  /// [MODIFIED] on OK or NO is success with StoreResult::modified set.
  Pending<StoreResult> uid_store(const imap::SeqSet& uids, StoreMode mode,
                                 const imap::FlagSet& flags,
                                 std::optional<ModSeq> unchanged_since = std::nullopt);
  /// APPEND (RFC 3501 §6.3.11), MULTIAPPEND when several messages (RFC 3502; needs
  /// MULTIAPPEND), APPENDUID (RFC 4315 §3). NO [TRYCREATE] → Errc::NotFound.
  Pending<AppendResult> append(std::string_view mailbox, std::vector<AppendMessage> messages);
  /// UID EXPUNGE (RFC 4315 §2.1); Errc::Capability without UIDPLUS.
  Pending<ExpungeResult> uid_expunge(const imap::SeqSet& uids);
  /// UID COPY (RFC 3501 §6.4.7) with COPYUID (RFC 4315 §3).
  Pending<CopyResult> uid_copy(const imap::SeqSet& uids, std::string_view dest);
  /// UID MOVE (RFC 6851 §3.2) with COPYUID untagged or tagged; Errc::Capability without MOVE.
  Pending<CopyResult> uid_move(const imap::SeqSet& uids, std::string_view dest);
  /// UID SEARCH (RFC 3501 §6.4.4) with a raw criteria string; RETURN (ALL COUNT MIN MAX)
  /// via ESEARCH (RFC 4731) when advertised.
  Pending<SearchResult> uid_search(std::string_view criteria);
  /// IDLE (RFC 2177): completes after idle_done() and the server's tagged OK. Updates arrive
  /// as MailboxChanges meanwhile; no other command may be sent until it completes (they queue).
  Pending<void> idle();
  /// Sends DONE for a running IDLE (no-op when none).
  void idle_done();
  [[nodiscard]] bool idling() const;
  /// NOTIFY SET <events> (RFC 5465 §3.1) with a raw event specification, e.g.
  /// "STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (PERSONAL (…))";
  /// "NONE" sends NOTIFY NONE. Errc::Capability without NOTIFY.
  Pending<void> notify(std::string_view events);
  /// A raw command line (after the tag, no literals): returns the tagged response (NO/BAD
  /// are an Errc::Protocol error). For tests and rare commands.
  Pending<imap::Tagged> raw(std::string_view command);

  /// Implementation detail (src/client/session_impl.hpp); opaque to callers.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinbox::client
