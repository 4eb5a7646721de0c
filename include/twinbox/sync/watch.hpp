#pragma once
/// `twinbox watch`: continuous two-way sync (PROTOCOL.md §1.11, issue 7).
///
/// Model
/// - Sync rounds go through the same engine as `twinbox sync` (run_sync with
///   SyncConnections, engine.hpp), one at a time, on a worker thread: each round opens the
///   state (taking its lock), syncs `EngineOptions::only` (the affected mailboxes, canonical
///   names; empty = all) and closes the state again. The two sync connections stay logged in
///   between rounds (no connect, TLS or login per round): while no round runs, the loop reads
///   and discards what the server sends on them, sends a NOOP after `watchdog` of silence
///   (answer due within `watchdog_timeout`) and drops a connection that fails, is closed, or
///   whose side's watcher connection was lost; the next round connects it again. A round that
///   fails on a connection it reused is retried at once with fresh ones.
/// - Separately, the watcher keeps its own long-lived connections only to notice changes:
///   * a side whose server offers NOTIFY gets one connection with
///     `NOTIFY SET STATUS (PERSONAL (MessageNew MessageExpunge FlagChange MailboxName
///     SubscriptionChange))` (RFC 5465 §3.1); the partial STATUS lines it sends are merged
///     into a cached per-mailbox state; LIST lines (mailbox created, renamed, deleted,
///     subscribed) ask for a full round; `OK [NOTIFICATIONOVERFLOW]` (§5.8) switches the side
///     to IDLE and polling. That connection does not IDLE: with NOTIFY active the server
///     sends events while no command runs (Dovecot and the embedded server do), and the
///     watchdog NOOP and the poll cover a server that would hold them;
///   * otherwise IDLE (RFC 2177) on INBOX, and on up to `idle_connections` further mailboxes
///     with extra connections (special-use \Sent, \Drafts, \Archive first);
///   * on every side, a LIST-STATUS poll of all mailboxes every `poll_interval` as a safety
///     net (PROTOCOL.md §1.11 on Dovecot NOTIFY missing LDA deliveries).
///   A mailbox is dirty when an event names it, or when its UIDVALIDITY / UIDNEXT /
///   HIGHESTMODSEQ differs from what the state database recorded after the last round (the
///   engine's skip rule: echoes of our own writes are not dirty).
/// - Start with a full round; later rounds run `debounce` after the last event (at most
///   `debounce_max` after the first one) for the dirty mailboxes only. A full round follows a
///   mailbox-list event, a notification overflow, a suspend (CLOCK_BOOTTIME moving ahead of
///   CLOCK_MONOTONIC) or a reconnect after more than `poll_interval`.
/// - Liveness: IDLE is restarted every `idle_restart` (RFC 2177: before 29 minutes); every
///   `watchdog` a NOOP must be answered within `watchdog_timeout`; TCP keepalive is on (net
///   layer). A dead or broken side is reconnected with exponential backoff and jitter between
///   `backoff_min` and `backoff_max`; rounds wait until both sides are connected.
/// - Errors of a round: Errc::Conflict (another run holds the state) and connection errors are
///   retried with backoff; Errc::Auth, Errc::Config, Errc::Storage and Errc::Internal end
///   run_watch with that error (a service manager restarts it later).
/// - Memory is flat: the caches hold one entry per mailbox, replaced, never appended.
/// - Threads: run_watch runs on the caller's thread plus one worker thread per round.
///   WatchControl::request_stop()/request_reload() may be called from any thread and from a
///   signal handler; the callbacks run on run_watch's thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/sync/engine.hpp>

namespace twinbox::sync {

struct WatchOptions {
  EngineOptions engine;  ///< `only` is ignored (set per round)
  /// LIST-STATUS poll of every mailbox on each side (the safety net).
  std::chrono::milliseconds poll_interval{60'000};
  /// Extra IDLE connections per side (servers without NOTIFY), beyond the one on INBOX.
  unsigned idle_connections = 0;
  /// Use NOTIFY where the server offers it (false: IDLE + polling everywhere).
  bool use_notify = true;
  /// Quiet time after the last event before a round starts (events of one burst share a
  /// round; a round with kept connections costs tens of milliseconds on a LAN)…
  std::chrono::milliseconds debounce{50};
  /// …but no later than this after the first event of the batch.
  std::chrono::milliseconds debounce_max{1'000};
  /// IDLE is ended and re-issued after this long (RFC 2177 §3: before 29 minutes).
  std::chrono::milliseconds idle_restart{25 * 60'000};
  /// A NOOP goes out on every watch connection this often…
  std::chrono::milliseconds watchdog{5 * 60'000};
  /// …and (like IDLE's DONE) must be answered within this, else the connection is dead.
  std::chrono::milliseconds watchdog_timeout{30'000};
  /// Bound on connecting and logging in a watch connection.
  std::chrono::milliseconds connect_timeout{30'000};
  /// Reconnect / retry delays: exponential from min to max, with jitter.
  std::chrono::milliseconds backoff_min{1'000};
  std::chrono::milliseconds backoff_max{5 * 60'000};
  /// A suspend longer than this (CLOCK_BOOTTIME - CLOCK_MONOTONIC) forces reconnects and a
  /// full round.
  std::chrono::milliseconds suspend_threshold{10'000};
  /// Total time the machine has been suspended so far, read every loop turn; a rise of at
  /// least suspend_threshold between two reads is a suspend (or a clock jump). Empty: the
  /// system's CLOCK_BOOTTIME - CLOCK_MONOTONIC. Tests inject a clock here.
  std::function<std::chrono::milliseconds()> suspended_clock;
};

/// One completed (or failed) sync round, as WatchControl::on_round sees it.
struct WatchRound {
  std::uint64_t number = 0;           ///< 1 = the initial full round
  bool full = false;                  ///< all mailboxes (else `mailboxes`)
  std::vector<std::string> mailboxes; ///< canonical names synced (empty when full)
  std::string reason;                 ///< why it ran ("start", "event", "poll", "reconnect", …)
  Result<SyncReport> result{SyncReport{}};
  std::chrono::milliseconds duration{0};
};

/// Lets a caller stop and observe run_watch, and reload its options.
class WatchControl {
 public:
  WatchControl();
  ~WatchControl();
  WatchControl(const WatchControl&) = delete;
  WatchControl& operator=(const WatchControl&) = delete;

  /// Asks run_watch to finish the step in progress, log out and return success.
  /// Async-signal-safe and thread-safe.
  void request_stop() noexcept;
  /// Asks run_watch to call `reload` and restart with the new options (SIGHUP).
  /// Async-signal-safe and thread-safe.
  void request_reload() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept { return stop_.load(); }

  /// Called after every round (also failed ones).
  std::function<void(const WatchRound&)> on_round;
  /// Called whenever every watch connection of both sides is up and watching (after the
  /// start and after each reconnect).
  std::function<void()> on_watching;
  /// Returns the new options on request_reload(); an error keeps the old ones (logged).
  std::function<Result<WatchOptions>()> reload;

  /// The fd run_watch polls for stop/reload requests (an eventfd); for run_watch only.
  [[nodiscard]] int wake_fd() const noexcept { return fd_; }
  /// Reads the pending requests and clears them (for run_watch).
  bool take_reload() noexcept;
  void drain() noexcept;

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
};

/// Runs until control.request_stop(): see the model above. Returns success after a stop;
/// an error only for the fatal kinds listed above (and a first connection that fails with
/// Errc::Auth or Errc::Config).
Status run_watch(const WatchOptions& options, const LogFn& log, WatchControl& control);

}  // namespace twinbox::sync
