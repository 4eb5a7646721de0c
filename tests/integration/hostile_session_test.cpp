// Hostile or broken server answers at the client-session level (tests/support/hostile_server):
// a real client::Session over TCP against a scripted server. Each answer must give a clean
// error or a sane result: no crash, no hang, no unbounded memory.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <twinbox/client/connect.hpp>
#include <twinbox/client/session.hpp>

#include "support/hostile_server.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

client::EndpointOptions endpoint(const HostileServer& srv) {
  client::EndpointOptions o;
  o.transport = client::Transport::Plain;
  o.host = "127.0.0.1";
  o.port = srv.port();
  o.credentials.username = "alice";
  o.credentials.password = "secret";
  o.send_id = false;
  o.connect_timeout = std::chrono::seconds(5);
  o.command_timeout = std::chrono::seconds(5);
  o.session.max_response_line = 1u << 20;
  o.session.max_literal = 4u << 20;
  return o;
}

std::unique_ptr<client::Session> login(const HostileServer& srv) {
  auto s = client::connect(endpoint(srv));
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message));
  return std::move(*s);
}

net::Deadline soon() { return net::deadline_in(std::chrono::seconds(10)); }

imap::SeqSet range(std::uint32_t lo, std::uint32_t hi) {
  imap::SeqSet s;
  s.add(lo, hi);
  return s;
}

/// SELECT answer for a mailbox of `exists` messages with UIDs 1..exists.
void answer_select(HostileConnection& c, const HostileCommand& cmd, int exists) {
  c.send("* " + std::to_string(exists) + " EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
         "* OK [UIDNEXT " + std::to_string(exists + 1) + "] n\r\n"
         "* OK [HIGHESTMODSEQ 20] m\r\n* FLAGS (\\Seen \\Flagged \\Deleted)\r\n");
  c.ok(cmd, "[READ-WRITE] selected");
}

template <class T>
void check_broken(client::Session& s, const Result<T>& r, const char* what) {
  REQUIRE_FALSE_MESSAGE(r.has_value(), std::string(what) << ": the operation succeeded");
  MESSAGE(std::string(what) << ": " << r.error().message);
  CHECK(!r.error().message.empty());
  CHECK(s.broken().has_value());
}

class CountingSink : public client::MessageSink {
 public:
  Status begin(SeqNum, std::uint64_t) override { return {}; }
  Status data(std::string_view chunk) override {
    bytes += chunk.size();
    return {};
  }
  Status end(const imap::FetchData&) override { return {}; }
  std::uint64_t bytes = 0;
};

}  // namespace

TEST_CASE("a literal far above any limit breaks the connection without allocating it") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        answer_select(c, cmd, 1);
      } else if (cmd.name == "UID FETCH") {
        c.send("* 1 FETCH (UID 1 FLAGS () BODY[HEADER] {99999999999999}\r\nFrom: x\r\n");
        c.flood(std::string(4096, 'x'), 16u << 20);
        return false;
      }
      return true;
    });
  });
  auto s = login(srv);
  REQUIRE(s->wait(s->select("INBOX"), soon()));
  client::FetchItems items;
  items.extra.emplace_back("BODY.PEEK[HEADER]");
  auto r = s->wait(s->uid_fetch(range(1, 1), items), soon());
  check_broken(*s, r, "huge literal");
}

TEST_CASE("an endless response line stops at the line limit") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "NOOP") {
        c.send("* OK ");
        c.flood(std::string(65536, 'A'), 256u << 20);
        return false;
      }
      return true;
    });
  });
  auto s = login(srv);
  auto r = s->wait(s->noop(), soon());
  check_broken(*s, r, "endless line");
  s.reset();  // closes the socket: the flood ends
  // The client gave up near its 1 MiB limit: the server could not push anywhere near 256 MiB
  // (kernel socket buffers hold a few MiB at most).
  CHECK(srv.bytes_sent() < (64u << 20));
}

TEST_CASE("deeply nested parentheses are a parse error, not a stack overflow") {
  for (const std::string item : {"BODYSTRUCTURE ", "ENVELOPE ", "X-HOSTILE "}) {
    CAPTURE(item);
    HostileServer srv([item](HostileConnection& conn) {
      conn.serve([item](HostileConnection& c, const HostileCommand& cmd) {
        if (cmd.name == "SELECT") {
          answer_select(c, cmd, 1);
        } else if (cmd.name == "UID FETCH") {
          std::string deep = "* 1 FETCH (UID 1 " + item + std::string(200000, '(') +
                             std::string(200000, ')') + ")\r\n";
          c.send(deep);
          c.ok(cmd);
        }
        return true;
      });
    });
    auto s = login(srv);
    REQUIRE(s->wait(s->select("INBOX"), soon()));
    auto r = s->wait(s->uid_fetch(range(1, 1), client::FetchItems{}), soon());
    check_broken(*s, r, "deep nesting");
  }
}

