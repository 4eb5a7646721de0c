#pragma once
// Output of `twinbox sync` (and watch, demo): plain lines for people, or one JSON object per
// line for scripts (`--json`, schema in twinbox(1) "JSON OUTPUT"); optionally also a log file
// (--log-file) and a live progress display on a terminal. Private to the cli layer.
//
// The Reporter is the run's sync::SyncObserver: progress events become JSON events, text lines
// (-v: mailbox starts; -vv: every message), log file lines and progress display updates.
// What goes where:
//   stdout   results: per-mailbox lines and the summary (text), or every JSON event
//   stderr   errors and problems (also in JSON mode, as text, so a cron mail shows them),
//            the progress display
//   log file every step, mailbox start, result, problem, error and summary, timestamped;
//            messages too with -vv. Independent of --quiet and --json.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <twinbox/base/error.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/engine.hpp>
#include <twinbox/sync/events.hpp>

namespace twinbox::cli {

/// -q, default, -v, -vv.
enum class Verbosity { Quiet, Normal, Verbose, Messages };

class LogFile;
class ProgressDisplay;

class Reporter : public sync::SyncObserver {
 public:
  /// `out` gets results (stdout), `err` errors and diagnostics (stderr). In JSON mode every
  /// event goes to `out`, errors as well, and errors also to `err` as text.
  Reporter(std::ostream& out, std::ostream& err, Verbosity verbosity, bool json);

  /// Also write events to `log` (not owned; nullptr to stop).
  void attach_log(LogFile* log) { log_ = log; }
  /// Route text written during the run around `progress` (not owned; nullptr to stop).
  void attach_progress(ProgressDisplay* progress) { progress_ = progress; }

  /// A line for the log file only ("sync started", ...).
  void note(std::string_view line);
  /// A progress line from the engine (creations, renames, UIDVALIDITY changes…): text mode
  /// prints it with --verbose, or always in a dry run (it is the plan); JSON mode always.
  void log(std::string_view line, bool dry_run);
  /// The per-mailbox lines and problems of a finished run.
  void report(const sync::SyncReport& report, bool dry_run);
  /// A run-ending error.
  void error(const Error& e);
  /// The last line. `exit` is the status the process ends with.
  void summary(const sync::SyncReport* report, bool dry_run, ExitCode exit,
               std::chrono::steady_clock::duration elapsed);

  // sync::SyncObserver
  void run_planned(const sync::PlanTotals& totals) override;
  /// The totals show on the progress display, in --json, at -v and in the log file.
  [[nodiscard]] bool wants_run_totals() const override;
  void mailbox_started(std::string_view mailbox, const sync::PlanTotals& plan) override;
  void message_copied(std::string_view mailbox, Side to, Uid source_uid, Uid uid,
                      std::uint64_t bytes) override;
  void message_moved(std::string_view from, std::string_view to, Side side, Uid uid) override;
  void message_expunged(std::string_view mailbox, Side side, Uid uid) override;
  void flags_changed(std::string_view mailbox, Side side, Uid uid, sync::FlagOp op,
                     const sync::Flags& flags) override;
  void mailbox_finished(const sync::MailboxReport& report) override;

  /// "local <- 3 copied, 1 flag change, 0 expunged, 0 moved | remote <- …"
  static std::string format_counts(const PerSide<sync::Counts>& to);

 private:
  void json_line(const std::string& line);
  /// A text line to `os` (around the progress display when one is shown).
  void text(std::ostream& os, std::string_view line);
  /// A step-level event: text with -v, log file always.
  void step(std::string_view line);
  /// A message-level event: text and log file with -vv.
  void message(std::string_view line);
  std::ostream& out_;
  std::ostream& err_;
  Verbosity verbosity_;
  bool json_;
  LogFile* log_ = nullptr;
  ProgressDisplay* progress_ = nullptr;
};

/// "1.2 MiB", "830 B".
std::string format_bytes(std::uint64_t bytes);

/// --log-file: when `path` is not empty, opens it into `slot` (which must outlive the
/// reporter's use of it) and attaches it to `reporter`. Errc::Config when it cannot be opened.
Status open_log_file(Reporter& reporter, const std::string& path, std::optional<LogFile>& slot);

}  // namespace twinbox::cli
