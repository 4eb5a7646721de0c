#include <twinbox/client/loop.hpp>

#include <poll.h>

#include <algorithm>

namespace twinbox::client {

void Loop::add(Session& session) {
  if (std::find(sessions_.begin(), sessions_.end(), &session) == sessions_.end()) {
    sessions_.push_back(&session);
  }
}

void Loop::remove(Session& session) {
  sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), &session), sessions_.end());
}

namespace {

Status ready_all(const std::vector<Session*>& sessions) {
  for (Session* s : sessions) {
    if (auto st = s->on_ready(); !st) return st.error().with_context(s->describe());
  }
  return {};
}

}  // namespace

Status Loop::pump(Deadline deadline) {
  // Sessions that can progress without waiting: buffered input, a readable body source, or
  // no fd to poll (test streams).
  bool progressed = false;
  for (Session* s : sessions_) {
    if (s->broken()) return s->broken()->with_context(s->describe());
    if (s->ready_without_poll() || s->fd() < 0) progressed = true;
  }
  // First give every session a chance: queued commands, input that arrived since the last
  // round, streamed sources that became readable because another session received data.
  // When this pass moves anything, the round must not poll: the answer the caller waits for
  // may have been read right here, and nothing else would wake the poll (a lost wake-up that
  // blocked until the deadline).
  for (Session* s : sessions_) {
    const std::uint64_t before = s->progress();
    if (auto st = s->on_ready(); !st) return st.error().with_context(s->describe());
    if (s->progress() != before) progressed = true;
  }
  if (progressed) return ready_all(sessions_);

  std::vector<net::PollItem> items(sessions_.size());
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    items[i].fd = sessions_[i]->fd();
    items[i].events = sessions_[i]->poll_events();
  }
  auto n = net::poll_streams(items, deadline);
  if (!n) return n.error();
  if (*n == 0) return fail(Errc::Timeout, Scope::Connection, "timed out waiting for the servers");
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    if (!items[i].ready) continue;
    if (auto st = sessions_[i]->on_ready(); !st) {
      return st.error().with_context(sessions_[i]->describe());
    }
  }
  // Sources fed by the sessions just processed may unblock writers earlier in the list.
  return ready_all(sessions_);
}

Status Loop::run_until(const std::function<bool()>& done, Deadline deadline) {
  while (!done()) {
    if (auto s = pump(deadline); !s) {
      if (done()) return {};
      return s;
    }
  }
  return {};
}

}  // namespace twinbox::client
