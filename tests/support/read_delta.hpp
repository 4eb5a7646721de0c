// Drives one sync::DeltaReader to its Delta on one session, for tests of the reader itself
// (bounded waits; REQUIREs every step).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>

#include <twinbox/client/loop.hpp>
#include <twinbox/sync/reader.hpp>

namespace twinbox::test {

/// Calls `setup` on a fresh reader (limit_new(), continue_window(), stored_by_this_run(), ...),
/// then start(), next() and finish(), driving `loop` in between (30 s bound per step).
inline sync::Delta read_delta(client::Session& session, client::Loop& loop, Side side,
                              const std::string& mailbox, const state::SideState& stored,
                              const std::function<void(sync::DeltaReader&)>& setup = {}) {
  sync::DeltaReader r(session, side, mailbox, stored, {});
  if (setup) setup(r);
  r.start();
  REQUIRE(loop.run_until([&] { return r.step_ready(); }, net::deadline_in(std::chrono::seconds(30))));
  REQUIRE(r.next());
  REQUIRE(loop.run_until([&] { return r.step_ready(); }, net::deadline_in(std::chrono::seconds(30))));
  auto d = r.finish();
  REQUIRE(d);
  return std::move(*d);
}

}  // namespace twinbox::test
