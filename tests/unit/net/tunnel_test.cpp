#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tunnel.hpp>

#include "test_util.hpp"

using namespace twinbox;
using namespace twinbox::net;
using namespace std::chrono_literals;

namespace {

Deadline soon() { return deadline_in(5s); }

/// True when this process has no child left, reaped or not (no zombie behind us).
bool no_children() {
  int st = 0;
  return ::waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST_CASE("tunnel: split_command") {
  using V = std::vector<std::string>;
  CHECK(split_command("ssh -q host imapd") == V{"ssh", "-q", "host", "imapd"});
  CHECK(split_command("  a  'b c' \"d \\\"e\\\"\" f\\ g ") == V{"a", "b c", "d \"e\"", "f g"});
  CHECK(split_command("sh -c 'exit 3; echo |'") == V{"sh", "-c", "exit 3; echo |"});
  CHECK(split_command("") == V{});
  CHECK_FALSE(split_command("a | b"));
  CHECK_FALSE(split_command("echo $HOME"));
  CHECK_FALSE(split_command("a 'unbalanced"));
}

TEST_CASE("tunnel: cat echoes, close reaps the child") {
  auto t = spawn_tunnel("cat");
  REQUIRE_MESSAGE(t, test::why(t));
  CHECK((*t)->describe() == "tunnel `cat`");
  REQUIRE(write_all(**t, "a1 NOOP\r\n", soon()));
  std::string pending;
  auto line = read_line(**t, pending, soon());
  REQUIRE(line);
  CHECK(*line == "a1 NOOP");
  (*t)->close();
  CHECK(no_children());
  auto after = (*t)->read_some(pending.data(), 0);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == Errc::Closed);
}

TEST_CASE("tunnel: the child's exit status is in the Closed error") {
  auto t = spawn_tunnel("sh -c 'exit 3'");
  REQUIRE(t);
  std::string pending;
  auto r = read_line(**t, pending, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Closed);
  CHECK(r.error().message.find("exited with status 3") != std::string::npos);
  t->reset();
  CHECK(no_children());
}

TEST_CASE("tunnel: shell metacharacters run through /bin/sh; stderr goes where asked") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  auto t = spawn_tunnel("echo oops >&2; echo out", {.stderr_fd = p[1]});
  ::close(p[1]);
  REQUIRE(t);
  auto out = read_to_eof(**t, soon());
  REQUIRE(out);
  CHECK(*out == "out\n");
  char buf[64];
  auto n = ::read(p[0], buf, sizeof buf);
  ::close(p[0]);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)) == "oops\n");
  t->reset();
  CHECK(no_children());
}

TEST_CASE("tunnel: a lingering child gets SIGTERM, one ignoring it SIGKILL") {
  for (const char* cmd : {"sleep 30", "trap '' TERM; exec sleep 30"}) {
    CAPTURE(cmd);
    auto start = Clock::now();
    auto t = spawn_tunnel(cmd, {.grace = 50ms});
    REQUIRE(t);
    (*t)->close();
    CHECK(Clock::now() - start < 3s);
    CHECK(no_children());
  }
}

TEST_CASE("tunnel: a missing program is Errc::Io naming the command") {
  auto t = spawn_tunnel("/nonexistent/imapd --stdio");
  REQUIRE_FALSE(t);
  CHECK(t.error().code == Errc::Io);
  CHECK(t.error().message.find("/nonexistent/imapd") != std::string::npos);
  CHECK(no_children());
}
