#pragma once
// Output of `twinbox sync` (and the demo): plain lines for people, or one JSON object per
// line for scripts (`--json`, schema in twinbox(1) "JSON OUTPUT"). Private to the cli layer.

#include <chrono>
#include <ostream>
#include <string_view>

#include <twinbox/base/error.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/engine.hpp>

namespace twinbox::cli {

enum class Verbosity { Quiet, Normal, Verbose };

class Reporter {
 public:
  /// `out` gets results (stdout), `err` errors and diagnostics (stderr). In JSON mode every
  /// event goes to `out`, errors as well, and errors also to `err` as text (so a cron mail
  /// still shows them).
  Reporter(std::ostream& out, std::ostream& err, Verbosity verbosity, bool json);

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

  /// "local <- 3 copied, 1 flag change, 0 expunged, 0 moved | remote <- …"
  static std::string format_counts(const PerSide<sync::Counts>& to);

 private:
  void json_line(const std::string& line);
  std::ostream& out_;
  std::ostream& err_;
  Verbosity verbosity_;
  bool json_;
};

/// "1.2 MiB", "830 B".
std::string format_bytes(std::uint64_t bytes);

}  // namespace twinbox::cli
