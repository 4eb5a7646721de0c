// ResponseParser framing: splits, literals, streaming to a sink, limits and hostile input.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <twinbox/imap/parser.hpp>

using namespace twinbox;
using namespace twinbox::imap;
using namespace std::string_literals;

namespace {

struct RecordingSink : LiteralSink {
  struct Lit {
    SeqNum seq;
    std::string item;
    std::uint64_t size = 0;
    std::string data;
    bool ended = false;
  };
  std::vector<Lit> lits;
  std::size_t chunks = 0;
  bool fail_chunk = false;

  Status begin(SeqNum seq, std::string_view item, std::uint64_t size) override {
    lits.push_back(Lit{seq, std::string(item), size, {}, false});
    return {};
  }
  Status chunk(std::string_view data) override {
    if (fail_chunk) return fail(Errc::Io, Scope::Message, "disk full");
    REQUIRE_FALSE(data.empty());
    lits.back().data.append(data);
    ++chunks;
    return {};
  }
  Status end() override {
    lits.back().ended = true;
    return {};
  }
};

std::vector<Response> feed_all(ResponseParser& p, std::string_view wire, std::size_t step) {
  std::vector<Response> out;
  Response r;
  for (std::size_t i = 0; i < wire.size(); i += step) {
    p.feed(wire.substr(i, step));
    ParseStatus s;
    while ((s = p.next(r)) == ParseStatus::Ok) out.push_back(r);
    if (s == ParseStatus::Error) break;
  }
  return out;
}

std::string body_of(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('a' + (i * 7) % 26);
  return s;
}

}  // namespace

TEST_CASE("NeedMore is a state; responses come out in order whatever the split") {
  const std::string wire =
      "* 3 EXISTS\r\n* 1 FETCH (UID 7 BODY[] {5}\r\nhello FLAGS (\\Seen))\r\na1 OK done\r\n";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    ResponseParser p;
    auto rs = feed_all(p, wire, step);
    REQUIRE_MESSAGE(rs.size() == 3, "step " << step);
    CHECK(std::get<FetchData>(rs[1]).bodies[0].data == "hello");
    CHECK(p.consumed() == wire.size());
    CHECK(p.buffered() == 0);
  }
  ResponseParser p;
  Response r;
  CHECK(p.next(r) == ParseStatus::NeedMore);
  p.feed("* 1 EXI");
  CHECK(p.next(r) == ParseStatus::NeedMore);
  p.feed("STS\r");
  CHECK(p.next(r) == ParseStatus::NeedMore);
  p.feed("\n");
  CHECK(p.next(r) == ParseStatus::Ok);
  auto opt = p.next();
  REQUIRE(opt.has_value());
  CHECK_FALSE(opt->has_value());
}

TEST_CASE("reused Response keeps FETCH capacity") {
  ResponseParser p;
  Response r;
  p.feed("* 1 FETCH (UID 1 FLAGS (\\Seen $a $b) MODSEQ (5))\r\n* 2 FETCH (UID 2 FLAGS (\\Answered))\r\n");
  REQUIRE(p.next(r) == ParseStatus::Ok);
  const auto* first = &std::get<FetchData>(r).flags.items();
  const std::size_t cap = first->capacity();
  REQUIRE(p.next(r) == ParseStatus::Ok);
  const auto& f = std::get<FetchData>(r);
  CHECK(f.uid == Uid(2));
  CHECK(f.flags == FlagSet{"\\Answered"});
  CHECK_FALSE(f.modseq.has_value());  // nothing leaks from the previous response
  CHECK(f.flags.items().capacity() == cap);
}

TEST_CASE("literals in mailbox names, envelopes and text") {
  const std::string wire =
      "* LIST () \"/\" {7}\r\nfoo bar\r\n"
      "* STATUS {3}\r\nx y (MESSAGES 1)\r\n"
      "* 2 FETCH (ENVELOPE (NIL {4}\r\nsubj NIL NIL NIL NIL NIL NIL NIL NIL))\r\n";
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, wire.size()}) {
    ResponseParser p;
    auto rs = feed_all(p, wire, step);
    REQUIRE(rs.size() == 3);
    CHECK(std::get<ListData>(rs[0]).mailbox == "foo bar");
    CHECK(std::get<StatusData>(rs[1]).mailbox == "x y");
    CHECK(std::get<FetchData>(rs[2]).envelope->subject == "subj");
  }
}

