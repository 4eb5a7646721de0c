// Session driven over an in-memory stream: byte-by-byte splits, pipelining, snapshots.

#include <doctest/doctest.h>

#include <string>

#include <twinbox/net/deflate.hpp>

#include "../../../src/server/core.hpp"
#include "../../../src/server/session.hpp"
#include "memory_stream.hpp"

using namespace twinbox;
using namespace twinbox::server;

namespace {

struct Fixture {
  std::unique_ptr<ServerCore> core;
  std::int64_t inbox = 0;

  explicit Fixture(std::set<std::string> disabled = {"OBJECTID"}) {
    auto storage = Storage::open(":memory:");
    REQUIRE(storage);
    Options opt;
    opt.users = {{"alice", "secret"}};
    opt.limits.auth_fail_delay_ms = 0;
    opt.disabled = std::move(disabled);
    core = std::make_unique<ServerCore>(opt, std::move(*storage));
    REQUIRE(core->ensure_user_mailboxes("alice"));
    auto mb = core->store().find_mailbox("alice", "INBOX");
    REQUIRE((mb && *mb));
    inbox = (*mb)->id;
    REQUIRE(core->store().reset_uidvalidity(inbox, UidValidity(7)));
    for (int k = 1; k <= 3; ++k) {
      REQUIRE(core->store().append(inbox, "Subject: m" + std::to_string(k) + "\r\n\r\nbody\r\n", {},
                                   1704103200, 0));
    }
  }

  /// Runs a logged-in session over `input` handed out in chunks of `chunk` octets.
  std::string run(const std::string& input, std::size_t chunk) {
    auto stream = std::make_unique<testing::MemoryStream>(input, chunk);
    std::string out;
    stream->set_output(&out);
    auto* raw = stream.get();
    Session s(*core, std::move(stream), 1);
    s.start("alice");
    for (int i = 0; i < 1000000 && !s.closed(); ++i) {
      bool drained = raw->drained();
      s.on_ready();
      if (drained) break;
    }
    return out;
  }
};

const std::string kScript =
    "a1 ENABLE QRESYNC\r\n"
    "a2 SELECT INBOX\r\n"
    "a3 APPEND INBOX (\\Seen) {10}\r\nSubject: x\r\n"
    "a4 UID STORE 1:2 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Deleted $Work)\r\n"
    "a5 UID EXPUNGE 1\r\n"
    "a6 UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)]) (CHANGEDSINCE 1)\r\n"
    "a7 SEARCH RETURN (ALL COUNT) DELETED\r\n"
    "a8 LOGOUT\r\n";

}  // namespace

TEST_CASE("a session gives the same answers whatever way the input is split") {
  std::string whole = Fixture().run(kScript, 1 << 20);
  CHECK(whole.find("a8 OK Logout completed.") != std::string::npos);
  for (std::size_t chunk : {1, 2, 3, 7, 13}) {
    CAPTURE(chunk);
    // One continuation "+ Ready" may be added when the literal is not there yet.
    std::string split = Fixture().run(kScript, chunk);
    std::string::size_type p;
    while ((p = split.find("+ Ready for literal data\r\n")) != std::string::npos) split.erase(p, 26);
    std::string w = whole;
    while ((p = w.find("+ Ready for literal data\r\n")) != std::string::npos) w.erase(p, 26);
    CHECK(split == w);
  }
}

TEST_CASE("pipelined commands are answered in order with their untagged data") {
  std::string out = Fixture().run(kScript, 1 << 20);
  auto pos = [&](const char* s) { return out.find(s); };
  CHECK(pos("* ENABLED QRESYNC") < pos("a1 OK"));
  CHECK(pos("a2 OK [READ-WRITE]") < pos("a3 OK [APPENDUID 7 4]"));
  CHECK(pos("* 4 EXISTS") < pos("a3 OK"));
  CHECK(pos("* VANISHED 1\r\n") < pos("a5 OK [HIGHESTMODSEQ"));
  CHECK(pos("a6 OK") != std::string::npos);
  CHECK(out.find("* 1 FETCH (UID 2 FLAGS ($Work \\Deleted \\Recent) RFC822.SIZE 21 "
                 "BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: m2\r\n\r\n MODSEQ (") != std::string::npos);
  CHECK(out.find("* ESEARCH (TAG \"a7\") COUNT 1 ALL 1\r\n") != std::string::npos);
}

