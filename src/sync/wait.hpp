#pragma once
// Private to the sync layer: drives a client::Loop until a condition holds.

#include <functional>

#include <twinbox/client/loop.hpp>

namespace twinbox::sync {

/// Loop::run_until under the sync layer's name: drives both sessions until `done` holds, bound
/// by `deadline`. (It used to poll in 50 ms slices to dodge a lost wake-up in Loop::pump, which
/// is fixed in the client: a round that moved anything no longer polls.)
inline Status drive_until(client::Loop& loop, const std::function<bool()>& done,
                          net::Deadline deadline) {
  return loop.run_until(done, deadline);
}

}  // namespace twinbox::sync
