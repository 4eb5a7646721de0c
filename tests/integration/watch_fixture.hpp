#pragma once
// Helpers for the watch-mode integration tests (watch_*_test.cpp): run_watch on a thread with
// its rounds, connection announcements and log lines observable through bounded waits, and
// latency statistics.

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <twinbox/sync/watch.hpp>

#include "support/sync_fixture.hpp"

namespace twinbox::test {

using WatchClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Options for tests: events must do the work (the poll is far away), dead connections are
/// found fast, retries come quickly.
inline sync::WatchOptions test_watch_options(sync::EngineOptions engine) {
  sync::WatchOptions w;
  w.engine = std::move(engine);
  w.engine.timeout = std::chrono::seconds(10);
  for (Side s : kBothSides) {
    w.engine.endpoints[s].connect_timeout = std::chrono::seconds(5);
    w.engine.endpoints[s].command_timeout = std::chrono::seconds(10);
    if (std::getenv("TWINBOX_WATCH_TRACE")) {
      w.engine.endpoints[s].session.trace = [s](std::string_view line) {
        std::fprintf(stderr, "%s %.*s\n", s == Side::Local ? "L" : "R", int(line.size()), line.data());
      };
    }
  }
  w.poll_interval = std::chrono::seconds(60);
  w.watchdog = std::chrono::seconds(1);
  w.watchdog_timeout = std::chrono::seconds(2);
  w.connect_timeout = std::chrono::seconds(3);
  w.backoff_min = milliseconds(100);
  w.backoff_max = milliseconds(1000);
  return w;
}

/// run_watch on a thread. Every wait is bounded.
class WatchRun {
 public:
  explicit WatchRun(sync::WatchOptions options) {
    ctl_.on_round = [this](const sync::WatchRound& r) {
      std::lock_guard<std::mutex> lock(m_);
      ++rounds_;
      last_round_end_ = WatchClock::now();
      if (!r.result) ++failed_rounds_;
      if (r.full) full_reasons_.push_back(r.reason);
      cv_.notify_all();
    };
    ctl_.on_watching = [this] {
      std::lock_guard<std::mutex> lock(m_);
      ++watching_;
      cv_.notify_all();
    };
    thread_ = std::thread([this, o = std::move(options)] {
      auto st = sync::run_watch(
          o,
          [this](std::string_view line) {
            std::lock_guard<std::mutex> lock(m_);
            if (std::getenv("TWINBOX_WATCH_LOG")) {
              // Same clock and format as TWINBOX_TEST_TRACE's protocol lines.
              auto ms = std::chrono::duration_cast<milliseconds>(WatchClock::now().time_since_epoch()).count();
              std::fprintf(stderr, "[%lld] %.*s\n", static_cast<long long>(ms % 1000000), int(line.size()),
                           line.data());
            }
            log_.emplace_back(line);
            if (log_.size() > 400) log_.erase(log_.begin());
            ++log_lines_;
            cv_.notify_all();
          },
          ctl_);
      std::lock_guard<std::mutex> lock(m_);
      result_ = st;
      cv_.notify_all();
    });
  }
  ~WatchRun() {
    if (thread_.joinable()) {
      ctl_.request_stop();
      thread_.join();
    }
  }
  WatchRun(const WatchRun&) = delete;
  WatchRun& operator=(const WatchRun&) = delete;

