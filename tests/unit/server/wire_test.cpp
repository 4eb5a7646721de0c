// CommandFramer and Cursor: framing with literals, limits, argument parsing, output forms.

#include <doctest/doctest.h>

#include "../../../src/server/wire.hpp"

using namespace twinbox::server;
using State = CommandFramer::State;

TEST_CASE("framer: lines, synchronizing and non-synchronizing literals") {
  CommandFramer f;
  CHECK(f.scan("a NOOP") == State::NeedMore);
  CHECK(f.scan("a NOOP\r\n") == State::Complete);
  CHECK(f.consumed() == 8);
  f.reset();
  std::string buf = "a APPEND INBOX {5}\r\n";
  CHECK(f.scan(buf) == State::Continuation);
  CHECK(f.scan(buf) == State::NeedMore);
  buf += "hel";
  CHECK(f.scan(buf) == State::NeedMore);
  buf += "lo\r\n";
  CHECK(f.scan(buf) == State::Complete);
  CHECK(f.consumed() == buf.size());
  f.reset();
  std::string plus = "a APPEND INBOX {3+}\r\nabc {2+}\r\nxy\r\nnext";
  CHECK(f.scan(plus) == State::Complete);
  CHECK(plus.substr(f.consumed()) == "next");
}

TEST_CASE("framer: limits") {
  CommandFramer f(FrameLimits{16, 10});
  CHECK(f.scan("a NOOP 0123456789012345") == State::LineTooLong);
  f.reset();
  CHECK(f.scan("a APPEND x {11}\r\n") == State::LiteralTooBig);
  CHECK(f.literal_size() == 11);
  CHECK_FALSE(f.literal_plus());
  CommandFramer g;
  CHECK(g.scan("a X {99999999999999999999}\r\n") == State::Complete);  // not a literal marker
}

TEST_CASE("trailing_literal") {
  CHECK(trailing_literal("a {12}")->size == 12);
  CHECK(trailing_literal("a {12+}")->plus);
  CHECK_FALSE(trailing_literal("a {}"));
  CHECK_FALSE(trailing_literal("a {1x}"));
  CHECK_FALSE(trailing_literal("a b"));
}

TEST_CASE("cursor: astrings, literals, numbers, flags") {
  std::string cmd = "tag LOGIN \"al\\\"ice\" {3}\r\np w 42 \\Seen $kw NIL";
  Cursor c(cmd);
  CHECK(*c.tag() == "tag");
  CHECK(c.sp());
  CHECK(*c.atom() == "LOGIN");
  CHECK(c.sp());
  CHECK(*c.astring() == "al\"ice");
  CHECK(c.sp());
  CHECK(*c.astring() == "p w");
  CHECK(c.sp());
  CHECK(*c.nz_number() == 42);
  CHECK(c.sp());
  CHECK(*c.flag() == "\\Seen");
  CHECK(c.sp());
  CHECK(*c.flag() == "$kw");
  CHECK(c.sp());
  auto n = c.nstring();
  REQUIRE(n);
  CHECK_FALSE(n->has_value());
  CHECK(c.end());
}

TEST_CASE("cursor: errors name the offset") {
  Cursor c("a \"open");
  c.tag();
  c.sp();
  CHECK_FALSE(c.astring());
  CHECK(c.error().find("unterminated quoted string at offset 2") == 0);
  Cursor d("{5}\r\nab");
  CHECK_FALSE(d.string());
  CHECK(d.error().find("literal is longer than the data sent") == 0);
  Cursor e("4294967296");
  CHECK_FALSE(e.number());
  Cursor z("0");
  CHECK_FALSE(z.nz_number());
}

TEST_CASE("output forms: atom, quoted, literal") {
  std::string out;
  write_astring(out, "INBOX");
  out += ' ';
  write_astring(out, "Sent Items");
  out += ' ';
  write_astring(out, "NIL");
  out += ' ';
  write_astring(out, "");
  out += ' ';
  write_astring(out, "caf\xc3\xa9");
  out += ' ';
  write_string(out, "a\"b\\c");
  CHECK(out == "INBOX \"Sent Items\" \"NIL\" \"\" {5}\r\ncaf\xc3\xa9 \"a\\\"b\\\\c\"");
}