TEST_CASE("streaming BODY[] literals to a sink keeps memory flat") {
  const std::string body = body_of(200000);
  const std::string wire = "* 1 EXISTS\r\n* 12 FETCH (UID 99 BODY[] {" + std::to_string(body.size()) +
                           "}\r\n" + body + " FLAGS (\\Seen))\r\n* 13 FETCH (BODY[HEADER]<0> {3}\r\nabc UID 100)\r\n";
  for (std::size_t step : {std::size_t{1}, std::size_t{4096}, wire.size()}) {
    RecordingSink sink;
    ResponseParser p;
    p.set_literal_sink(&sink, 0);
    std::vector<Response> rs;
    Response r;
    std::uint64_t max_buffered = 0;
    for (std::size_t i = 0; i < wire.size(); i += step) {
      p.feed(std::string_view(wire).substr(i, step));
      while (p.next(r) == ParseStatus::Ok) rs.push_back(r);
      REQUIRE_FALSE(p.failed());
      max_buffered = std::max(max_buffered, p.buffered());
    }
    REQUIRE(rs.size() == 3);
    if (step < wire.size()) CHECK(max_buffered <= step + 64);  // never the whole body
    REQUIRE(sink.lits.size() == 2);
    CHECK(sink.lits[0].seq == SeqNum(12));
    CHECK(sink.lits[0].item == "BODY[]");
    CHECK(sink.lits[0].size == body.size());
    CHECK(sink.lits[0].data == body);
    CHECK(sink.lits[0].ended);
    CHECK(sink.lits[1].item == "BODY[HEADER]<0>");
    const auto& f = std::get<FetchData>(rs[1]);
    CHECK(f.uid == Uid(99));
    CHECK(f.flags == FlagSet{"\\Seen"});
    REQUIRE(f.bodies.size() == 1);
    CHECK(f.bodies[0].streamed);
    CHECK(f.bodies[0].size == body.size());
    CHECK_FALSE(f.bodies[0].data.has_value());
    CHECK(std::get<FetchData>(rs[2]).bodies[0].origin == 0U);
    CHECK(p.consumed() == wire.size());
  }
}

TEST_CASE("sink threshold, non-body literals and sink failures") {
  RecordingSink sink;
  ResponseParser p;
  p.set_literal_sink(&sink, 10);
  const std::string wire =
      "* 1 FETCH (BODY[] {4}\r\nsmal ENVELOPE (NIL {11}\r\nlong-subjec NIL NIL NIL NIL NIL NIL NIL NIL)"
      " RFC822 {12}\r\n0123456789ab BINARY[2] ~{10}\r\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09)\r\n"
      "* LIST () \"/\" {12}\r\nlong-mailbox\r\n"s;
  auto rs = feed_all(p, std::string_view(wire.data(), wire.size()), 1);
  REQUIRE(rs.size() == 2);
  const auto& f = std::get<FetchData>(rs[0]);
  CHECK(f.bodies[0].data == "smal");          // under the threshold: buffered
  CHECK(f.envelope->subject == "long-subjec");  // not a body item: buffered
  CHECK(f.bodies[1].streamed);
  CHECK(f.bodies[1].item == "RFC822");
  CHECK(f.bodies[2].streamed);
  CHECK(f.bodies[2].size == 10);
  REQUIRE(sink.lits.size() == 2);
  CHECK(sink.lits[1].item == "BINARY[2]");
  CHECK(sink.lits[1].data == std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10));
  CHECK(std::get<ListData>(rs[1]).mailbox == "long-mailbox");

  RecordingSink bad;
  bad.fail_chunk = true;
  ResponseParser q;
  q.set_literal_sink(&bad);
  q.feed("* 1 FETCH (BODY[] {3}\r\nabc)\r\n");
  Response r;
  CHECK(q.next(r) == ParseStatus::Error);
  CHECK(q.error().message.find("disk full") != std::string::npos);
  CHECK(q.error().code == Errc::Io);
}