  /// Stops it; REQUIREs that it returns within `bound`, and returns its status.
  Status stop(milliseconds bound = milliseconds(20'000)) {
    ctl_.request_stop();
    {
      std::unique_lock<std::mutex> lock(m_);
      bool done = cv_.wait_for(lock, bound, [&] { return result_.has_value(); });
      REQUIRE_MESSAGE(done, "run_watch did not stop within the bound\n" << log_text_locked());
    }
    thread_.join();
    return *result_;
  }

  /// Waits until `pred()` (called under the lock with this object) holds.
  bool wait(const std::function<bool()>& pred, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, timeout, pred);
  }
  /// Until the initial round is done and both sides are watching.
  bool wait_ready(milliseconds timeout = milliseconds(30'000)) {
    return wait([&] { return (rounds_ >= 1 && watching_ >= 1) || result_.has_value(); }, timeout) &&
           !result_.has_value();
  }
  /// Until a log line containing `text` appears (counting from line `from`).
  bool wait_log(const std::string& text, milliseconds timeout) {
    return wait([&] {
      return std::any_of(log_.begin(), log_.end(),
                         [&](const std::string& l) { return l.find(text) != std::string::npos; });
    }, timeout);
  }
  /// Checks `arrived` (outside the lock) after every round until it holds. Returns the time
  /// from `t0` to the end of the round after which it held, or nullopt at the deadline.
  std::optional<milliseconds> wait_arrival(const std::function<bool()>& arrived,
                                           WatchClock::time_point t0, milliseconds timeout) {
    auto deadline = WatchClock::now() + timeout;
    while (true) {
      std::uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(m_);
        seen = rounds_;
      }
      if (arrived()) {
        std::lock_guard<std::mutex> lock(m_);
        auto end = std::max(last_round_end_, t0);
        return std::chrono::duration_cast<milliseconds>(end - t0);
      }
      std::unique_lock<std::mutex> lock(m_);
      if (!cv_.wait_until(lock, deadline, [&] { return rounds_ != seen || result_.has_value(); })) {
        return std::nullopt;
      }
      if (result_) return std::nullopt;
    }
  }

  std::uint64_t rounds() {
    std::lock_guard<std::mutex> lock(m_);
    return rounds_;
  }
  /// True when a round over all mailboxes ran for `reason` (exact).
  bool had_full_round(const std::string& reason) {
    std::lock_guard<std::mutex> lock(m_);
    return std::find(full_reasons_.begin(), full_reasons_.end(), reason) != full_reasons_.end();
  }
  std::uint64_t failed_rounds() {
    std::lock_guard<std::mutex> lock(m_);
    return failed_rounds_;
  }
  std::uint64_t watching() {
    std::lock_guard<std::mutex> lock(m_);
    return watching_;
  }
  std::string log_text() {
    std::lock_guard<std::mutex> lock(m_);
    return log_text_locked();
  }
  std::uint64_t rounds_unlocked() const { return rounds_; }
  std::uint64_t watching_unlocked() const { return watching_; }

 private:
  std::string log_text_locked() const {
    std::string s;
    for (const auto& l : log_) s += l + "\n";
    return s;
  }

