// `twinbox` without servers: help, version, usage and config errors, serve's refusal of a
// plaintext public listener, connection refused, the state lock, the demo.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "process.hpp"

namespace twinbox::test {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string plain_config(unsigned short port, const std::string& state) {
  return "state = " + state +
         "\n[local]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " + std::to_string(port) +
         "\nusername = a\npassword = x\n[remote]\ntype = imap\ntls = none\nhost = 127.0.0.1\n"
         "port = " + std::to_string(port) + "\nusername = b\npassword = y\n";
}

TEST_CASE("--help lists every command with examples and exit codes; --version") {
  auto r = run_twinbox({"--help"});
  CHECK(r.status == 0);
  for (const char* word : {"sync", "watch", "check", "serve", "demo", "Examples:", "Exit status"}) {
    CHECK_MESSAGE(contains(r.out, word), word);
  }
  for (const char* cmd : {"sync", "watch", "check", "serve", "demo"}) {
    auto h = run_twinbox({cmd, "--help"});
    CHECK_MESSAGE(h.status == 0, cmd);
    CHECK_MESSAGE(contains(h.out, "Examples:"), cmd);
    CHECK_MESSAGE(contains(h.out, std::string("twinbox ") + cmd), cmd);
  }
  auto v = run_twinbox({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.rfind("twinbox ", 0) == 0);
  CHECK(contains(v.out, "."));
}

TEST_CASE("usage errors exit 3") {
  CHECK(run_twinbox({}).status == 3);
  CHECK(run_twinbox({"frobnicate"}).status == 3);
  CHECK(run_twinbox({"sync", "--no-such-option"}).status == 3);
  CHECK(run_twinbox({"sync", "--quiet", "--verbose"}).status == 3);
}

TEST_CASE("a bad config file exits 3 naming file and line") {
  TempDir dir;
  const std::string file = dir.write("bad.conf",
                                     "# comment\n[local]\ntype = imapz\nhost = x\n"
                                     "[remote]\nhost = y\nusername = u\npassword = p\n");
  auto r = run_twinbox({"sync", "--config", file});
  CHECK(r.status == 3);
  CHECK_MESSAGE(contains(r.err, file + ":3:"), r.err);
  CHECK_MESSAGE(contains(r.err, "type"), r.err);

  // --json: the error and the summary are JSON lines too.
  auto j = run_twinbox({"sync", "--json", "--config", file});
  CHECK(j.status == 3);
  CHECK(contains(j.out, "\"event\":\"error\""));
  CHECK(contains(j.out, "\"status\":\"config\""));

  // A missing file.
  auto m = run_twinbox({"sync", "--config", dir.path + "/missing.conf"});
  CHECK(m.status == 3);
  CHECK(contains(m.err, "missing.conf"));

  // A password in a file others can read.
  const std::string open_file = dir.write("open.conf", plain_config(1, dir.path + "/s.db"), 0644);
  auto o = run_twinbox({"check", "--config", open_file});
  CHECK(o.status == 3);
  CHECK_MESSAGE(contains(o.err, "chmod"), o.err);
}

TEST_CASE("connection refused exits 6") {
  TempDir dir;
  const std::string file = dir.write("c.conf", plain_config(closed_port(), dir.path + "/s.db"));
  auto r = run_twinbox({"sync", "--config", file});
  CHECK_MESSAGE(r.status == 6, r.err);
  auto c = run_twinbox({"check", "--config", file});
  CHECK_MESSAGE(c.status == 6, c.out << c.err);
}

TEST_CASE("a server that does not speak IMAP exits 9 (protocol) and says where") {
  // A tunnel whose command answers like a web server: the greeting cannot be parsed.
  TempDir dir;
  const std::string tunnel = "command = printf 'HTTP/1.0 400 Bad Request\\r\\n\\r\\n'\n";
  const std::string file = dir.write(
      "c.conf", "state = " + dir.path + "/s.db\n[local]\ntype = tunnel\n" + tunnel +
                    "[remote]\ntype = tunnel\n" + tunnel);
  auto r = run_twinbox({"sync", "--config", file});
  CHECK_MESSAGE(r.status == 9, r.err);
  CHECK_MESSAGE(contains(r.err, "malformed response"), r.err);
  CHECK_MESSAGE(contains(r.err, "HTTP/1.0"), r.err);
}

TEST_CASE("an exception from a library exits 8 (internal) with a request to report it") {
  auto r = run_twinbox({"--test-internal-error", "sync"});
  CHECK_MESSAGE(r.status == 8, r.err);
  CHECK_MESSAGE(contains(r.err, "internal error"), r.err);
  CHECK_MESSAGE(contains(r.err, "please report this"), r.err);
}

TEST_CASE("a state database locked by another run exits 7") {
  TempDir dir;
  const std::string state = dir.path + "/state.db";
  const std::string file = dir.write("c.conf", plain_config(closed_port(), state));
  const int fd = ::open((state + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto r = run_twinbox({"sync", "--config", file});
  CHECK(r.status == 7);
  CHECK_MESSAGE(contains(r.err, "another twinbox run"), r.err);
  ::close(fd);
  // Lock released: the same run gets as far as connecting (refused: 6).
  CHECK(run_twinbox({"sync", "--config", file}).status == 6);
}

TEST_CASE("serve refuses a public plaintext listener") {
  auto r = run_twinbox({"serve", "--listen", "0.0.0.0:0", "--user", "a:b"}, std::chrono::seconds(10));
  CHECK(r.status == 3);
  CHECK_MESSAGE(contains(r.err, "TLS"), r.err);
  CHECK(contains(r.err, "--allow-plaintext"));
  CHECK(run_twinbox({"serve", "--listen", "nonsense", "--user", "a:b"}).status == 3);
  CHECK(run_twinbox({"serve", "--listen", "127.0.0.1:0"}).status == 3);  // no users
  CHECK(run_twinbox({"serve", "--user", "a:b", "--test-drop-after-append"}).status == 3);
}

TEST_CASE("demo: exits 0 and shows both sides identical") {
  const auto start = std::chrono::steady_clock::now();
  auto r = run_twinbox({"demo"}, std::chrono::seconds(60));
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(r.status == 0, r.out << r.err);
  CHECK(contains(r.out, "Both sides are identical"));
  CHECK(contains(r.out, "conflict:"));
  // Every row of the result table says "yes"; INBOX, Archive and Sent are among them.
  bool in_table = false;
  int rows = 0;
  for (const auto& line : lines_of(r.out)) {
    if (contains(line, "identical") && contains(line, "mailbox")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.empty() || contains(line, "conflict:")) break;
    ++rows;
    CHECK_MESSAGE(line.size() >= 3, line);
    CHECK_MESSAGE(line.substr(line.size() - 3) == "yes", line);
  }
  CHECK(rows >= 5);
  CHECK(contains(r.out, "INBOX"));
  CHECK(contains(r.out, "Archive"));
  MESSAGE("twinbox demo took " << secs << " s");
  CHECK(secs < 30);
  // No temporary directory left behind is checked by the demo's own cleanup; the output
  // names it, so verify it is gone.
  const auto at = r.out.find("config: ");
  REQUIRE(at != std::string::npos);
  const std::string conf = r.out.substr(at + 8, r.out.find(' ', at + 8) - at - 8);
  CHECK_MESSAGE(::access(conf.c_str(), F_OK) != 0, conf);
}

}  // namespace
}  // namespace twinbox::test
