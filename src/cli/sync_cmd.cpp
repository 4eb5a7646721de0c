// `twinbox sync`: load the config, run the engine once, print the report, pick the exit code.

#include <unistd.h>

#include <iostream>
#include <memory>
#include <mutex>
#include <optional>

#include <twinbox/base/error.hpp>
#include <twinbox/cli/config.hpp>
#include <twinbox/cli/engine_options.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/engine.hpp>

#include "commands.hpp"
#include "log_file.hpp"
#include "progress.hpp"

namespace twinbox::cli {

Result<std::string> config_path(const std::string& path) {
  if (!path.empty()) return path;
  return default_config_path();
}

namespace {

/// Protocol trace to stderr, one line per event, prefixed by the side. The engine connects
/// both sides from two threads, so lines are serialised.
SideTraceFn stderr_trace() {
  auto mu = std::make_shared<std::mutex>();
  return [mu](Side side, std::string_view line) {
    std::lock_guard lock(*mu);
    std::cerr << (side == Side::Local ? "local  " : "remote ") << line << '\n';
  };
}

}  // namespace

int sync_command(const SyncArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  Reporter reporter(std::cout, std::cerr, args.verbosity, args.json);
  auto fail_with = [&](const Error& e) {
    reporter.error(e);
    const ExitCode code = exit_code_for(e.code);
    reporter.summary(nullptr, args.dry_run, code, std::chrono::steady_clock::now() - start);
    return to_int(code);
  };
  std::optional<LogFile> log_file;
  if (auto st = open_log_file(reporter, args.log_file, log_file); !st) return fail_with(st.error());

  auto path = config_path(args.config);
  if (!path) return fail_with(path.error());
  reporter.note(std::string(args.dry_run ? "dry run" : "sync") + " started: config " + *path);
  auto config = load_config(*path);
  if (!config) return fail_with(config.error());

  RunFlags flags;
  flags.dry_run = args.dry_run;
  flags.allow_mass_delete = args.allow_mass_delete;
  flags.only = args.mailboxes;
  flags.debug = args.debug;
  flags.trace = stderr_trace();
  auto options = engine_options(*config, flags);
  if (!options) return fail_with(options.error());
  options->observer = &reporter;

  // The live display only on a terminal, and not when the trace writes to the same stderr.
  const bool trace = args.debug || config->endpoints[Side::Local].debug ||
                     config->endpoints[Side::Remote].debug;
  std::unique_ptr<ProgressDisplay> progress;
  if (progress_wanted(args.verbosity == Verbosity::Quiet, args.json, trace)) {
    progress = std::make_unique<ProgressDisplay>(STDERR_FILENO);
    reporter.attach_progress(progress.get());
  }
  auto report = sync::run_sync(*options, [&](std::string_view line) {
    reporter.log(line, args.dry_run);
  });
  if (progress) {
    progress->finish();
    reporter.attach_progress(nullptr);
  }
  if (!report) return fail_with(report.error());

  reporter.report(*report, args.dry_run);
  ExitCode code = ExitCode::Ok;
  if (report->partial()) {
    code = ExitCode::Partial;
  } else if (args.exit_code && report->changed() && !args.dry_run) {
    code = ExitCode::Changed;
  }
  reporter.summary(&*report, args.dry_run, code, std::chrono::steady_clock::now() - start);
  return to_int(code);
}

}  // namespace twinbox::cli
