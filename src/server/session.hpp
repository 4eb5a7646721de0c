#pragma once
/// One client connection of the embedded server: the RFC 3501 §3 state machine, the
/// per-session snapshot of the selected mailbox, and the command handlers (one file per
/// command family: handle_*.cpp).
///
/// Snapshot rules (RFC 3501 §5.2, §7.4.1; RFC 7162 §3.2.10): the session keeps the UIDs in
/// sequence order as the client knows them. Changes made by other sessions (or the direct
/// store API) are read from the store by modseq (absorb()) and announced by deliver():
/// EXISTS and flag FETCHes after any command, EXPUNGE/VANISHED only when no sequence-number
/// FETCH/STORE/SEARCH/COPY is running. Until then an expunged message stays in the snapshot
/// as a "ghost" (its sequence number stays valid; fetching it returns nothing).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/net/stream.hpp>

#include "core.hpp"
#include "wire.hpp"

namespace twinbox::server {

enum class SessionState { NotAuthenticated, Authenticated, Selected, Logout };

/// The selected mailbox as this session sees it.
struct Snapshot {
  std::int64_t id = 0;
  std::string name;
  bool read_only = false;
  UidValidity uidvalidity;
  std::vector<std::uint32_t> uids;          ///< seq-1 -> UID, ascending (ghosts included)
  std::set<std::uint32_t> ghosts;           ///< expunged elsewhere, not yet announced
  std::set<std::uint32_t> pending_flags;    ///< flags changed elsewhere, not yet announced
  std::set<std::uint32_t> recent;           ///< \Recent for this session
  std::uint32_t max_uid = 0;                ///< highest UID the snapshot ever held
  std::uint32_t exists_reported = 0;        ///< EXISTS as the client knows it
  ModSeq seen_modseq;                       ///< store changes up to here are absorbed
  std::set<std::string> keywords;           ///< keywords announced in FLAGS
  bool modseq_announced = false;            ///< CONDSTORE active for this mailbox
  std::vector<std::uint32_t> saved;         ///< SEARCHRES "$" as UIDs, ascending (RFC 5182)

  /// Sequence number of a UID (1-based), 0 when absent.
  [[nodiscard]] std::uint32_t seq_of(std::uint32_t uid) const;
};

/// A command being answered in steps (a large FETCH), so output stays bounded.
class Job {
 public:
  virtual ~Job() = default;
  /// Produces more output; returns true when the command is finished (tagged reply sent).
  virtual bool step() = 0;
};

struct NotifySpec;  // handle_notify.cpp

class Session {
 public:
  Session(ServerCore& core, net::StreamPtr stream, std::uint64_t id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Sends the greeting (`* OK [CAPABILITY …]`, or `* PREAUTH` for `preauth_user`).
  void start(const std::string& preauth_user = {});
  /// Greets with BYE and closes (too many connections).
  void reject(std::string_view why);
  /// The transport is implicit TLS (no STARTTLS offered).
  void set_tls_active() { tls_active_ = true; }

  // --- event loop interface -------------------------------------------------------------
  [[nodiscard]] net::Stream& stream() { return *stream_; }
  [[nodiscard]] short wanted_events() const;
  [[nodiscard]] bool has_buffered_input() const;
  /// Reads what is available and processes complete commands; writes output.
  void on_ready();
  /// Runs timers (auth delay, idle timeout) and continues paused work.
  void on_tick(Clock::time_point now);
  /// The store changed (generation moved): IDLE and NOTIFY sessions report at once.
  void on_store_changed();
  /// Earliest time on_tick must run (auth delay / idle timeout).
  [[nodiscard]] Clock::time_point next_deadline() const;
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] std::uint64_t id() const { return id_; }
  /// Runs on_ready until the stream is drained; for serve_stdio.
  void close(std::string_view bye = {});

  // --- used by handlers and jobs ----------------------------------------------------------
  ServerCore& core() { return core_; }
  Storage& store() { return core_.store(); }
  void send(std::string_view text) { out_ += text; }
  void untagged(std::string_view text);
  void tagged(std::string_view tag, std::string_view status, std::string_view text);
  [[nodiscard]] bool output_full() const;
  [[nodiscard]] bool condstore() const { return condstore_enabled_; }
  [[nodiscard]] bool qresync() const { return qresync_enabled_; }
  Snapshot* selected() { return selected_ ? &*selected_ : nullptr; }
  [[nodiscard]] const std::string& user() const { return user_; }

  /// Reads changes from the store into the snapshot (no output).
  Status absorb();
  /// Announces absorbed changes; expunges only when allowed, flag changes unless held back
  /// (NOTIFY without FlagChange: they go out with the next command instead).
  Status deliver(bool allow_expunge, bool allow_flags = true);
  /// The session itself changed the selected mailbox with modseq `m` (absorbed first).
  void own_change(ModSeq m);
  /// Marks CONDSTORE as enabled by a CONDSTORE-enabling command (RFC 7162 §3.1).
  void enable_condstore();
  /// Resolves a sequence set / UID set against the snapshot into positions (0-based seq
  /// indexes), ascending. For UIDs, members not in the snapshot are skipped.
  std::vector<std::uint32_t> resolve(std::string_view set_text, bool uid, std::string& error);
  /// Announces FLAGS/PERMANENTFLAGS again when keywords appear that the client was not told.
  void announce_keywords(const std::vector<std::string>& flags);
  std::string flags_line() const;
  std::string permanent_flags_line() const;
  /// Fails with NO when a Storage error occurs (and logs the reason in the text).
  void storage_failure(std::string_view tag, const Error& e);

