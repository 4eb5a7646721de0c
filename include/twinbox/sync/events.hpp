#pragma once
/// Progress events of one sync run, for the CLI's live progress display, `--json` events and
/// `--log-file` (DESIGN.md: the cli layer owns all output; the sync layer only reports).
///
/// Contract: the engine calls the optional SyncObserver of EngineOptions as work *completes*
/// (a message is reported copied once its APPEND was answered and its pair committed, never
/// before). Calls come from the thread that runs run_sync(), one at a time, in the order the
/// work was done. An observer must not throw and should return quickly: it runs between IMAP
/// round trips. Mailbox names are canonical (UTF-8, '/' separated), never wire names.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/sync/plan.hpp>

namespace twinbox::sync {

struct MailboxReport;  // engine.hpp
struct MailboxInput;   // reconcile.hpp

/// What a plan will do to each side; for a whole run, `mailboxes` counts the pairs it syncs
/// (those that changed since the last run; unchanged ones are skipped before this).
struct PlanTotals {
  PerSide<std::uint64_t> copies{};    ///< messages to copy TO each side
  PerSide<std::uint64_t> bytes{};     ///< their size (RFC822.SIZE)
  PerSide<std::uint64_t> flags{};     ///< messages whose flags change on each side
  PerSide<std::uint64_t> expunges{};  ///< messages to expunge on each side
  std::size_t mailboxes = 0;

  [[nodiscard]] std::uint64_t all_copies() const { return copies[Side::Local] + copies[Side::Remote]; }
  [[nodiscard]] std::uint64_t all_bytes() const { return bytes[Side::Local] + bytes[Side::Remote]; }
  PlanTotals& operator+=(const PlanTotals& o);
};

/// The totals of one mailbox pair's plan (pure).
[[nodiscard]] PlanTotals totals_of(const Plan& plan);
/// The totals of a run: reconciles every input (pure; the reconciler is cheap next to I/O).
[[nodiscard]] PlanTotals totals_of(const std::vector<MailboxInput>& inputs);

/// How a flag store changed a message's flags: replaced by `flags` (CONDSTORE compare-and-set),
/// or `flags` added / removed.
enum class FlagOp { Set, Add, Remove };
[[nodiscard]] std::string_view to_string(FlagOp op);

class SyncObserver {
 public:
  virtual ~SyncObserver() = default;
  /// Once per run, before any message is copied: what the run is going to do (moves excluded).
  virtual void run_planned(const PlanTotals& /*totals*/) {}
  /// Whether run_planned() is shown anywhere. A first sync reads each mailbox at its turn; its
  /// totals need every mailbox read once more up front (on Dovecot maildir about 7 % of the
  /// run), so the engine reads them only for an observer that shows them (issue 8).
  [[nodiscard]] virtual bool wants_run_totals() const { return true; }
  /// A mailbox pair's work begins; `plan` is its first pass (a confirming pass may add a little).
  virtual void mailbox_started(std::string_view /*mailbox*/, const PlanTotals& /*plan*/) {}
  /// Message `source_uid` was appended to side `to` as `uid` (invalid without APPENDUID).
  virtual void message_copied(std::string_view /*mailbox*/, Side /*to*/, Uid /*source_uid*/,
                              Uid /*uid*/, std::uint64_t /*bytes*/) {}
  /// Message `uid` was moved on `side` from mailbox `from` to mailbox `to` (UID MOVE).
  virtual void message_moved(std::string_view /*from*/, std::string_view /*to*/, Side /*side*/,
                             Uid /*uid*/) {}
  /// Message `uid` was expunged on `side` (or only marked \Deleted without UIDPLUS).
  virtual void message_expunged(std::string_view /*mailbox*/, Side /*side*/, Uid /*uid*/) {}
  virtual void flags_changed(std::string_view /*mailbox*/, Side /*side*/, Uid /*uid*/,
                             FlagOp /*op*/, const Flags& /*flags*/) {}
  /// A mailbox pair's work ended (successfully or not: see report.error).
  virtual void mailbox_finished(const MailboxReport& /*report*/) {}
};

/// Reports executed moves (Engine helper): `display` maps mailbox keys to canonical names.
void notify_moves(SyncObserver& observer, const std::vector<Move>& moves,
                  const std::map<MailboxKey, std::string>& display);

}  // namespace twinbox::sync
