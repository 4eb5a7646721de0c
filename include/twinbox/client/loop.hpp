#pragma once
/// client::Loop: one poll(2) loop driving several sessions at once (both endpoints of a
/// sync, watch mode). No threads: each round polls every session's stream (sessions with
/// buffered input or a readable body source are handled without sleeping) and calls
/// Session::on_ready() on the ready ones.

#include <functional>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/client/session.hpp>

namespace twinbox::client {

class Loop {
 public:
  Loop() = default;
  explicit Loop(std::vector<Session*> sessions) : sessions_(std::move(sessions)) {}

  /// Adds a session (not owned; must outlive its membership). Duplicates are ignored.
  void add(Session& session);
  void remove(Session& session);
  [[nodiscard]] const std::vector<Session*>& sessions() const { return sessions_; }

  /// One round: processes every session without waiting; only when that moved nothing (no
  /// byte written or read, no response dispatched) does it poll until a session can progress
  /// or the deadline passes, then processes the ready ones. So an answer read in the first
  /// pass returns at once instead of polling for input that will never come. Errc::Timeout
  /// when the poll reached the deadline; else the first session error (naming the session).
  Status pump(Deadline deadline);
  /// Rounds until done() is true: Errc::Timeout at the deadline, or a session's error.
  Status run_until(const std::function<bool()>& done, Deadline deadline);

 private:
  std::vector<Session*> sessions_;
};

}  // namespace twinbox::client
