#pragma once
// Private to the sync layer: drives a client::Loop until a condition holds.

#include <algorithm>
#include <chrono>
#include <functional>

#include <twinbox/client/loop.hpp>

namespace twinbox::sync {

/// Loop::run_until in slices: Loop::pump() gets `done` and ends its round right after the
/// first pass over the sessions when that pass already completed the operation (its answer
/// was readable), instead of polling for data that will not come. The 50 ms slices are a
/// second guard against such a lost wake-up; the overall bound stays `deadline`.
inline Status drive_until(client::Loop& loop, const std::function<bool()>& done,
                          net::Deadline deadline) {
  constexpr auto kSlice = std::chrono::milliseconds(50);
  while (!done()) {
    auto slice = std::min(deadline, net::Deadline(std::chrono::steady_clock::now() + kSlice));
    Status s = loop.pump(slice, done);
    if (done()) return {};
    if (!s) {
      bool slice_over = s.error().code == Errc::Timeout && std::chrono::steady_clock::now() < deadline;
      if (!slice_over) return s;
    }
  }
  return {};
}

}  // namespace twinbox::sync
