// `twinbox watch`: the loop (watch.hpp). Change detection is in watch_side.cpp; every sync
// round is one run_sync() on a worker thread, with the sync connections kept between rounds.

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include <twinbox/state/store.hpp>

#include "watch_impl.hpp"

namespace twinbox::sync {

// ---- WatchControl -----------------------------------------------------------------------------

WatchControl::WatchControl() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  TWINBOX_ASSERT(fd_ >= 0, "eventfd() failed (out of file descriptors?)");
}

WatchControl::~WatchControl() {
  if (fd_ >= 0) ::close(fd_);
}

void WatchControl::request_stop() noexcept {
  stop_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);  // async-signal-safe
}

void WatchControl::request_reload() noexcept {
  reload_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

bool WatchControl::take_reload() noexcept { return reload_.exchange(false); }

void WatchControl::drain() noexcept {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
}

namespace {

using namespace watch_detail;
using std::chrono::duration_cast;

/// Time spent suspended so far: CLOCK_BOOTTIME counts suspend, CLOCK_MONOTONIC does not.
milliseconds system_suspended_so_far() {
  timespec b{}, m{};
  ::clock_gettime(CLOCK_BOOTTIME, &b);
  ::clock_gettime(CLOCK_MONOTONIC, &m);
  auto ns = (static_cast<long long>(b.tv_sec) - m.tv_sec) * 1'000'000'000LL + (b.tv_nsec - m.tv_nsec);
  return milliseconds(ns / 1'000'000);
}

/// Errors after which retrying cannot help: the user has to act.
bool fatal(const Error& e) {
  return e.code == Errc::Auth || e.code == Errc::Config || e.code == Errc::Storage ||
         e.code == Errc::Internal;
}

std::string seconds_text(milliseconds d) {
  auto tenths = (d.count() + 50) / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

/// What the next round has to cover.
struct Dirty {
  bool full = false;
  std::set<std::string> names;  ///< canonical
  std::string reason;
  Clock::time_point first{}, last{};
  [[nodiscard]] bool any() const { return full || !names.empty(); }
};

/// How an event names a mailbox (strongest last): a poll of a known pair, a status change
/// (NOTIFY / poll of a changed mailbox), an IDLE event.
enum class CandidateKind { PollKnown = 0, Status = 1, Idle = 2 };

/// The engine's skip rule (engine.cpp `unchanged`) for one side: equal UIDVALIDITY, UIDNEXT
/// and a non-zero HIGHESTMODSEQ mean nothing happened there since the last round.
bool same_as_stored(const MailboxStatus& st, const state::SideState& stored) {
  return st.uidvalidity && st.uidnext && st.highestmodseq && st.highestmodseq->value != 0 &&
         *st.uidvalidity == stored.uidvalidity && *st.uidnext == stored.uidnext &&
         *st.highestmodseq == stored.highestmodseq;
}

struct Round {
  std::thread thread;
  EngineOptions options;
  WatchRound info;
  Clock::time_point started{};
  Dirty covered;
  bool reused = false;  ///< started with a kept sync connection
};

/// Bookkeeping of one kept sync connection while no round runs.
struct KeptSync {
  client::Pending<void> noop;  ///< keepalive in flight
  Clock::time_point noop_sent{};
  Clock::time_point last_used{};
};

class Watcher {
 public:
  Watcher(const WatchOptions& o, const LogFn& log, WatchControl& ctl)
      : opt_(o), user_log_(log), ctl_(ctl), rng_(std::random_device{}()) {
    round_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    TWINBOX_ASSERT(round_fd_ >= 0, "eventfd() failed (out of file descriptors?)");
    make_sides();
  }
  ~Watcher() {
    if (round_ && round_->thread.joinable()) round_->thread.join();
    ::close(round_fd_);
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  Status run();

 private:
  struct SideSlot {
    std::unique_ptr<SideWatch> watch;
    Backoff backoff{milliseconds(1000), milliseconds(1000)};
    Clock::time_point next_attempt{};
    std::optional<Clock::time_point> down_since;
    bool ever_up = false;
  };

  void make_sides();
  void log(const std::string& line) { safe_log_("watch: " + line); }
  void mark_full(const std::string& reason, Clock::time_point now);
  void mark_name(const std::string& canonical, const std::string& reason, Clock::time_point now);
  void handle_events(Side side, SideEvents& ev, Clock::time_point now);
  void evaluate_candidates(Clock::time_point now);
  [[nodiscard]] bool pair_unchanged(const state::MailboxPair& pair) const;
  void refresh_stored();
  Status connect_side(Side side, Clock::time_point now);
  void side_down(Side side, const Error& why, Clock::time_point now);
  bool round_due(Clock::time_point now) const;
  void start_round(Clock::time_point now);
  void finish_round(Clock::time_point now);
  Clock::time_point next_wakeup(Clock::time_point now) const;
  void check_suspend(Clock::time_point now);
  void do_reload(Clock::time_point now);
  void report_round(const WatchRound& r);
  milliseconds suspended_so_far() const {
    return opt_.suspended_clock ? opt_.suspended_clock() : system_suspended_so_far();
  }
  // Kept sync connections (only while no round runs).
  void add_kept_pollfds(std::vector<pollfd>& fds, bool& ready_now) const;
  void process_kept(const std::vector<pollfd>& fds, std::size_t first, Clock::time_point now);
  void drop_kept(Side side, bool logout, const std::string& why);
  [[nodiscard]] bool keepalive_pending() const;

  WatchOptions opt_;
  const LogFn& user_log_;
  std::mutex log_mutex_;
  LogFn safe_log_ = [this](std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    if (user_log_) user_log_(line);
  };
  WatchControl& ctl_;
  std::minstd_rand rng_;
  PerSide<SideSlot> sides_;
  int round_fd_ = -1;
  std::optional<Round> round_;
  std::uint64_t rounds_ = 0;
  Dirty dirty_;
  std::map<std::pair<int, std::string>, CandidateKind> candidates_;
  std::vector<state::MailboxPair> stored_;
  bool stored_valid_ = false;
  Backoff round_backoff_{milliseconds(1000), milliseconds(1000)};
  Clock::time_point retry_at_{};
  bool watching_ = false;
  bool reload_pending_ = false;
  std::optional<Error> fatal_;
  milliseconds suspended_ = suspended_so_far();
  SyncConnections sync_conns_;  ///< owned by the round's thread while a round runs
  PerSide<KeptSync> kept_;
};

void Watcher::make_sides() {
  for (Side s : kBothSides) {
    auto& slot = sides_[s];
    slot.watch = std::make_unique<SideWatch>(s, opt_, safe_log_);
    slot.backoff = Backoff(opt_.backoff_min, opt_.backoff_max);
    slot.next_attempt = Clock::time_point{};
  }
  round_backoff_ = Backoff(opt_.backoff_min, opt_.backoff_max);
}

void Watcher::mark_full(const std::string& reason, Clock::time_point now) {
  if (!dirty_.any()) dirty_.first = now;
  if (!dirty_.full) dirty_.reason = reason;
  dirty_.full = true;
  dirty_.last = now;
}

void Watcher::mark_name(const std::string& canonical, const std::string& reason,
                        Clock::time_point now) {
  if (!dirty_.any()) {
    dirty_.first = now;
    dirty_.reason = reason;
  }
  dirty_.names.insert(canonical);
  dirty_.last = now;
}

void Watcher::handle_events(Side side, SideEvents& ev, Clock::time_point now) {
  int key = static_cast<int>(side);
  auto add = [&](const std::string& name, CandidateKind k) {
    auto [it, inserted] = candidates_.try_emplace({key, name}, k);
    if (!inserted && it->second < k) it->second = k;
  };
  for (const auto& [name, from_status] : ev.changed) {
    add(name, from_status ? CandidateKind::Status : CandidateKind::Idle);
  }
  if (ev.polled) {
    for (const auto& [name, st] : sides_[side].watch->cache()) add(name, CandidateKind::PollKnown);
  }
  if (ev.list_changed) mark_full("mailbox list changed on the " + std::string(to_string(side)) + " side", now);
  if (ev.overflow) {
    log(std::string(to_string(side)) +
        ": NOTIFICATIONOVERFLOW: the server stopped notifying; switching to IDLE and polling");
    sides_[side].watch->disable_notify();
    sides_[side].watch->disconnect(true);
    sides_[side].down_since = now;
    sides_[side].next_attempt = now;
    watching_ = false;
    mark_full("notification overflow", now);
  }
  ev = SideEvents{};
}

void Watcher::refresh_stored() {
  state::OpenOptions o;
  o.create = false;
  auto store = state::StateStore::open(opt_.engine.state_path, o);
  if (!store) {
    stored_valid_ = false;
    return;
  }
  auto m = store->mailboxes();
  stored_valid_ = m.has_value();
  if (m) stored_ = std::move(*m);
}


/// The engine's skip rule for a whole pair: both sides, as last heard, equal the stored state.
/// (One side alone is not enough: the engine may record a side's HIGHESTMODSEQ after its own
/// writes there, past a concurrent change it has not read yet, and then syncs the pair only
/// because the other side moved.)
bool Watcher::pair_unchanged(const state::MailboxPair& pair) const {
  for (Side s : kBothSides) {
    const auto& cache = sides_[s].watch->cache();
    auto it = cache.find(pair.name[s]);
    if (it == cache.end() || !same_as_stored(it->second, pair.side[s])) return false;
  }
  return true;
}

void Watcher::evaluate_candidates(Clock::time_point now) {
  if (round_) return;  // judged against the state the round leaves behind
  for (const auto& [key, kind] : candidates_) {
    Side side = static_cast<Side>(key.first);
    const std::string& wire = key.second;
    const SideWatch& sw = *sides_[side].watch;
    auto it = sw.cache().find(wire);
    if (it != sw.cache().end()) {
      if (!it->second.selectable) continue;
      if (it->second.is_virtual && opt_.engine.list.exclude_virtual) continue;
    }
    if (!policy_selects(opt_.engine.list, canonical_name(wire, sw.ns()))) continue;
    const state::MailboxPair* pair = nullptr;
    for (const auto& p : stored_) {
      if (p.name[side] == wire) pair = &p;
    }
    if (!pair) {
      if (kind != CandidateKind::PollKnown) {
        mark_full("new mailbox " + wire + " on the " + std::string(to_string(side)) + " side", now);
      }
      continue;
    }
    if (kind != CandidateKind::Idle && stored_valid_ && pair_unchanged(*pair)) {
      continue;  // unchanged since the last round (e.g. the echo of our own writes)
    }
    std::string canonical = canonical_name(pair->name[Side::Local], sides_[Side::Local].watch->ns());
    mark_name(canonical, "change in " + canonical + " on the " + std::string(to_string(side)) + " side", now);
  }
  candidates_.clear();
}

Status Watcher::connect_side(Side side, Clock::time_point now) {
  SideSlot& slot = sides_[side];
  SideEvents ev;
  auto st = slot.watch->connect(ev);
  if (!st) {
    if (!slot.ever_up && (st.error().code == Errc::Auth || st.error().code == Errc::Config)) {
      return st.error().with_context(std::string(to_string(side)));
    }
    auto delay = slot.backoff.next(rng_);
    slot.next_attempt = Clock::now() + delay;
    if (!slot.down_since) slot.down_since = now;
    log(std::string(to_string(side)) + ": cannot connect: " + st.error().message +
        "; retrying in " + seconds_text(delay));
    return {};
  }
  slot.backoff.reset();
  log(std::string(to_string(side)) + ": watching (" + slot.watch->describe_mode() + ")");
  if (slot.down_since && now - *slot.down_since > opt_.poll_interval) {
    mark_full("reconnected after " + seconds_text(duration_cast<milliseconds>(now - *slot.down_since)), now);
  }
  slot.down_since.reset();
  slot.ever_up = true;
  handle_events(side, ev, now);
  return {};
}

void Watcher::side_down(Side side, const Error& why, Clock::time_point now) {
  SideSlot& slot = sides_[side];
  slot.watch->disconnect(false);
  // Whatever cut the watcher connection likely cut the sync one too: a round must not wait
  // on a dead connection for the engine's timeout.
  if (!round_) drop_kept(side, false, "");
  auto delay = slot.backoff.next(rng_);
  slot.next_attempt = now + delay;
  slot.down_since = now;
  watching_ = false;
  log(std::string(to_string(side)) + ": connection lost: " + why.message + "; reconnecting in " +
      seconds_text(delay));
}

bool Watcher::round_due(Clock::time_point now) const {
  if (round_ || !dirty_.any() || ctl_.stop_requested() || reload_pending_) return false;
  if (keepalive_pending()) return false;  // answered within watchdog_timeout, or dropped
  if (!sides_[Side::Local].watch->up() || !sides_[Side::Remote].watch->up()) return false;
  if (now < retry_at_) return false;
  return now - dirty_.last >= opt_.debounce || now - dirty_.first >= opt_.debounce_max;
}

void Watcher::start_round(Clock::time_point now) {
  round_.emplace();
  Round& r = *round_;
  r.covered = std::move(dirty_);
  dirty_ = Dirty{};
  r.options = opt_.engine;
  r.options.only.clear();
  if (!r.covered.full) r.options.only.assign(r.covered.names.begin(), r.covered.names.end());
  r.info.number = ++rounds_;
  r.info.full = r.covered.full;
  r.info.mailboxes = r.options.only;
  r.info.reason = r.covered.reason;
  r.started = now;
  r.reused = sync_conns_.session[Side::Local] || sync_conns_.session[Side::Remote];
  r.thread = std::thread([this, &r] {
    r.info.result = run_sync(r.options, safe_log_, sync_conns_);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(round_fd_, &one, sizeof one);
  });
}

void Watcher::report_round(const WatchRound& r) {
  std::string what = r.full ? std::string("all mailboxes") : std::string();
  for (const auto& m : r.mailboxes) what += (what.empty() ? "" : ", ") + m;
  std::string head = "round " + std::to_string(r.number) + " (" + what + "; " + r.reason + ")";
  if (!r.result) {
    log(head + " failed: " + r.result.error().message);
    return;
  }
  const SyncReport& rep = *r.result;
  if (!rep.changed() && !rep.partial()) return;
  std::string line = head + ": " + seconds_text(r.duration);
  for (Side s : kBothSides) {
    const Counts& c = rep.total[s];
    line += "; to " + std::string(to_string(s)) + ": " + std::to_string(c.copied) + " copied, " +
            std::to_string(c.flags) + " flag changes, " + std::to_string(c.expunged) + " expunged, " +
            std::to_string(c.moved) + " moved";
  }
  for (const auto& m : rep.mailboxes) {
    if (!m.error.empty()) line += "; " + m.name + " failed: " + m.error;
  }
  log(line);
}

void Watcher::finish_round(Clock::time_point now) {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = ::read(round_fd_, &v, sizeof v);
  round_->thread.join();
  Round r = std::move(*round_);
  round_.reset();
  r.info.duration = duration_cast<milliseconds>(now - r.started);
  report_round(r.info);
  for (Side s : kBothSides) kept_[s] = KeptSync{{}, {}, now};
  if (!r.info.result) {
    const Error& e = r.info.result.error();
    if (fatal(e)) {
      fatal_ = e;
    } else {
      // Retry what it covered: at once when a kept connection may simply have gone stale
      // (the engine dropped them; the retry connects afresh), else after a backoff.
      if (r.covered.full) mark_full(r.covered.reason, now);
      for (const auto& name : r.covered.names) mark_name(name, r.covered.reason, now);
      bool stale = r.reused && e.code != Errc::Conflict;
      auto delay = stale ? milliseconds(0) : round_backoff_.next(rng_);
      retry_at_ = now + delay;
      log(std::string(e.code == Errc::Conflict ? "the state database is in use by another run"
                                               : "the round failed") +
          "; retrying in " + seconds_text(delay) + (stale ? " with new connections" : ""));
    }
  } else {
    round_backoff_.reset();
  }
  refresh_stored();
  evaluate_candidates(now);
  if (ctl_.on_round) ctl_.on_round(r.info);
}

void Watcher::check_suspend(Clock::time_point now) {
  milliseconds s = suspended_so_far();
  milliseconds gap = s - suspended_;
  suspended_ = s;
  if (gap < opt_.suspend_threshold) return;
  log("resumed after " + seconds_text(gap) + " of suspend: reconnecting, then a full pass");
  for (Side side : kBothSides) {
    if (!round_) drop_kept(side, false, "");
    if (sides_[side].watch->up()) {
      sides_[side].watch->disconnect(false);
      sides_[side].down_since = now;
    }
    sides_[side].next_attempt = now;
    sides_[side].backoff.reset();
  }
  watching_ = false;
  mark_full("resume after suspend", now);
}

void Watcher::do_reload(Clock::time_point now) {
  reload_pending_ = false;
  if (!ctl_.reload) {
    log("reload requested, but nothing to reload from");
    return;
  }
  auto fresh = ctl_.reload();
  if (!fresh) {
    log("reload failed, keeping the old configuration: " + fresh.error().message);
    return;
  }
  log("configuration reloaded: reconnecting, then a full pass");
  for (Side s : kBothSides) {
    sides_[s].watch->disconnect(true);
    drop_kept(s, true, "");  // the endpoints may have changed
  }
  opt_ = std::move(*fresh);
  make_sides();
  watching_ = false;
  retry_at_ = Clock::time_point{};
  mark_full("configuration reloaded", now);
}

Clock::time_point Watcher::next_wakeup(Clock::time_point now) const {
  auto t = now + std::chrono::seconds(5);  // also bounds the suspend check
  for (Side s : kBothSides) {
    const auto& slot = sides_[s];
    t = std::min(t, slot.watch->up() ? slot.watch->next_timer() : slot.next_attempt);
  }
  if (dirty_.any() && !round_) {
    auto due = std::min(dirty_.last + opt_.debounce, dirty_.first + opt_.debounce_max);
    t = std::min(t, std::max(due, retry_at_));
  }
  if (!round_) {
    for (Side s : kBothSides) {
      if (!sync_conns_.session[s]) continue;
      const KeptSync& k = kept_[s];
      t = std::min(t, k.noop.valid() ? k.noop_sent + opt_.watchdog_timeout : k.last_used + opt_.watchdog);
    }
  }
  return std::max(t, now);
}

void Watcher::add_kept_pollfds(std::vector<pollfd>& fds, bool& ready_now) const {
  if (round_) return;
  for (Side s : kBothSides) {
    const auto& session = sync_conns_.session[s];
    if (!session) continue;
    fds.push_back(pollfd{session->fd(), session->poll_events(), 0});
    if (session->ready_without_poll()) ready_now = true;
  }
}

bool Watcher::keepalive_pending() const {
  return std::any_of(kBothSides.begin(), kBothSides.end(), [&](Side s) {
    return sync_conns_.session[s] && kept_[s].noop.valid() && !kept_[s].noop.ready();
  });
}

void Watcher::drop_kept(Side side, bool logout, const std::string& why) {
  auto& session = sync_conns_.session[side];
  if (!session) return;
  if (!why.empty()) {
    log(std::string(to_string(side)) + ": sync connection dropped (" + why +
        "); the next round connects again");
  }
  if (logout && !session->broken() && session->in_flight() == 0) {
    (void)session->wait(session->logout(), net::deadline_in(opt_.watchdog_timeout));
  }
  session.reset();
  kept_[side] = KeptSync{};
}

/// Between rounds: reads (and discards) what the server sends on a kept sync connection,
/// notices a closed one, and keeps it alive with a NOOP after `watchdog` of silence.
void Watcher::process_kept(const std::vector<pollfd>& fds, std::size_t first, Clock::time_point now) {
  std::size_t i = first;
  for (Side s : kBothSides) {
    auto& session = sync_conns_.session[s];
    if (!session) continue;
    bool readable = (i < fds.size() && fds[i].revents != 0) || session->ready_without_poll();
    ++i;
    KeptSync& k = kept_[s];
    if (readable) {
      if (auto st = session->on_ready(); !st || session->broken()) {
        drop_kept(s, false, st ? session->broken()->message : st.error().message);
        continue;
      }
    }
    (void)session->take_changes();  // the next round SELECTs afresh
    if (k.noop.valid() && k.noop.ready()) {
      if (auto& r = k.noop.result(); !r) {
        drop_kept(s, false, "NOOP: " + r.error().message);
        continue;
      }
      k.noop = {};
      k.last_used = now;
    }
    if (k.noop.valid() && now - k.noop_sent > opt_.watchdog_timeout) {
      drop_kept(s, false, "no answer to the keepalive NOOP");
      continue;
    }
    if (!k.noop.valid() && now - k.last_used >= opt_.watchdog) {
      k.noop = session->noop();
      k.noop_sent = now;
    }
    if (auto st = session->on_ready(); !st) drop_kept(s, false, st.error().message);
  }
}

Status Watcher::run() {
  log("starting (poll every " + seconds_text(opt_.poll_interval) + ")");
  mark_full("start", Clock::now());
  std::vector<pollfd> fds;
  while (true) {
    auto now = Clock::now();
    check_suspend(now);
    if (ctl_.take_reload()) reload_pending_ = true;
    if (reload_pending_ && !round_ && !ctl_.stop_requested()) do_reload(now);
    if ((ctl_.stop_requested() || fatal_) && !round_) break;
    for (Side s : kBothSides) {
      auto& slot = sides_[s];
      if (!slot.watch->up() && now >= slot.next_attempt && !ctl_.stop_requested()) {
        if (auto st = connect_side(s, now); !st) {
          fatal_ = st.error();
          break;
        }
        now = Clock::now();
      }
    }
    if (fatal_ && !round_) break;
    if (!watching_ && sides_[Side::Local].watch->up() && sides_[Side::Remote].watch->up()) {
      watching_ = true;
      if (ctl_.on_watching) ctl_.on_watching();
    }
    evaluate_candidates(now);
    if (round_due(now)) start_round(now);

    fds.clear();
    fds.push_back(pollfd{ctl_.wake_fd(), POLLIN, 0});
    fds.push_back(pollfd{round_fd_, POLLIN, 0});
    PerSide<std::size_t> first{};
    bool ready_now = false;
    for (Side s : kBothSides) {
      first[s] = fds.size();
      sides_[s].watch->add_pollfds(fds, ready_now);
    }
    std::size_t kept_first = fds.size();
    add_kept_pollfds(fds, ready_now);
    auto wake = next_wakeup(now);
    int timeout = ready_now ? 0 : net::poll_timeout_ms(wake);
    int rc = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout);
    if (rc < 0 && errno != EINTR) {
      fatal_ = fail(Errc::Io, Scope::Fatal, std::string("poll() failed: ") + std::strerror(errno));
      continue;
    }
    if (rc < 0) continue;  // a signal: its handler wrote to the wake fd
    now = Clock::now();
    if (fds[0].revents) ctl_.drain();
    bool round_was_running = round_.has_value();
    if (fds[1].revents && round_) finish_round(now);
    if (!round_was_running) process_kept(fds, kept_first, now);
    for (Side s : kBothSides) {
      auto& slot = sides_[s];
      if (!slot.watch->up()) continue;
      SideEvents ev;
      auto st = slot.watch->process(fds, first[s], now, ev);
      handle_events(s, ev, now);
      if (!st) side_down(s, st.error(), now);
    }
  }
  log(fatal_ ? "stopping: " + fatal_->message : std::string("stopping"));
  for (Side s : kBothSides) {
    sides_[s].watch->disconnect(true);
    drop_kept(s, true, "");
  }
  if (fatal_) return *fatal_;
  return {};
}

}  // namespace

Status run_watch(const WatchOptions& options, const LogFn& log, WatchControl& control) {
  Watcher w(options, log, control);
  return w.run();
}

}  // namespace twinbox::sync
