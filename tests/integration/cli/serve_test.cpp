// `twinbox serve` through the binary: --stdio as the tunnel endpoint of a real sync,
// --disable (case, unknown names), --max-connections and --idle-timeout. The server logic
// behind each option is tested in tests/unit/server and tests/scenario; here the options
// must reach it from the command line.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>

#include "support/line_client.hpp"

#include "process.hpp"

using namespace twinbox;
using namespace twinbox::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

using Conn = twinbox::test::LineClient;

std::uint16_t start_port(Child& serve) {
  auto line = serve.read_line(20s);
  REQUIRE_MESSAGE(line, serve.stderr_text());
  return static_cast<std::uint16_t>(std::stoi(*line));
}


constexpr const char* kListStatus = "l LIST \"\" \"*\" RETURN (STATUS (MESSAGES))";

/// Mailbox name (as sent) -> MESSAGES, from the `* STATUS` lines of a LIST-STATUS answer.
std::map<std::string, unsigned> status_counts(const std::vector<std::string>& lines) {
  std::map<std::string, unsigned> out;
  for (const auto& l : lines) {
    if (l.rfind("* STATUS ", 0) != 0) continue;
    const auto open = l.rfind(" (MESSAGES ");
    REQUIRE_MESSAGE(open != std::string::npos, l);
    out[l.substr(9, open - 9)] = static_cast<unsigned>(std::stoul(l.substr(open + 11)));
  }
  return out;
}

/// Message counts of every mailbox of `user` in the SQLite store `db`, read through
/// `twinbox serve --stdio` (the PREAUTH endpoint, commands from a file on stdin).
std::map<std::string, unsigned> stdio_counts(const TempDir& dir, const std::string& db,
                                             const std::string& user) {
  const std::string script = dir.write("stdio.in", std::string(kListStatus) + "\r\nz LOGOUT\r\n");
  auto r = run_program({"sh", "-c",
                        std::string(TWINBOX_BINARY) + " serve --stdio --db '" + db + "' --user " +
                            user + " < '" + script + "'"},
                       30s);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  std::vector<std::string> lines;
  for (auto l : lines_of(r.out)) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(l);
  }
  CHECK(lines.front().rfind("* PREAUTH ", 0) == 0);
  CHECK(std::find(lines.begin(), lines.end(), "z OK Logout completed.") != lines.end());
  return status_counts(lines);
}

/// The same over TCP, logged in as user/password.
std::map<std::string, unsigned> tcp_counts(std::uint16_t port, const std::string& user,
                                           const std::string& password) {
  Conn c(port);
  c.line();
  c.send("a LOGIN " + user + " " + password);
  REQUIRE(c.until("a").back().rfind("a OK", 0) == 0);
  c.send(kListStatus);
  auto counts = status_counts(c.until("l"));
  c.send("z LOGOUT");
  c.until("z");
  return counts;
}

}  // namespace

TEST_CASE("serve --stdio is a tunnel endpoint: a sync with a TCP server converges") {
  TempDir dir;
  const std::string local_db = dir.path + "/local.db";
  // The local store gets its own sample mail once (seeding in the tunnel command would add
  // it again on every connection).
  {
    const std::string quit = dir.write("quit.in", "q LOGOUT\r\n");
    auto seeded = run_program({"sh", "-c",
                               std::string(TWINBOX_BINARY) + " serve --stdio --db '" + local_db +
                                   "' --user alice --seed-demo 4 < '" + quit + "'"},
                              30s);
    REQUIRE_MESSAGE(seeded.status == 0, seeded.err);
  }
  // Remote: alice is seeded first (seed 1), bob second (seed 2): bob's mail differs from
  // the local alice's, which was seeded with 1.
  Child remote({"serve", "--listen", "127.0.0.1:0", "--user", "alice:alice-pw", "--user",
                "bob:bob-pw", "--seed-demo", "5"});
  const auto port = start_port(remote);
  const auto local_before = stdio_counts(dir, local_db, "alice");
  const auto remote_before = tcp_counts(port, "bob", "bob-pw");
  REQUIRE(local_before.count("INBOX"));
  REQUIRE(remote_before.count("INBOX"));
  REQUIRE(local_before.at("INBOX") > 0);
  REQUIRE(remote_before.at("INBOX") > 0);

  const std::string config = dir.write(
      "c.conf", "state = " + dir.path + "/state.db\n[local]\ntype = tunnel\ncommand = " +
                    std::string(TWINBOX_BINARY) + " serve --stdio --db " + local_db +
                    " --user alice\n[remote]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " +
                    std::to_string(port) + "\nusername = bob\npassword = bob-pw\n");
  auto first = run_twinbox({"sync", "--config", config, "--exit-code"}, 120s);
  CHECK_MESSAGE(first.status == 1, first.out << first.err);  // 1: something changed
  auto again = run_twinbox({"sync", "--config", config, "--exit-code"}, 120s);
  CHECK_MESSAGE(again.status == 0, again.out << again.err);  // 0: nothing left to do

  const auto local_after = stdio_counts(dir, local_db, "alice");
  const auto remote_after = tcp_counts(port, "bob", "bob-pw");
  CHECK(local_after == remote_after);
  // Mail went both ways: each INBOX now holds more than either side had.
  CHECK(local_after.at("INBOX") > local_before.at("INBOX"));
  CHECK(local_after.at("INBOX") > remote_before.at("INBOX"));
  for (const auto& [name, n] : local_before) CHECK_MESSAGE(remote_after.count(name), name);
  for (const auto& [name, n] : remote_before) CHECK_MESSAGE(local_after.count(name), name);
  CHECK(remote.stop() == 0);
}

