#include <poll.h>

#include <cerrno>
#include <string>
#include <vector>

#include <twinbox/net/io.hpp>

#include "fd_stream.hpp"

namespace twinbox::net {

Deadline deadline_in(std::chrono::milliseconds timeout) { return Clock::now() + timeout; }

int poll_timeout_ms(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  auto now = Clock::now();
  if (deadline <= now) return 0;
  // Round up so a poll never wakes just before the deadline and spins.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

namespace {

Error timeout_error(const Stream& s, std::string_view what) {
  return fail(Errc::Timeout, Scope::Connection,
              s.describe() + ": timed out " + std::string(what));
}

}  // namespace

Status wait_io(Stream& stream, bool want_write, Deadline deadline) {
  PollItem item{.stream = &stream, .events = static_cast<short>(want_write ? POLLOUT : 0)};
  auto n = poll_streams({&item, 1}, deadline);
  if (!n) return n.error();
  if (*n == 0) return timeout_error(stream, want_write ? "waiting to write" : "waiting for data");
  return {};
}

Result<std::size_t> poll_streams(std::span<PollItem> items, Deadline deadline) {
  std::vector<pollfd> fds;
  fds.reserve(items.size());
  bool any_buffered = false;
  for (auto& it : items) {
    it.revents = 0;
    it.ready = false;
    pollfd p{.fd = it.fd, .events = it.events, .revents = 0};
    if (it.stream != nullptr) {
      p.fd = it.stream->fd();
      p.events = static_cast<short>(it.stream->poll_events() | it.events);
      if (p.fd < 0) {
        it.ready = true;  // closed: the next call on it reports Errc::Closed
        any_buffered = true;
      }
      if (it.stream->buffered_input()) {
        it.ready = true;
        any_buffered = true;
      }
    }
    fds.push_back(p);
  }
  for (;;) {
    int rc = ::poll(fds.data(), fds.size(), any_buffered ? 0 : poll_timeout_ms(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::Io, Scope::Connection, "poll failed: " + detail::errno_text(errno));
    }
    break;
  }
  std::size_t ready = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].revents = fds[i].revents;
    if (fds[i].revents != 0) items[i].ready = true;
    if (items[i].ready) ++ready;
  }
  return ready;
}

Status flush_all(Stream& stream, Deadline deadline) {
  for (;;) {
    auto done = stream.flush();
    if (!done) return done.error();
    if (*done) return {};
    if (auto w = wait_io(stream, true, deadline); !w) return w.error();
  }
}

Status write_all(Stream& stream, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    auto n = stream.write_some(data.data(), data.size());
    if (!n) return n.error();
    data.remove_prefix(*n);
    if (*n == 0) {
      // Nothing accepted: push out what is buffered, then wait for room.
      auto f = stream.flush();
      if (!f) return f.error();
      if (auto w = wait_io(stream, true, deadline); !w) return w.error();
    }
  }
  return flush_all(stream, deadline);
}

namespace {

/// Reads what is available into `pending`; waits (bounded) when nothing is.
Status fill(Stream& stream, std::string& pending, Deadline deadline, std::size_t want) {
  char buf[16 * 1024];
  for (;;) {
    std::size_t chunk = want < sizeof buf ? want : sizeof buf;
    if (chunk == 0) chunk = 1;
    auto n = stream.read_some(buf, chunk);
    if (!n) return n.error();
    if (*n > 0) {
      pending.append(buf, *n);
      return {};
    }
    if (auto w = wait_io(stream, false, deadline); !w) return w.error();
  }
}

}  // namespace

Result<std::string> read_line(Stream& stream, std::string& pending, Deadline deadline,
                              std::size_t max_len) {
  std::size_t scanned = 0;
  for (;;) {
    auto pos = pending.find('\n', scanned);
    if (pos != std::string::npos && pos < max_len) {
      std::string line = pending.substr(0, pos);
      pending.erase(0, pos + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (pending.size() >= max_len)
      return fail(Errc::Limit, Scope::Connection,
                  stream.describe() + ": line longer than " + std::to_string(max_len) +
                      " bytes; starts with \"" + pending.substr(0, 40) + "\"");
    scanned = pending.size();
    // Read byte budgets so pending never grows far past max_len.
    if (auto f = fill(stream, pending, deadline, max_len - pending.size()); !f) return f.error();
  }
}

Result<std::string> read_exact(Stream& stream, std::string& pending, std::size_t n,
                               Deadline deadline) {
  while (pending.size() < n) {
    if (auto f = fill(stream, pending, deadline, n - pending.size()); !f) return f.error();
  }
  std::string out = pending.substr(0, n);
  pending.erase(0, n);
  return out;
}

Result<std::string> read_to_eof(Stream& stream, Deadline deadline, std::size_t max_len) {
  std::string out;
  for (;;) {
    if (out.size() > max_len)
      return fail(Errc::Limit, Scope::Connection,
                  stream.describe() + ": more than " + std::to_string(max_len) + " bytes before EOF");
    auto f = fill(stream, out, deadline, max_len + 1 - out.size());
    if (!f) {
      if (f.error().code == Errc::Closed) return out;
      return f.error();
    }
  }
}

}  // namespace twinbox::net
