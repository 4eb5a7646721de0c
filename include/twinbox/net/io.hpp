#pragma once
/// Deadlines, poll helpers and blocking conveniences over net::Stream.
///
/// Every operation a caller drives takes a Deadline (an absolute steady_clock time point);
/// when it passes, the operation fails with Errc::Timeout and the stream is left as it was
/// (bytes already written or read stay written or read). kNoDeadline waits forever; use it
/// only where a human is waiting anyway.
///
/// Poll contract: a stream with buffered_input() is ready to read without touching its fd,
/// so every helper here checks it before sleeping in poll(2). Streams ask for the events
/// they need (Stream::poll_events(); TLS may need POLLOUT to read); callers add POLLOUT
/// when they have bytes the stream did not accept yet or flush() returned false.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <twinbox/base/result.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

/// now + timeout; a zero or negative timeout gives "already expired" (poll once).
[[nodiscard]] Deadline deadline_in(std::chrono::milliseconds timeout);
/// Milliseconds left until the deadline for poll(2): -1 for kNoDeadline, 0 when passed.
[[nodiscard]] int poll_timeout_ms(Deadline deadline);

/// Waits until `stream` can make progress: buffered input (returns at once), or its fd is
/// ready for poll_events() | (want_write ? POLLOUT : 0). POLLHUP/POLLERR count as ready
/// (the next read_some/write_some reports the error). Errc::Timeout when the deadline
/// passes; Errc::Closed on a closed stream.
Status wait_io(Stream& stream, bool want_write, Deadline deadline);

/// One entry of poll_streams(): a stream (its poll_events() are used), or a bare fd
/// (a listener, a wake-up pipe) with explicit events.
struct PollItem {
  Stream* stream = nullptr;  ///< when set, fd and events are taken from the stream
  int fd = -1;
  short events = 0;          ///< for a stream: extra events on top of poll_events() (POLLOUT)
  short revents = 0;         ///< out: poll revents (0 when only buffered_input() made it ready)
  bool ready = false;        ///< out: buffered input, or any revents
};

/// Polls many streams/fds at once. Returns the number of ready items; 0 when the deadline
/// passed with nothing ready (not an error: an event loop just runs its timers). Items
/// with buffered input are ready without sleeping. Errc::Io if poll(2) itself fails.
Result<std::size_t> poll_streams(std::span<PollItem> items, Deadline deadline);

// ---- Blocking conveniences (tests, the tunnel/--stdio glue, simple callers) -------------

/// Writes all of `data` and flushes. Errc::Timeout at the deadline (some bytes may be sent).
Status write_all(Stream& stream, std::string_view data, Deadline deadline);
/// Calls flush() until it returns true.
Status flush_all(Stream& stream, Deadline deadline);

/// Reads one line terminated by "\n" and returns it without the "\r\n" (or "\n").
/// `pending` holds bytes read past the line; pass the same string to the next call (and to
/// read_exact). Errc::Limit when no "\n" shows up within max_len bytes; Errc::Closed at
/// EOF (the partial line stays in `pending`).
Result<std::string> read_line(Stream& stream, std::string& pending, Deadline deadline,
                              std::size_t max_len = 64 * 1024);
/// Reads exactly n bytes (consuming `pending` first), e.g. an IMAP literal.
Result<std::string> read_exact(Stream& stream, std::string& pending, std::size_t n,
                               Deadline deadline);
/// Reads until EOF (returns everything read; EOF is success here) or max_len bytes
/// (Errc::Limit).
Result<std::string> read_to_eof(Stream& stream, Deadline deadline,
                                std::size_t max_len = 16 * 1024 * 1024);

}  // namespace twinbox::net