 private:
  friend struct Handlers;
  void process();
  void handle_line_mode();
  void handle_command(std::string_view cmd);
  void dispatch(std::string_view tag, std::string_view name, Cursor& c, bool uid);
  void write_out();
  void finish_idle(std::string_view line);
  void continue_authenticate(std::string_view line);
  Status notify_poll();
  Status notify_selected();
  Status notify_subscriptions();
  void notify_mailbox_names(const std::vector<MailboxInfo>& boxes);

  // handlers (handle_*.cpp)
  void cmd_capability(std::string_view tag, Cursor& c);
  void cmd_noop(std::string_view tag, Cursor& c, std::string_view name);
  void cmd_logout(std::string_view tag, Cursor& c);
  void cmd_login(std::string_view tag, Cursor& c);
  void cmd_authenticate(std::string_view tag, Cursor& c);
  void cmd_starttls(std::string_view tag, Cursor& c);
  void cmd_id(std::string_view tag, Cursor& c);
  void cmd_enable(std::string_view tag, Cursor& c);
  void cmd_namespace(std::string_view tag, Cursor& c);
  void cmd_compress(std::string_view tag, Cursor& c);
  void login_done(std::string_view tag, const std::string& user, bool ok, std::string_view how);
  /// Refuses the attempt (NO [UNAVAILABLE], no password check) while this client's address
  /// is locked out (auth_throttle.hpp); true when it answered.
  bool address_locked_out(std::string_view tag);
  /// A failed or refused login: the NO (after the per-session delay) and BYE past the limit.
  void reject_login(std::string_view tag, std::string text);

  void cmd_create(std::string_view tag, Cursor& c);
  void cmd_delete(std::string_view tag, Cursor& c);
  void cmd_rename(std::string_view tag, Cursor& c);
  void cmd_subscribe(std::string_view tag, Cursor& c, bool subscribe);
  void cmd_status(std::string_view tag, Cursor& c);
  void cmd_list(std::string_view tag, Cursor& c, bool lsub);
  void cmd_notify(std::string_view tag, Cursor& c);

  void cmd_select(std::string_view tag, Cursor& c, bool read_only);
  void cmd_close(std::string_view tag, Cursor& c, bool expunge);
  void cmd_expunge(std::string_view tag, Cursor& c, bool uid);
  void cmd_idle(std::string_view tag, Cursor& c);
  void cmd_append(std::string_view tag, Cursor& c);
  void cmd_fetch(std::string_view tag, Cursor& c, bool uid);
  void cmd_store(std::string_view tag, Cursor& c, bool uid);
  void cmd_search(std::string_view tag, Cursor& c, bool uid);
  /// Keeps a SEARCH result as "$" (RFC 5182); hits are UIDs or sequence numbers.
  void save_result(const std::vector<std::uint32_t>& hits, bool uid, bool min_max, bool everything,
                   bool min, bool max);
  void cmd_copy(std::string_view tag, Cursor& c, bool uid, bool move);

  /// Expunges the given UIDs of the selected mailbox and announces them (EXPUNGE or
  /// VANISHED); used by EXPUNGE, UID EXPUNGE, MOVE. `announce` false for CLOSE.
  Status expunge_uids(const std::vector<std::uint32_t>& uids, bool announce);
  void unselect(bool send_closed);

 public:
  /// Name resolution helpers shared by handlers.
  /// Normalises a client mailbox name: INBOX case-insensitively, trailing "/" removed.
  static std::string normalize_mailbox(std::string_view name);
  /// Checks the name is usable (valid mUTF-7, no empty components). Empty = OK.
  static std::string invalid_mailbox_reason(std::string_view name);
  std::optional<MailboxInfo> find_mailbox(std::string_view name, std::string_view tag);
  /// Builds "* STATUS name (items)" for a mailbox; items are upper-case STATUS attributes.
  Result<std::string> status_line(const MailboxInfo& mb, const std::vector<std::string>& items);

 private:
  ServerCore& core_;
  net::StreamPtr stream_;
  std::uint64_t id_;
  std::string peer_;  ///< throttling key of the client's address; empty: not throttled
  std::string in_;
  std::string out_;
  std::size_t out_pos_ = 0;
  CommandFramer framer_;
  SessionState state_ = SessionState::NotAuthenticated;
  std::string user_;
  std::optional<Snapshot> selected_;
  bool closed_ = false;
  bool close_after_flush_ = false;
  bool condstore_enabled_ = false;
  bool qresync_enabled_ = false;
  bool tls_active_ = false;
  bool compressed_ = false;
  std::uint64_t bytes_written_ = 0;

  enum class LineMode { None, Idle, Authenticate };
  LineMode line_mode_ = LineMode::None;
  std::string pending_tag_;  // IDLE / AUTHENTICATE tag

  std::unique_ptr<Job> job_;
  friend class FetchJob;

  Clock::time_point last_activity_;
  Clock::time_point paused_until_{};
  std::function<void()> after_pause_;
  std::size_t auth_failures_ = 0;
  std::uint64_t seen_generation_ = 0;

  std::unique_ptr<NotifySpec> notify_;
  std::function<void()> after_flush_;  // STARTTLS / COMPRESS switch once the OK is out
};

}  // namespace twinbox::server
