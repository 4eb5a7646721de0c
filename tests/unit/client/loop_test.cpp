// client::Loop against scripted servers whose streams carry a real fd that never becomes
// readable (the read end of a pipe nobody writes to): a poll on it can only time out, so a
// round that polls after the answer was already read shows up as Errc::Timeout.
#include <unistd.h>

#include <chrono>

#include "fixture.hpp"

#include <twinbox/client/loop.hpp>

using namespace twinbox;
using namespace twinbox::client;
using twinbox::client::test::soon;

namespace {

/// A ScriptedStream that reports the read end of an idle pipe as its fd, as a TCP socket
/// does when no byte is pending. The scripted bytes themselves are served without the fd.
class PolledScript : public twinbox::test::ScriptedStream {
 public:
  PolledScript(std::string_view script, int fd) : ScriptedStream(script), fd_(fd) {}
  [[nodiscard]] int fd() const override { return fd_; }

 private:
  int fd_;
};

struct IdlePipe {
  IdlePipe() { REQUIRE(::pipe(fds) == 0); }
  ~IdlePipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int fds[2] = {-1, -1};
};

std::unique_ptr<Session> polled_session(std::string_view script, int fd,
                                        twinbox::test::ScriptedStream** raw) {
  auto s = std::make_unique<PolledScript>(script, fd);
  *raw = s.get();
  SessionOptions o;
  o.secure_transport = true;
  return std::make_unique<Session>(std::move(s), std::move(o));
}

}  // namespace

TEST_CASE("Loop::pump returns at once when its first pass completes the awaited command") {
  // The NOOP's answer is released as soon as the command is written, and read in the same
  // on_ready() pass. Before the fix, pump() then polled the (idle) fd for more input and
  // blocked until the deadline: Errc::Timeout here, where the deadline has already passed.
  IdlePipe pipe;
  twinbox::test::ScriptedStream* raw = nullptr;
  auto session = polled_session(client::test::preauth("") +
                                    "C: a1 NOOP\n"
                                    "S: a1 OK done\n",
                                pipe.fds[0], &raw);
  REQUIRE(session->greet(soon()));
  auto noop = session->noop();
  REQUIRE_FALSE(session->ready_without_poll());  // nothing buffered: a poll would block
  Loop loop;
  loop.add(*session);
  const auto expired = net::Deadline(std::chrono::steady_clock::now());
  Status st = loop.pump(expired);
  REQUIRE_MESSAGE(st, st.error().message << "\nnext step: " << raw->next_step());
  CHECK(noop.ready());
  CHECK(noop.result());
  CHECK(raw->finished());
}

TEST_CASE("Loop::pump still polls, and times out, when nothing can move") {
  IdlePipe pipe;
  twinbox::test::ScriptedStream* raw = nullptr;
  // The script wants a command the client never sends: the session has nothing to do.
  auto session = polled_session(client::test::preauth("") + "C: a1 NOOP\nS: a1 OK done\n",
                                pipe.fds[0], &raw);
  REQUIRE(session->greet(soon()));
  Loop loop;
  loop.add(*session);
  Status st = loop.pump(net::Deadline(std::chrono::steady_clock::now()));
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::Timeout);
}
