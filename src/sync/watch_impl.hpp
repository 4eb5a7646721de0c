#pragma once
// Private parts of watch mode (watch.hpp): the per-side change detector (watch_side.cpp) and
// small helpers shared with the loop (watch.cpp).

#include <poll.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <twinbox/client/session.hpp>
#include <twinbox/sync/mailboxes.hpp>
#include <twinbox/sync/watch.hpp>

namespace twinbox::sync::watch_detail {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// A mailbox's state as the watcher last heard it (partial NOTIFY STATUS lines merged).
struct MailboxStatus {
  std::optional<UidValidity> uidvalidity;
  std::optional<Uid> uidnext;
  std::optional<ModSeq> highestmodseq;
  std::optional<std::uint32_t> messages;
  bool selectable = true;
  bool is_virtual = false;
  std::string special_use;
  bool operator==(const MailboxStatus&) const = default;
};

/// Merges the items present in `s` (RFC 5465 §5: event STATUS lines may be partial).
/// Returns true when something changed.
bool merge_status(MailboxStatus& into, const imap::StatusData& s);

/// The engine's canonical name of a wire name ('/' joined; the wire name when it cannot be
/// decoded), the form EngineOptions::only takes.
std::string canonical_name(const std::string& wire, const Namespace& ns);
/// True when the list policy's include patterns match `canonical` and no exclude does.
bool policy_selects(const ListPolicy& policy, std::string_view canonical);

/// Exponential backoff with jitter: each next() doubles the base (from min, capped at max)
/// and returns a delay uniformly drawn from [base/2, base].
class Backoff {
 public:
  Backoff(milliseconds min, milliseconds max) : min_(min), max_(max), base_(min) {}
  milliseconds next(std::minstd_rand& rng);
  void reset() { base_ = min_; }

 private:
  milliseconds min_, max_, base_;
};

/// What one side noticed during a processing step.
struct SideEvents {
  /// Wire names whose state may have changed: (name, from_status) where from_status says the
  /// cache holds their new status (NOTIFY / poll), so the loop may compare it with the state
  /// database (echo suppression); false for IDLE events (always dirty).
  std::vector<std::pair<std::string, bool>> changed;
  bool list_changed = false;  ///< a mailbox appeared, vanished or was renamed: full round
  bool overflow = false;      ///< NOTIFICATIONOVERFLOW
  bool polled = false;        ///< a LIST-STATUS poll completed (compare everything)
};

enum class ConnState { Ready, Idling, Ending, Busy };

struct WatchConn {
  std::unique_ptr<client::Session> session;
  std::string mailbox;  ///< wire name under IDLE; "" for the control connection
  bool control = false;
  ConnState state = ConnState::Ready;
  client::Pending<void> idle;
  Clock::time_point idle_since{};
  Clock::time_point ending_since{};
  client::Pending<void> noop;
  Clock::time_point noop_sent{};
  Clock::time_point last_noop{};
  client::Pending<std::vector<client::ListEntry>> list;
  Clock::time_point list_sent{};
};

/// The change detector of one side: a control connection (LIST-STATUS polls; NOTIFY or IDLE
/// on INBOX) plus optional extra IDLE connections. Single-threaded.
class SideWatch {
 public:
  SideWatch(Side side, const WatchOptions& options, const LogFn& log);
  ~SideWatch();

  /// Connects and sets up every connection (blocking, each step bounded by
  /// options.connect_timeout). Fills the cache from a first LIST-STATUS and reports it as a
  /// poll in `ev`. On error nothing stays connected.
  Status connect(SideEvents& ev);
  /// Drops every connection; with `logout`, LOGOUT first (bounded by watchdog_timeout).
  void disconnect(bool logout);
  [[nodiscard]] bool up() const { return !conns_.empty(); }
  [[nodiscard]] bool notify_mode() const { return notify_; }
  /// After NOTIFICATIONOVERFLOW: reconnect without NOTIFY.
  void disable_notify() { notify_allowed_ = false; }

  /// Appends the pollfds of this side's sessions; `ready_now` is set when one can progress
  /// without polling.
  void add_pollfds(std::vector<pollfd>& fds, bool& ready_now) const;
  /// Handles I/O (fds as returned by poll, in the order add_pollfds put them, starting at
  /// `first`) and timers; collects events. An error means the side is dead.
  Status process(const std::vector<pollfd>& fds, std::size_t first, Clock::time_point now,
                 SideEvents& ev);
  /// The earliest time process() has something to do without I/O.
  [[nodiscard]] Clock::time_point next_timer() const;
  /// Asks for a LIST-STATUS poll as soon as possible.
  void request_poll() { poll_requested_ = true; }

  [[nodiscard]] const Namespace& ns() const { return ns_; }
  [[nodiscard]] const std::map<std::string, MailboxStatus>& cache() const { return cache_; }
  [[nodiscard]] std::string describe_mode() const;

 private:
  Status setup_control(WatchConn& c, SideEvents& ev, net::Deadline deadline);
  Result<std::unique_ptr<client::Session>> open_session() const;
  void apply_list(const std::vector<client::ListEntry>& entries, SideEvents& ev);
  void collect_changes(WatchConn& c, SideEvents& ev);
  Status step(WatchConn& c, Clock::time_point now, SideEvents& ev);
  static bool has_work(const WatchConn& c);
  std::vector<std::string> idle_targets() const;
  void log(const std::string& line) const;

  Side side_;
  const WatchOptions& opt_;
  const LogFn& log_;
  std::vector<WatchConn> conns_;
  bool notify_ = false;
  bool notify_allowed_ = true;
  bool poll_requested_ = false;
  Clock::time_point last_poll_{};
  Namespace ns_;
  std::map<std::string, MailboxStatus> cache_;
};

}  // namespace twinbox::sync::watch_detail