TEST_CASE("EXPUNGE in the middle of a UID STORE keeps the sequence map right") {
  HostileServer srv([](HostileConnection& conn) {
    conn.capabilities = "IMAP4rev1 AUTH=PLAIN SASL-IR ENABLE UIDPLUS";  // no QRESYNC: EXPUNGE
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        answer_select(c, cmd, 3);
      } else if (cmd.name == "UID FETCH") {
        c.send("* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n"
               "* 3 FETCH (UID 3 FLAGS ())\r\n");
        c.ok(cmd);
      } else if (cmd.name == "UID STORE") {
        c.send("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 EXPUNGE\r\n"
               "* 2 FETCH (UID 3 FLAGS (\\Seen))\r\n");
        c.ok(cmd);
      } else {
        c.ok(cmd);
      }
      return true;
    });
  });
  auto s = login(srv);
  REQUIRE(s->wait(s->select("INBOX"), soon()));
  REQUIRE(s->wait(s->uid_fetch(range(1, 3), client::FetchItems{}), soon()));
  auto r = s->wait(s->uid_store(range(1, 3), client::StoreMode::Add, imap::FlagSet{"\\Seen"}),
                   soon());
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  REQUIRE(s->selected() != nullptr);
  CHECK(s->selected()->exists == 2);
  CHECK(s->uid_of(SeqNum(1)) == std::optional<Uid>(Uid(1)));
  CHECK(s->uid_of(SeqNum(2)) == std::optional<Uid>(Uid(3)));
  auto ch = s->take_changes();
  (void)ch;
  CHECK(!s->broken().has_value());
}

TEST_CASE("a FETCH for a UID outside the range asked is not part of the answer") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        answer_select(c, cmd, 5);
      } else if (cmd.name == "UID FETCH") {
        c.send("* 1 FETCH (UID 1 FLAGS ())\r\n* 5 FETCH (UID 4000000000 FLAGS (\\Deleted))\r\n"
               "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n* 4 FETCH (UID 77 FLAGS ())\r\n");
        c.ok(cmd);
      } else {
        c.ok(cmd);
      }
      return true;
    });
  });
  auto s = login(srv);
  REQUIRE(s->wait(s->select("INBOX"), soon()));
  auto r = s->wait(s->uid_fetch(range(1, 2), client::FetchItems{}), soon());
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  for (const auto& f : r->messages) {
    REQUIRE(f.uid.has_value());
    CHECK_MESSAGE(f.uid->value <= 2, "UID " << f.uid->value << " outside 1:2 was returned");
  }
  CHECK(r->messages.size() == 2);
  CHECK(!s->broken().has_value());
}

TEST_CASE("VANISHED naming UIDs never seen is reported, nothing more") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        c.send("* VANISHED (EARLIER) 1:4294967295\r\n* VANISHED 3000000000:4000000000\r\n");
        answer_select(c, cmd, 2);
      } else {
        c.ok(cmd);
      }
      return true;
    });
  });
  auto s = login(srv);
  client::SelectOptions o;
  client::QresyncParams q;
  q.uidvalidity = UidValidity(7);
  q.modseq = ModSeq(5);
  o.qresync = q;
  auto r = s->wait(s->select("INBOX", o), soon());
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->exists == 2);
  CHECK(!s->broken().has_value());
  // A second command still works: the connection is sound.
  CHECK(s->wait(s->noop(), soon()).has_value());
}

TEST_CASE("a BYE in the middle of a command fails it with the server's text") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        answer_select(c, cmd, 3);
      } else if (cmd.name == "UID FETCH") {
        c.send("* 1 FETCH (UID 1 FLAGS ())\r\n* BYE server shutting down for maintenance\r\n");
        return false;  // closes
      }
      return true;
    });
  });
  auto s = login(srv);
  REQUIRE(s->wait(s->select("INBOX"), soon()));
  auto p1 = s->uid_fetch(range(1, 3), client::FetchItems{});
  auto p2 = s->noop();  // pipelined behind it: fails too
  auto r = s->wait(p1, soon());
  check_broken(*s, r, "BYE mid-command");
  CHECK(r.error().message.find("maintenance") != std::string::npos);
  CHECK(r.error().code == Errc::Closed);
  auto r2 = s->wait(p2, soon());
  CHECK_FALSE(r2.has_value());
  // Later operations fail at once.
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(s->wait(s->noop(), soon()).has_value());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("a server that stops answering is a timeout, bounded by the deadline") {
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "NOOP") {
        c.send("* OK still thinking");  // no CRLF, then silence
        c.wait_client_closed();
        return false;
      }
      return true;
    });
  });
  auto s = login(srv);
  auto t0 = std::chrono::steady_clock::now();
  auto r = s->wait(s->noop(), net::deadline_in(std::chrono::milliseconds(500)));
  CHECK_FALSE(r.has_value());
  if (!r) CHECK(r.error().code == Errc::Timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("a streamed body far above the size the server announced keeps memory flat") {
  // The client streams BODY[] literals to a sink whatever their size (memory independent of
  // the message size); this checks the session side only: the sink sees the bytes, the
  // session does not buffer them.
  HostileServer srv([](HostileConnection& conn) {
    conn.serve([](HostileConnection& c, const HostileCommand& cmd) {
      if (cmd.name == "SELECT") {
        answer_select(c, cmd, 1);
      } else if (cmd.name == "UID FETCH") {
        const std::uint64_t n = 24u << 20;
        c.send("* 1 FETCH (UID 1 RFC822.SIZE 300 BODY[] {" + std::to_string(n) + "}\r\n");
        if (c.flood(std::string(65536, 'x'), n) != n) return false;
        c.send(")\r\n");
        c.ok(cmd);
      }
      return true;
    });
  });
  auto s = login(srv);
  REQUIRE(s->wait(s->select("INBOX"), soon()));
  CountingSink sink;
  client::FetchItems items;
  items.size = true;
  auto r = s->wait(s->uid_fetch_stream(range(1, 1), items, sink), soon());
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(sink.bytes == (24u << 20));
}
