// `twinbox watch`: continuous two-way sync (sync/watch.hpp) until SIGINT or SIGTERM; SIGHUP
// reloads the config file.

#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>

#include <twinbox/cli/config.hpp>
#include <twinbox/cli/engine_options.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/events.hpp>
#include <twinbox/sync/watch.hpp>

#include "commands.hpp"
#include "log_file.hpp"

namespace twinbox::cli {
namespace {

std::atomic<sync::WatchControl*> g_control{nullptr};

void on_watch_signal(int sig) {
  sync::WatchControl* c = g_control.load();
  if (c == nullptr) return;
  if (sig == SIGHUP) {
    c->request_reload();
  } else {
    c->request_stop();
  }
}

void install_handlers(sync::WatchControl& control) {
  g_control.store(&control);
  struct sigaction sa {};
  sa.sa_handler = on_watch_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

/// The Reporter as the engine's observer: sync rounds run on a worker thread while other
/// output comes from run_watch's thread, so every event is written under the output mutex.
class LockedObserver : public sync::SyncObserver {
 public:
  LockedObserver(sync::SyncObserver& inner, std::mutex& mu) : inner_(inner), mu_(mu) {}
  void run_planned(const sync::PlanTotals& t) override {
    std::lock_guard lock(mu_);
    inner_.run_planned(t);
  }
  [[nodiscard]] bool wants_run_totals() const override {
    std::lock_guard lock(mu_);
    return inner_.wants_run_totals();
  }
  void mailbox_started(std::string_view m, const sync::PlanTotals& p) override {
    std::lock_guard lock(mu_);
    inner_.mailbox_started(m, p);
  }
  void message_copied(std::string_view m, Side to, Uid from, Uid uid, std::uint64_t bytes) override {
    std::lock_guard lock(mu_);
    inner_.message_copied(m, to, from, uid, bytes);
  }
  void message_moved(std::string_view from, std::string_view to, Side side, Uid uid) override {
    std::lock_guard lock(mu_);
    inner_.message_moved(from, to, side, uid);
  }
  void message_expunged(std::string_view m, Side side, Uid uid) override {
    std::lock_guard lock(mu_);
    inner_.message_expunged(m, side, uid);
  }
  void flags_changed(std::string_view m, Side side, Uid uid, sync::FlagOp op,
                     const sync::Flags& flags) override {
    std::lock_guard lock(mu_);
    inner_.flags_changed(m, side, uid, op, flags);
  }
  void mailbox_finished(const sync::MailboxReport& r) override {
    std::lock_guard lock(mu_);
    inner_.mailbox_finished(r);
  }

 private:
  sync::SyncObserver& inner_;
  std::mutex& mu_;
};

Result<sync::WatchOptions> watch_options(const std::string& path, const WatchArgs& args,
                                         sync::SyncObserver* observer) {
  auto config = load_config(path);
  if (!config) return config.error();
  RunFlags flags;
  flags.debug = args.debug;
  auto mu = std::make_shared<std::mutex>();
  flags.trace = [mu](Side side, std::string_view line) {
    std::lock_guard lock(*mu);
    std::cerr << (side == Side::Local ? "local  " : "remote ") << line << '\n';
  };
  auto engine = engine_options(*config, flags);
  if (!engine) return engine.error();
  sync::WatchOptions o;
  o.engine = std::move(*engine);
  o.engine.observer = observer;
  o.poll_interval = config->sync.poll_interval;
  o.idle_connections = config->sync.idle_connections;
  return o;
}

}  // namespace

int watch_command(const WatchArgs& args) {
  Reporter reporter(std::cout, std::cerr, args.verbosity, args.json);
  auto fail_with = [&](const Error& e) {
    reporter.error(e);
    return to_int(exit_code_for(e.code));
  };
  std::optional<LogFile> log_file;
  if (auto st = open_log_file(reporter, args.log_file, log_file); !st) return fail_with(st.error());
  auto path = config_path(args.config);
  if (!path) return fail_with(path.error());
  reporter.note("watch started: config " + *path);
  std::mutex out_mu;  // callbacks run on run_watch's thread; log lines may come from a worker
  LockedObserver observer(reporter, out_mu);
  auto options = watch_options(*path, args, &observer);
  if (!options) return fail_with(options.error());

  sync::WatchControl control;
  control.on_round = [&](const sync::WatchRound& round) {
    std::lock_guard lock(out_mu);
    if (!round.result) {
      reporter.error(round.result.error());
      return;
    }
    reporter.report(*round.result, false);
    const bool partial = round.result->partial();
    if (round.result->changed() || partial || args.json) {
      reporter.summary(&*round.result, false, partial ? ExitCode::Partial : ExitCode::Ok,
                       round.duration);
    }
  };
  control.on_watching = [&] {
    std::lock_guard lock(out_mu);
    reporter.log("watching both sides for changes", false);
  };
  control.reload = [&]() -> Result<sync::WatchOptions> {
    auto fresh = watch_options(*path, args, &observer);
    std::lock_guard lock(out_mu);
    reporter.log(fresh ? "config reloaded" : "config reload failed: " + fresh.error().message,
                 false);
    return fresh;
  };
  install_handlers(control);
  auto st = sync::run_watch(*options, [&](std::string_view line) {
    std::lock_guard lock(out_mu);
    reporter.log(line, false);
  }, control);
  g_control.store(nullptr);
  if (!st) return fail_with(st.error());
  return 0;
}

}  // namespace twinbox::cli
