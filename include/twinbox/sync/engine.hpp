#pragma once
/// One `twinbox sync` run (DESIGN.md "Data flow of one sync"): connect both endpoints, pair
/// the mailbox lists, read each changed pair's deltas, find cross-mailbox moves, reconcile,
/// execute, record. The CLI turns its report into output lines and an exit code.
///
/// Per-mailbox failures (Scope::Mailbox or Message) stop that mailbox only: they are in the
/// report and the run goes on. Connection, authentication, TLS and state failures end the run
/// with an Error.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/client/connect.hpp>
#include <twinbox/sync/mailboxes.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync {

class SyncObserver;  // events.hpp

struct EngineOptions {
  PerSide<client::EndpointOptions> endpoints;
  std::string state_path;
  ListPolicy list;
  Policy policy;
  /// Print the plan, change nothing on either server and nothing in the state.
  bool dry_run = false;
  /// Only these mailboxes (canonical names, '/' separated, as the user types them); empty = all.
  std::vector<std::string> only;
  /// Bound of every wait on a server (per round trip, not per run).
  std::chrono::milliseconds timeout{120'000};
  /// fsync every state commit (state::OpenOptions::durable). false survives a crashed
  /// process but maybe not a power cut (tests, benchmarks).
  bool durable_state = true;
  /// Bytes of message bodies being fetched, or fetched and not yet written to the target
  /// (the copy window; see executor.hpp). 2 MiB keep both servers busy on loopback and the peak RSS low.
  std::uint64_t copy_window = 2u << 20;
  /// New messages read per pass in one mailbox when the other side has nothing new (a first
  /// sync, a large import): more are read and copied in UID windows of about this many, one
  /// pass each, so memory does not grow with the mailbox (issue 8). 0 = all at once.
  std::uint32_t new_per_pass = 4096;
  /// Progress events (events.hpp), or none. Not owned; must outlive run_sync().
  SyncObserver* observer = nullptr;
};

/// Counts of one direction: what was done TO that side.
struct Counts {
  std::uint64_t copied = 0;
  std::uint64_t flags = 0;
  std::uint64_t expunged = 0;
  std::uint64_t moved = 0;
  std::uint64_t bytes = 0;
  /// Expunges that could only set \Deleted: the side has no UIDPLUS, so no UID EXPUNGE, and a
  /// plain EXPUNGE would also remove other messages marked \Deleted. The messages stay there
  /// and the run reports them as a problem (the user's mail client expunges them).
  std::uint64_t marked = 0;
  [[nodiscard]] bool any() const { return copied || flags || expunged || moved; }
  Counts& operator+=(const Counts& o);
};

struct MailboxReport {
  std::string name;             ///< canonical name
  PerSide<Counts> to;           ///< work done to each side
  bool created = false;         ///< created on one side this run
  std::string error;            ///< non-empty: this mailbox stopped (partial failure)
  std::vector<std::string> plan;  ///< dry run: the actions that would be carried out
};

struct SyncReport {
  std::vector<MailboxReport> mailboxes;     ///< pairs that changed, failed or were planned
  std::vector<MailboxProblem> problems;     ///< mailbox-list problems (deletions, names)
  PerSide<Counts> total;
  std::size_t mailboxes_checked = 0;
  std::size_t mailboxes_skipped_unchanged = 0;
  PerSide<std::uint64_t> commands;  ///< IMAP commands sent per side after login
  [[nodiscard]] bool partial() const;
  [[nodiscard]] bool changed() const;
};

/// Log lines for the user (already formatted, one event each).
using LogFn = std::function<void(std::string_view line)>;

/// Runs one sync. Errors: Errc::Conflict (another run holds the state), Errc::Storage,
/// Errc::Network / Timeout / Tls / Auth / AuthRetry / Closed (a connection), Errc::Config.
Result<SyncReport> run_sync(const EngineOptions& options, const LogFn& log);

/// Logged-in connections that outlive one run (watch mode, watch.hpp), so that a run after
/// the first costs no connect, TLS handshake or login.
struct SyncConnections {
  /// Set: used by the next run (unless broken). Empty: that run connects that side.
  PerSide<std::unique_ptr<client::Session>> session;
};

/// run_sync with kept connections: takes the sessions in `keep` (connecting the missing
/// ones) and, after a successful run, puts them back unselected instead of logging out. An
/// error after connecting closes them and leaves `keep` empty (a connection in an unknown
/// state is never reused; the next run connects afresh); an error before (the state lock)
/// leaves `keep` as it was. The same steps as run_sync otherwise.
Result<SyncReport> run_sync(const EngineOptions& options, const LogFn& log, SyncConnections& keep);

}  // namespace twinbox::sync
