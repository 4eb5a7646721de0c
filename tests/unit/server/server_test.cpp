// Server: the loop in a background thread, the direct store API, IDLE wake-ups, users file,
// serve_stdio (PREAUTH tunnel endpoint), seed_demo.

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/server/server.hpp>

#include "support/line_client.hpp"
#include "support/running_server.hpp"

using namespace twinbox;
using namespace twinbox::server;

namespace {

using Running = twinbox::test::RunningServer;
using Client = twinbox::test::LineClient;


Options base_options() {
  Options opt;
  opt.port = 0;
  opt.users = {{"alice", "secret"}};
  opt.limits.auth_fail_delay_ms = 10;
  return opt;
}

}  // namespace

TEST_CASE("server: login over TCP, direct append wakes an IDLE session at once") {
  Running r(base_options());
  Client c(r.port);
  CHECK(c.line().rfind("* OK [CAPABILITY IMAP4rev1", 0) == 0);
  c.send("a LOGIN alice secret");
  CHECK(c.until_contains("a", "a OK [CAPABILITY"));
  c.send("b SELECT INBOX");
  CHECK(c.until_contains("b", "* 0 EXISTS"));
  c.send("c IDLE");
  CHECK(c.line() == "+ idling");
  auto uid = r.server->append_message("alice", "INBOX", "Subject: pushed\r\n\r\nhi\r\n", {"\\Flagged"});
  REQUIRE(uid);
  CHECK(*uid == Uid(1));
  CHECK(c.line() == "* 1 EXISTS");
  CHECK(c.line() == "* 1 RECENT");
  REQUIRE(r.server->set_flags("alice", "INBOX", *uid, {"\\Seen"}));
  CHECK(c.line() == "* 1 FETCH (FLAGS (\\Seen \\Recent))");
  REQUIRE(r.server->expunge("alice", "INBOX", {*uid}));
  CHECK(c.line() == "* 1 EXPUNGE");
  c.send("DONE");
  CHECK(c.line() == "c OK Idle completed.");
  CHECK(r.server->connection_count() == 1);
}

TEST_CASE("server: direct store API") {
  auto s = Server::create(base_options());
  REQUIRE(s);
  auto& srv = **s;
  REQUIRE(srv.create_mailbox("alice", "Sent", {"\\Sent"}));
  auto u = srv.append_message("alice", "Sent", "Subject: a\r\n\r\nb\r\n", {"$Kw", "\\seen"}, 1700000000);
  REQUIRE(u);
  auto msgs = srv.messages("alice", "Sent");
  REQUIRE(msgs);
  REQUIRE(msgs->size() == 1);
  CHECK((*msgs)[0].flags == std::vector<std::string>{"$Kw", "\\Seen"});
  CHECK((*msgs)[0].internaldate == 1700000000);
  CHECK(*srv.message_body("alice", "Sent", *u) == "Subject: a\r\n\r\nb\r\n");
  auto boxes = srv.mailboxes("alice");
  REQUIRE(boxes);
  CHECK(boxes->size() == 2);
  CHECK_FALSE(srv.append_message("alice", "Nope", "x"));
  REQUIRE(srv.reset_uidvalidity("alice", "Sent", UidValidity(5)));
  CHECK(srv.mailbox("alice", "Sent")->uidvalidity == UidValidity(5));
}

TEST_CASE("server: users file and the connection limit") {
  auto path = std::filesystem::temp_directory_path() / ("twinbox-users-" + std::to_string(::getpid()));
  {
    std::ofstream f(path);
    f << "# users\nbob:pa:ss\n\n";
  }
  Options opt = base_options();
  opt.users.clear();
  opt.users_file = path.string();
  opt.limits.max_connections = 1;
  {
    Running r(opt);
    Client c(r.port);
    c.line();
    c.send("a LOGIN bob pa:ss");
    CHECK(c.until_contains("a", "a OK"));
    Client d(r.port);
    CHECK(d.line() == "* BYE Too many connections; try again later.");
  }
  {
    std::ofstream f(path);
    f << "no-colon-here\n";
  }
  auto bad = Server::create(opt);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::Config);
  std::filesystem::remove(path);
}

TEST_CASE("server: serve_stdio is one pre-authenticated session") {
  auto s = Server::create(base_options());
  REQUIRE(s);
  int to_server[2];
  int from_server[2];
  REQUIRE(::pipe(to_server) == 0);
  REQUIRE(::pipe(from_server) == 0);
  std::string script = "a SELECT INBOX\r\nb LOGOUT\r\n";
  REQUIRE(::write(to_server[1], script.data(), script.size()) == static_cast<ssize_t>(script.size()));
  ::close(to_server[1]);
  auto st = (*s)->serve_stdio("alice", to_server[0], from_server[1]);
  CHECK(st);
  ::close(from_server[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(from_server[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(from_server[0]);
  ::close(to_server[0]);
  CHECK(out.rfind("* PREAUTH [CAPABILITY IMAP4rev1 ", 0) == 0);
  CHECK(out.find("a OK [READ-WRITE] Select completed.") != std::string::npos);
  CHECK(out.find("* BYE Logging out\r\nb OK Logout completed.") != std::string::npos);
}

TEST_CASE("seed_demo is deterministic and varied") {
  CHECK(demo_message(1, 5) == demo_message(1, 5));
  CHECK(demo_message(1, 5) != demo_message(2, 5));
  auto a = Server::create(base_options());
  REQUIRE(a);
  REQUIRE((*a)->seed_demo("alice", 60, 42));
  auto boxes = (*a)->mailboxes("alice");
  REQUIRE(boxes);
  CHECK(boxes->size() == 6);
  std::size_t total = 0;
  bool multipart = false, encoded = false, keyword = false;
  for (const auto& b : *boxes) {
    auto msgs = (*a)->messages("alice", b.name);
    REQUIRE(msgs);
    total += msgs->size();
    for (const auto& m : *msgs) {
      auto body = (*a)->message_body("alice", b.name, m.uid);
      multipart = multipart || body->find("multipart/mixed") != std::string::npos;
      encoded = encoded || body->find("=?UTF-8?") != std::string::npos;
      for (const auto& f : m.flags) keyword = keyword || f[0] == '$';
    }
  }
  CHECK(total == 60);
  CHECK(multipart);
  CHECK(encoded);
  CHECK(keyword);
}
