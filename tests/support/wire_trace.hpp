#pragma once
/// WireTrace: the protocol trace of both sides of a sync run (client::SessionOptions::trace),
/// in one sequence, so that tests can assert which commands a run sent and in which order the
/// two endpoints' lines came (the order is all they may assert about time: never durations).
/// Lines are as the session traces them: "C: <tag> <command>" sent (literals as
/// "{N bytes}"), "S: <line>" received.
///
///   WireTrace t;
///   t.attach(options);
///   run_ok(options);
///   CHECK(t.count_sent(Side::Remote, "CHANGEDSINCE") == 1);

#include <algorithm>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/sync/engine.hpp>

namespace twinbox::test {

class WireTrace {
 public:
  struct Line {
    Side side;
    std::string text;
  };

  /// Records both endpoints of `options` from now on. The WireTrace must outlive the runs.
  void attach(sync::EngineOptions& options) {
    for (Side s : kBothSides) {
      options.endpoints[s].session.trace = [this, s](std::string_view l) {
        std::lock_guard lock(mutex_);
        lines_.push_back({s, std::string(l)});
      };
    }
  }
  void clear() {
    std::lock_guard lock(mutex_);
    lines_.clear();
  }
  /// Every line so far, in the order they were traced.
  [[nodiscard]] std::vector<Line> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  /// The commands `side` sent (without "C: " and the tag), in order.
  [[nodiscard]] std::vector<std::string> sent(Side side) const {
    std::vector<std::string> out;
    for (const auto& l : lines()) {
      if (l.side != side || l.text.rfind("C: ", 0) != 0) continue;
      const std::size_t sp = l.text.find(' ', 3);
      out.push_back(sp == std::string::npos ? std::string() : l.text.substr(sp + 1));
    }
    return out;
  }
  /// Number of commands `side` sent that contain every one of `needles`.
  [[nodiscard]] std::size_t count_sent(Side side, std::initializer_list<std::string_view> needles) const {
    auto cmds = sent(side);
    return static_cast<std::size_t>(std::count_if(cmds.begin(), cmds.end(), [&](const std::string& c) {
      return std::all_of(needles.begin(), needles.end(),
                         [&](std::string_view n) { return c.find(n) != std::string::npos; });
    }));
  }
  /// Commands of `side` that start with `prefix` (e.g. "UID STORE ").
  [[nodiscard]] std::vector<std::string> sent_starting(Side side, std::string_view prefix) const {
    std::vector<std::string> out;
    for (auto& c : sent(side)) {
      if (c.rfind(prefix, 0) == 0) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Line> lines_;
};

}  // namespace twinbox::test