TEST_CASE("hostile input: limits and errors with offsets; the parser stays dead") {
  ParserLimits lim;
  lim.max_line_length = 1000;
  lim.max_literal_size = 4096;
  lim.max_depth = 16;
  lim.max_items = 100;

  SUBCASE("endless line") {
    ResponseParser p(lim);
    Response r;
    const std::string chunk(300, 'a');
    ParseStatus s = ParseStatus::NeedMore;
    int fed = 0;
    while (s == ParseStatus::NeedMore && fed < 100) {
      p.feed(chunk);
      ++fed;
      s = p.next(r);
    }
    CHECK(s == ParseStatus::Error);
    CHECK(fed == 4);  // detected as soon as the limit is passed, not at the end of the line
    CHECK(p.error().code == Errc::Limit);
    CHECK(p.error().message.find("at byte 1000") != std::string::npos);
    p.feed("\r\n* 1 EXISTS\r\n");
    CHECK(p.next(r) == ParseStatus::Error);
  }
  SUBCASE("2^63 and 2^64+ literal sizes") {
    ResponseParser p(lim);
    Response r;
    p.feed("* 1 EXISTS\r\n* 1 FETCH (BODY[] {9223372036854775808}\r\n");
    CHECK(p.next(r) == ParseStatus::Ok);
    CHECK(p.next(r) == ParseStatus::Error);
    CHECK(p.error().code == Errc::Limit);
    CHECK(p.error().message.find("at byte 30") != std::string::npos);
    ResponseParser q(lim);
    q.feed("* 1 FETCH (BODY[] {99999999999999999999999}\r\n");
    CHECK(q.next(r) == ParseStatus::Error);
    CHECK(q.error().message.find("64 bits") != std::string::npos);
    // Streamed literals have their own cap.
    RecordingSink sink;
    ParserLimits small = lim;
    small.max_streamed_literal_size = 1 << 20;
    ResponseParser s(small);
    s.set_literal_sink(&sink);
    s.feed("* 1 FETCH (BODY[] {9223372036854775808}\r\n");
    CHECK(s.next(r) == ParseStatus::Error);
    CHECK(sink.lits.empty());
  }
  SUBCASE("deep nesting") {
    ResponseParser p(lim);
    Response r;
    std::string deep = "* 1 FETCH (BODYSTRUCTURE " + std::string(500, '(');
    p.feed(deep);
    p.feed("\r\n");
    CHECK(p.next(r) == ParseStatus::Error);
    CHECK(p.error().message.find("deeply") != std::string::npos);
    CHECK(p.error().message.find("at byte 41") != std::string::npos);  // 25 + 16
  }
  SUBCASE("too many items, too many literals, buffered literal budget") {
    ResponseParser p(lim);
    Response r;
    std::string flags = "* FLAGS (";
    for (int i = 0; i < 101; ++i) flags += "k" + std::to_string(i) + " ";
    p.feed(flags + ")\r\n");
    CHECK(p.next(r) == ParseStatus::Error);
    CHECK(p.error().message.find("max_items") != std::string::npos);

    ResponseParser q(lim);
    std::string lits = "* ID (";
    for (int i = 0; i < 101; ++i) {
      lits += "{1}\r\n";
      lits += "x ";
    }
    q.feed(lits);
    CHECK(q.next(r) == ParseStatus::Error);
  }
  SUBCASE("offsets count streamed octets") {
    RecordingSink sink;
    ResponseParser p(lim);
    p.set_literal_sink(&sink);
    p.feed("* 1 FETCH (BODY[] {5000}\r\n");
    p.feed(std::string(5000, 'x'));
    p.feed(" UID 0)\r\n");
    Response r;
    CHECK(p.next(r) == ParseStatus::Error);
    // "* 1 FETCH (BODY[] {5000}\r\n" is 26 bytes, then 5000, then " UID " → offset 5031
    CHECK(p.error().message.find("at byte 5031") != std::string::npos);
  }
}

TEST_CASE("parse_response helper") {
  CHECK(parse_response("* 1 EXISTS\r\n").has_value());
  CHECK_FALSE(parse_response("* 1 EXISTS").has_value());
  CHECK_FALSE(parse_response("* 1 EXISTS\r\n* 2 EXISTS\r\n").has_value());
  auto bare_lf = parse_response("* 1 EXISTS\n");  // tolerated
  CHECK(bare_lf.has_value());
}