  sync::WatchControl ctl_;
  std::mutex m_;
  std::condition_variable cv_;
  std::uint64_t rounds_ = 0, failed_rounds_ = 0, watching_ = 0, log_lines_ = 0;
  WatchClock::time_point last_round_end_{};
  std::vector<std::string> log_;
  std::vector<std::string> full_reasons_;  ///< one per full round (bounded by the test's length)
  std::optional<Status> result_;
  std::thread thread_;
};

/// With TWINBOX_WATCH_LOG: a timestamped test step on stderr (to read next to the trace).
inline void trace_step(const std::string& text) {
  if (!std::getenv("TWINBOX_WATCH_LOG")) return;
  auto ms = std::chrono::duration_cast<milliseconds>(WatchClock::now().time_since_epoch()).count();
  std::fprintf(stderr, "[%lld] test: %s\n", static_cast<long long>(ms % 1000000), text.c_str());
}

/// Latency samples of one kind of change, printed as median and worst.
struct Latencies {
  std::string what;
  std::vector<milliseconds> samples;
  void add(milliseconds d) {
    trace_step(what + " arrived after " + std::to_string(d.count()) + " ms");
    samples.push_back(d);
  }
  void print() const {
    if (samples.empty()) return;
    auto v = samples;
    std::sort(v.begin(), v.end());
    std::printf("watch latency %-28s n=%zu median=%lld ms worst=%lld ms\n", what.c_str(), v.size(),
                static_cast<long long>(v[v.size() / 2].count()),
                static_cast<long long>(v.back().count()));
    std::fflush(stdout);
  }
};

/// True when the message with id is in `mailbox` of `a` with flag `flag` (or without, when
/// `present` is false).
inline bool has_flag(Account& a, const std::string& mailbox, const std::string& id,
                     const std::string& flag, bool present = true) {
  auto uid = a.find(mailbox, id);
  if (!uid) return false;
  for (const auto& m : a.messages(mailbox)) {
    if (m.uid == *uid) return (m.flags.find(flag) != std::string::npos) == present;
  }
  return false;
}

/// Appends on one side, flags and expunges, each time waiting for the other side to follow,
/// and prints the latencies. `rounds` changes of each kind, alternating sides.
/// `append(side, id)` puts a new message on a side (default: APPEND through the Account).
using AppendFn = std::function<void(Side side, const std::string& id)>;

inline void measure_latencies(WatchRun& w, Account& local, Account& remote, const std::string& tag,
                              int rounds, const AppendFn& append_fn = {}) {
  Latencies append{tag + " APPEND", {}}, flag{tag + " flag change", {}}, expunge{tag + " expunge", {}};
  std::vector<std::string> ids;
  for (int i = 0; i < rounds; ++i) {
    bool from_local = i % 2 == 0;
    Account& src = from_local ? local : remote;
    Account& dst = from_local ? remote : local;
    std::string id = "lat-" + tag + "-" + std::to_string(i);
    auto t0 = WatchClock::now();
    trace_step("APPEND " + id);
    if (append_fn) {
      append_fn(from_local ? Side::Local : Side::Remote, id);
    } else {
      src.append("INBOX", make_message(id));
    }
    auto d = w.wait_arrival([&] { return dst.find("INBOX", id).has_value(); }, t0, milliseconds(10'000));
    REQUIRE_MESSAGE(d.has_value(), "APPEND of " << id << " did not arrive\n" << w.log_text());
    append.add(*d);
    ids.push_back(id);
  }
  for (int i = 0; i < rounds; ++i) {
    bool from_local = i % 2 == 1;
    Account& src = from_local ? local : remote;
    Account& dst = from_local ? remote : local;
    const std::string& id = ids[static_cast<std::size_t>(i)];
    auto uid = src.find("INBOX", id);
    REQUIRE(uid.has_value());
    auto t0 = WatchClock::now();
    trace_step("STORE +FLAGS " + id);
    src.store("INBOX", *uid, client::StoreMode::Add, {"\\Flagged"});
    auto d = w.wait_arrival([&] { return has_flag(dst, "INBOX", id, "\\Flagged"); }, t0,
                            milliseconds(10'000));
    REQUIRE_MESSAGE(d.has_value(), "flag of " << id << " did not arrive\n" << w.log_text());
    flag.add(*d);
  }
  for (int i = 0; i < rounds; ++i) {
    bool from_local = i % 2 == 0;
    Account& src = from_local ? local : remote;
    Account& dst = from_local ? remote : local;
    const std::string& id = ids[static_cast<std::size_t>(i)];
    auto uid = src.find("INBOX", id);
    REQUIRE(uid.has_value());
    auto t0 = WatchClock::now();
    trace_step("EXPUNGE " + id);
    src.expunge("INBOX", {*uid});
    auto d = w.wait_arrival([&] { return !dst.find("INBOX", id).has_value(); }, t0,
                            milliseconds(10'000));
    REQUIRE_MESSAGE(d.has_value(), "expunge of " << id << " did not arrive\n" << w.log_text());
    expunge.add(*d);
  }
  append.print();
  flag.print();
  expunge.print();
}

}  // namespace twinbox::test
