#pragma once
// Private to the sync layer: drives a client::Loop until a condition holds.

#include <algorithm>
#include <chrono>
#include <functional>

#include <twinbox/client/loop.hpp>

namespace twinbox::sync {

/// Loop::run_until with a guard against a lost wake-up: Loop::pump() processes every session
/// once before it polls, and when that round already completes the operation waited for (its
/// answer was readable), the poll that follows has nothing left to wake it and would block
/// until the deadline. So each pump gets a short slice of the deadline, and `done` is checked
/// between slices; the overall bound stays `deadline`.
inline Status drive_until(client::Loop& loop, const std::function<bool()>& done,
                          net::Deadline deadline) {
  constexpr auto kSlice = std::chrono::milliseconds(50);
  while (!done()) {
    auto slice = std::min(deadline, net::Deadline(std::chrono::steady_clock::now() + kSlice));
    Status s = loop.pump(slice);
    if (done()) return {};
    if (!s) {
      bool slice_over = s.error().code == Errc::Timeout && std::chrono::steady_clock::now() < deadline;
      if (!slice_over) return s;
    }
  }
  return {};
}

}  // namespace twinbox::sync