TEST_CASE("serve --disable: names in any case switch extensions off; unknown names exit 3") {
  Child serve({"serve", "--listen", "127.0.0.1:0", "--user", "alice:secret", "--disable",
               "QRESYNC,condstore"});
  const auto port = start_port(serve);
  Conn c(port);
  c.line();
  c.send("a LOGIN alice secret");
  const std::string ok = c.until("a").back();
  REQUIRE(ok.rfind("a OK [CAPABILITY IMAP4rev1 ", 0) == 0);
  CHECK_FALSE(contains(ok, "CONDSTORE"));
  CHECK_FALSE(contains(ok, "QRESYNC"));
  CHECK(contains(ok, " UIDPLUS "));  // the others stay
  c.send("b SELECT INBOX (CONDSTORE)");
  CHECK(c.until("b").back().rfind("b BAD ", 0) == 0);
  CHECK(serve.stop() == 0);

  auto bad = run_twinbox({"serve", "--listen", "127.0.0.1:0", "--user", "alice:secret",
                          "--disable", "qresync,FROBNICATE"},
                         10s);
  CHECK(bad.status == 3);
  CHECK_MESSAGE(contains(bad.err, "'FROBNICATE': no such extension"), bad.err);
  CHECK_MESSAGE(contains(bad.err, "SEARCHRES"), bad.err);  // the known names are listed
}

TEST_CASE("serve --max-connections 2: a third simultaneous connection gets BYE") {
  Child serve({"serve", "--listen", "127.0.0.1:0", "--user", "alice:secret",
               "--max-connections", "2"});
  const auto port = start_port(serve);
  Conn one(port);
  CHECK(one.line().rfind("* OK [CAPABILITY ", 0) == 0);
  Conn two(port);
  CHECK(two.line().rfind("* OK [CAPABILITY ", 0) == 0);
  Conn three(port);
  CHECK(three.line() == "* BYE Too many connections; try again later.");
  three.expect_eof();
  one.send("a NOOP");
  CHECK(one.line() == "a OK NOOP completed.");
  CHECK(serve.stop() == 0);
}

TEST_CASE("serve --idle-timeout: a silent client is logged out; values below 1 are refused") {
  Child serve({"serve", "--listen", "127.0.0.1:0", "--user", "alice:secret", "--idle-timeout",
               "1"});
  const auto port = start_port(serve);
  Conn c(port);
  CHECK(c.line().rfind("* OK [CAPABILITY ", 0) == 0);
  CHECK(c.line() == "* BYE Disconnected for inactivity.");  // within the 10 s bound
  c.expect_eof();
  CHECK(serve.stop() == 0);

  for (const char* v : {"0", "-5", "2147484"}) {
    CAPTURE(v);
    auto r = run_twinbox({"serve", "--listen", "127.0.0.1:0", "--user", "a:b", "--idle-timeout", v},
                         10s);
    CHECK(r.status == 3);
    CHECK_MESSAGE(contains(r.err, "--idle-timeout"), r.err);
  }
}
