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

  /// One round: waits until a session can progress or the deadline passes, then processes
  /// every ready session. Returns the first session error (its message names the session).
  /// Every session is first processed once without waiting; when `done` is given and holds
  /// after that pass, the round ends there (no poll that nothing would wake).
  Status pump(Deadline deadline, const std::function<bool()>& done = {});
  /// Rounds until done() is true: Errc::Timeout at the deadline, or a session's error.
  Status run_until(const std::function<bool()>& done, Deadline deadline);

 private:
  std::vector<Session*> sessions_;
};

}  // namespace twinbox::client