TEST_CASE("a failed login is answered and the session goes on") {
  Fixture f;
  auto storage_out = [&](const std::string& in) {
    auto stream = std::make_unique<testing::MemoryStream>(in);
    std::string out;
    stream->set_output(&out);
    Session s(*f.core, std::move(stream), 2);
    s.start();
    s.on_ready();
    s.on_ready();
    return out;
  };
  std::string out = storage_out("a LOGIN alice nope\r\nb LOGIN alice secret\r\nc CAPABILITY\r\n");
  CHECK(out.rfind("* OK [CAPABILITY IMAP4rev1 ", 0) == 0);
  CHECK(out.find("a NO [AUTHENTICATIONFAILED]") != std::string::npos);
  CHECK(out.find("b OK [CAPABILITY IMAP4rev1 ") != std::string::npos);
  CHECK(out.find("* CAPABILITY IMAP4rev1 ") != std::string::npos);
}

TEST_CASE("another session's expunge waits for a command that may carry it") {
  Fixture f;
  auto s1_stream = std::make_unique<testing::MemoryStream>("a SELECT INBOX\r\n");
  std::string out1;
  s1_stream->set_output(&out1);
  auto* in1 = s1_stream.get();
  Session s1(*f.core, std::move(s1_stream), 1);
  s1.start("alice");
  s1.on_ready();
  s1.on_ready();
  REQUIRE(out1.find("a OK [READ-WRITE]") != std::string::npos);

  REQUIRE(f.core->store().expunge(f.inbox, {Uid(2)}));
  out1.clear();
  in1->feed("b FETCH 1:3 (UID)\r\nc STORE 3 +FLAGS (\\Seen)\r\nd SEARCH ALL\r\n");
  for (int i = 0; i < 6; ++i) s1.on_ready();
  CHECK(out1.find(" EXPUNGE\r\n") == std::string::npos);
  CHECK(out1.find("* 3 FETCH (UID 3)") != std::string::npos);
  CHECK(out1.find("* SEARCH 1 3\r\n") != std::string::npos);
  out1.clear();
  in1->feed("e NOOP\r\n");
  for (int i = 0; i < 3; ++i) s1.on_ready();
  CHECK(out1 == "* 2 EXPUNGE\r\ne OK NOOP completed.\r\n");
}

namespace {

/// Raw deflate of `plain` as a client's compressor sends it (Z_SYNC_FLUSH at the end).
std::string deflate_raw(const std::string& plain) {
  auto sink = std::make_unique<testing::MemoryStream>("");
  std::string wire;
  sink->set_output(&wire);
  auto z = net::wrap_deflate(std::move(sink));
  REQUIRE(z);
  REQUIRE((*z)->write_some(plain.data(), plain.size()).value() == plain.size());
  REQUIRE((*z)->flush().value());
  return wire;
}

/// Inflates a server's compressed output.
std::string inflate_raw(const std::string& wire) {
  auto source = std::make_unique<testing::MemoryStream>(wire);
  source->set_eof();
  auto z = net::wrap_deflate(std::move(source));
  REQUIRE(z);
  std::string plain;
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    auto n = (*z)->read_some(buf, sizeof buf);
    if (!n) break;
    plain.append(buf, *n);
  }
  return plain;
}

}  // namespace

TEST_CASE("COMPRESS: commands pipelined after COMPRESS DEFLATE are inflated and answered") {
  // RFC 4978 §3: the client compresses from the first octet after its COMPRESS command.
  // A client that does not wait for the OK sends compressed commands in the same packet;
  // they must neither be dropped nor read as plain text.
  Fixture f;
  std::string in = "c1 COMPRESS DEFLATE\r\n" + deflate_raw("c2 STATUS INBOX (MESSAGES)\r\nc3 LOGOUT\r\n");
  auto stream = std::make_unique<testing::MemoryStream>(in);
  std::string out;
  stream->set_output(&out);
  Session s(*f.core, std::move(stream), 3);
  s.start("alice");
  for (int i = 0; i < 20 && !s.closed(); ++i) s.on_ready();
  const std::string ok = "c1 OK DEFLATE active\r\n";
  auto at = out.find(ok);
  REQUIRE(at != std::string::npos);
  std::string after = inflate_raw(out.substr(at + ok.size()));
  CHECK(after == "* STATUS INBOX (MESSAGES 3)\r\nc2 OK Status completed.\r\n"
                 "* BYE Logging out\r\nc3 OK Logout completed.\r\n");
}
