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

Status Loop::pump(Deadline deadline, const std::function<bool()>& done) {
  std::vector<net::PollItem> items;
  items.reserve(sessions_.size());
  bool any_ready = false;
  for (Session* s : sessions_) {
    if (s->broken()) return s->broken()->with_context(s->describe());
    net::PollItem it;
    it.fd = s->fd();
    it.events = s->poll_events();
    if (s->ready_without_poll() || it.fd < 0) any_ready = true;
    items.push_back(it);
  }
  // First give every session a chance: queued commands, streamed sources that became
  // readable because another session received data.
  for (Session* s : sessions_) {
    if (auto st = s->on_ready(); !st) return st.error().with_context(s->describe());
  }
  if (done && done()) return {};
  if (!any_ready) {
    for (std::size_t i = 0; i < sessions_.size(); ++i) items[i].events = sessions_[i]->poll_events();
    auto n = net::poll_streams(items, deadline);
    if (!n) return n.error();
    if (*n == 0) {
      return fail(Errc::Timeout, Scope::Connection, "timed out waiting for the servers");
    }
  }
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    if (!items[i].ready && items[i].fd >= 0 && !any_ready) continue;
    if (auto st = sessions_[i]->on_ready(); !st) {
      return st.error().with_context(sessions_[i]->describe());
    }
  }
  // Sources fed by the sessions just processed may unblock writers earlier in the list.
  for (Session* s : sessions_) {
    if (auto st = s->on_ready(); !st) return st.error().with_context(s->describe());
  }
  return {};
}

Status Loop::run_until(const std::function<bool()>& done, Deadline deadline) {
  while (!done()) {
    if (auto s = pump(deadline, done); !s) {
      if (done()) return {};
      return s;
    }
  }
  return {};
}

}  // namespace twinbox::client
