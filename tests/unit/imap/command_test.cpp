#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <twinbox/imap/command.hpp>
#include <twinbox/imap/serialize.hpp>

using namespace twinbox::imap;
using namespace std::string_literals;

namespace {

/// A printable trace of every step, so one-piece and split feeds can be compared.
std::string describe(const CommandStep& s) {
  std::ostringstream os;
  if (std::holds_alternative<NeedMore>(s)) os << "need-more";
  if (const auto* c = std::get_if<ContinuationOwed>(&s)) os << "continue{" << c->literal_size << "}";
  if (const auto* c = std::get_if<Command>(&s)) os << "cmd " << *c;
  if (const auto* b = std::get_if<CommandBad>(&s)) {
    os << "bad tag=" << b->tag << " kind=" << static_cast<int>(b->kind) << " close=" << b->must_close
       << " " << b->reason;
  }
  return os.str();
}

/// Feeds `input` in chunks of `chunk` bytes (0 = all at once) and collects all steps except
/// NeedMore. Stops after a must_close error.
std::vector<std::string> run(std::string_view input, std::size_t chunk, CommandLimits limits = {}) {
  CommandParser p(limits);
  std::vector<std::string> out;
  std::size_t i = 0;
  bool more = true;
  while (more) {
    std::size_t n = chunk == 0 ? input.size() : std::min(chunk, input.size() - i);
    p.feed(input.substr(i, n));
    i += n;
    more = i < input.size();
    while (true) {
      CommandStep s = p.next();
      if (std::holds_alternative<NeedMore>(s)) break;
      out.push_back(describe(s));
      if (const auto* b = std::get_if<CommandBad>(&s); b && b->must_close) return out;
    }
  }
  return out;
}

/// Parses input whole, checks that every split (byte-by-byte and a few chunk sizes) gives
/// the same steps, and returns the steps.
std::vector<std::string> steps(std::string_view input, CommandLimits limits = {}) {
  auto whole = run(input, 0, limits);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
    CAPTURE(chunk);
    CHECK(run(input, chunk, limits) == whole);
  }
  return whole;
}

/// The single command in `input` (checked split-invariant too).
Command one(std::string_view input) {
  CommandParser p;
  p.feed(input);
  CommandStep s = p.next();
  while (std::holds_alternative<ContinuationOwed>(s)) s = p.next();
  REQUIRE_MESSAGE(std::holds_alternative<Command>(s), describe(s));
  CHECK(std::holds_alternative<NeedMore>(p.next()));
  auto all = steps(input);
  REQUIRE(!all.empty());
  CHECK(all.back() == describe(s));
  return std::get<Command>(s);
}

CommandBad bad(std::string_view input, CommandLimits limits = {}) {
  CommandParser p(limits);
  p.feed(input);
  CommandStep s = p.next();
  while (std::holds_alternative<ContinuationOwed>(s)) s = p.next();
  REQUIRE_MESSAGE(std::holds_alternative<CommandBad>(s), describe(s));
  steps(input, limits);
  return std::get<CommandBad>(s);
}

Command parse_wire(const WireCommand& w) {
  CommandParser p;
  p.feed(w.flatten());
  CommandStep s = p.next();
  while (std::holds_alternative<ContinuationOwed>(s)) s = p.next();
  REQUIRE_MESSAGE(std::holds_alternative<Command>(s), describe(s));
  return std::get<Command>(s);
}

using A = Arg;

}  // namespace

TEST_CASE("command: simple commands") {
  Command c = one("a1 NOOP\r\n");
  CHECK(c == Command{"a1", "NOOP", {}});
  c = one("A.2 select INBOX\r\n");
  CHECK(c == Command{"A.2", "SELECT", {A::atom("INBOX")}});
  c = one("x login \"fred\" {5}\r\nsecr\"\r\n");
  CHECK(c == Command{"x", "LOGIN", {A::quoted("fred"), A::literal("secr\"")}});
  c = one("t1 uid fetch 1:3,5 (UID FLAGS) (CHANGEDSINCE 123 VANISHED)\n");  // bare LF tolerated
  CHECK(c == Command{"t1", "UID",
                     {A::atom("fetch"), A::atom("1:3,5"), A::list({A::atom("UID"), A::atom("FLAGS")}),
                      A::list({A::atom("CHANGEDSINCE"), A::num(123), A::atom("VANISHED")})}});
  c = one("t2 STORE 1 +FLAGS.SILENT (\\Seen $Junk nil)\r\n");
  CHECK(c.args[2] == A::list({A::atom("\\Seen"), A::atom("$Junk"), A::nil("nil")}));
  CHECK(c.args[2].children[2].as_astring() == "nil");
  c = one("t3 LIST \"\" %\r\n");  // '%' is not an ATOM-CHAR
  CHECK(c.args.empty() == false);
}

TEST_CASE("command: escapes, brackets in names, numbers and trailing space") {
  Command c = one("t CREATE \"a\\\"b\\\\c\"\r\n");
  CHECK(c.args == std::vector<Arg>{A::quoted("a\"b\\c")});
  c = one("t SELECT foo[bar]\r\n");  // '[' and ']' are astring chars outside BODY[...]
  CHECK(c.args == std::vector<Arg>{A::atom("foo[bar]")});
  c = one("t X 18446744073709551615 18446744073709551616 007 \r\n");
  REQUIRE(c.args.size() == 3);
  CHECK(c.args[0].kind == Arg::Kind::Number);
  CHECK(c.args[0].number == 18446744073709551615ULL);
  CHECK(c.args[1] == A::atom("18446744073709551616"));
  CHECK(c.args[2].kind == Arg::Kind::Number);
  CHECK(c.args[2].text == "007");
  CHECK(c.args[2].number == 7);
}

TEST_CASE("command: fetch sections and partials") {
  Command c = one("f1 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[] body[1.2.MIME] BINARY.SIZE[1] BODY[TEXT]<5>)\r\n");
  REQUIRE(c.args.size() == 3);
  const Arg& atts = c.args[2];
  REQUIRE(atts.kind == Arg::Kind::List);
  std::vector<Arg> expect{
      A::atom("BODY.PEEK"),
      A::section({A::atom("HEADER.FIELDS"), A::list({A::atom("DATE"), A::atom("FROM")})}, Partial{0, 100}),
      A::atom("BODY"),
      A::section({}),
      A::atom("body"),
      A::section({A::atom("1.2.MIME")}),
      A::atom("BINARY.SIZE"),
      A::section({A::num(1)}),
      A::atom("BODY"),
      A::section({A::atom("TEXT")}, Partial{5, std::nullopt}),
  };
  CHECK(atts.children == expect);
  c = one("f2 FETCH 1 BODY[HEADER.FIELDS.NOT ({4}\r\nDATE)]\r\n");
  CHECK(c.args[2] == A::section({A::atom("HEADER.FIELDS.NOT"), A::list({A::literal("DATE")})}));
}

TEST_CASE("command: synchronizing and non-synchronizing literals") {
  const std::string wire =
      "a1 APPEND INBOX (\\Seen) {11}\r\nHello\r\nWorld {3+}\r\nabc\r\n"
      "a2 APPEND Drafts ~{3}\r\na\0b\r\n"s;
  auto all = steps(wire);
  REQUIRE(all.size() == 4);
  CHECK(all[0] == "continue{11}");
  CHECK(all[2] == "continue{3}");

  CommandParser p;
  p.feed("a1 APPEND INBOX {5}\r\n");
  CHECK(std::get<ContinuationOwed>(p.next()).literal_size == 5);
  CHECK(p.continuation_owed());
  CHECK(std::holds_alternative<NeedMore>(p.next()));
  p.feed("ab");
  CHECK(std::holds_alternative<NeedMore>(p.next()));
  CHECK_FALSE(p.continuation_owed());
  p.feed("cde\r\n");
  CommandStep s = p.next();
  REQUIRE(std::holds_alternative<Command>(s));
  CHECK(std::get<Command>(s).args[1] == A::literal("abcde"));

  // literal8 keeps NUL bytes
  CommandParser q;
  q.feed(std::string("a2 APPEND X UTF8 (~{3+}\r\na\0b)\r\n", 32));
  s = q.next();
  REQUIRE(std::holds_alternative<Command>(s));
  CHECK(std::get<Command>(s).args[2] == A::list({A::literal(std::string("a\0b", 3), true)}));
}

TEST_CASE("command: syntax errors are per command and the parser goes on") {
  auto all = steps("a1 FETCH (1\r\nb2 NOOP\r\n\r\n+x NOOP\r\nc3 X \"open\r\nd4 X \"a\\b\"\r\ne5 X a{3}\r\nabc\r\nf6 X )\r\ng7 NOOP\r\n");
  REQUIRE(all.size() == 10);
  CHECK(all[0].rfind("bad tag=a1 kind=0 close=0 missing ')'", 0) == 0);
  CHECK(all[1] == "cmd b2 NOOP []");
  CHECK(all[2].rfind("bad tag= ", 0) == 0);  // empty line
  CHECK(all[3].rfind("bad tag= ", 0) == 0);  // '+' cannot start a tag
  CHECK(all[4].rfind("bad tag=c3 kind=0 close=0 unterminated quoted string", 0) == 0);
  CHECK(all[5].rfind("bad tag=d4", 0) == 0);
  CHECK(all[6] == "continue{3}");
  CHECK(all[7].rfind("bad tag=e5 kind=0 close=0 expected SP", 0) == 0);
  CHECK(all[8].rfind("bad tag=f6", 0) == 0);
  CHECK(all[9] == "cmd g7 NOOP []");
  CommandBad b = bad("tag FETCH 1 (UID\r\n");
  CHECK(b.reason.find("offset 16") != std::string::npos);
}

TEST_CASE("command: limits") {
  CommandLimits lim;
  lim.max_line = 100;
  lim.max_literal = 50;
  lim.max_nonsync_literal = 20;
  lim.max_depth = 3;
  lim.max_args = 10;

  SUBCASE("endless line closes") {
    CommandParser p(lim);
    std::string chunk(64, 'a');
    p.feed("t1 X ");
    CommandStep s = NeedMore{};
    for (int i = 0; i < 10 && std::holds_alternative<NeedMore>(s); ++i) {
      p.feed(chunk);
      s = p.next();
    }
    REQUIRE(std::holds_alternative<CommandBad>(s));
    const auto& b = std::get<CommandBad>(s);
    CHECK(b.must_close);
    CHECK(b.kind == BadKind::LineTooLong);
    CHECK(b.tag == "t1");
    p.feed("t2 NOOP\r\n");
    CHECK(std::get<CommandBad>(p.next()) == b);  // stays dead
    CHECK(p.buffered() == 0);
  }
  SUBCASE("line limit counts text across literals") {
    std::string in = "t1 X " + std::string(60, 'a') + " {2}\r\nxy " + std::string(60, 'b') + "\r\n";
    CHECK(bad(in, lim).kind == BadKind::LineTooLong);
  }
  SUBCASE("synchronizing literal over the limit is refused without closing") {
    auto all = steps("t1 APPEND X {51}\r\nt2 NOOP\r\n", lim);
    REQUIRE(all.size() == 2);
    CHECK(all[0].rfind("bad tag=t1 kind=2 close=0", 0) == 0);
    CHECK(all[1] == "cmd t2 NOOP []");
    CHECK(bad("t1 X {99999999999999999999999}\r\n", lim).kind == BadKind::LiteralTooBig);
  }
  SUBCASE("non-synchronizing literal over the limit closes") {
    CommandBad b = bad("t1 APPEND X {21+}\r\n" + std::string(21, 'x') + "\r\n", lim);
    CHECK(b.must_close);
    CHECK(b.kind == BadKind::LiteralTooBig);
    CHECK(b.tag == "t1");
  }
  SUBCASE("deep nesting") {
    CHECK(bad("t1 X ((((1))))\r\n", lim).kind == BadKind::TooDeep);
    CHECK(bad("t1 FETCH 1 (((BODY[1])))\r\n", lim).kind == BadKind::TooDeep);  // sections count
    CHECK(steps("t1 X (((1)))\r\n", lim).at(0).rfind("cmd", 0) == 0);
    CommandLimits big;
    std::string deep = "t1 X " + std::string(5000, '(') + "\r\n";
    CommandBad b = bad(deep, big);
    CHECK(b.kind == BadKind::TooDeep);
    CHECK_FALSE(b.must_close);
  }
  SUBCASE("too many arguments") {
    CHECK(bad("t1 X 1 2 3 4 5 6 7 8 9 10 11\r\n", lim).kind == BadKind::TooManyArgs);
    CHECK(bad("t1 X (1 2 3 4 5 (6 7 8 9 10))\r\n", lim).kind == BadKind::TooManyArgs);
  }
}

TEST_CASE("command: raw-line mode for AUTHENTICATE and IDLE") {
  CommandParser p;
  p.feed("a1 IDLE\r\nDO");
  REQUIRE(std::holds_alternative<Command>(p.next()));
  auto l = p.next_line();
  REQUIRE(l.has_value());
  CHECK_FALSE(l->has_value());
  p.feed("NE\r\na2 AUTHENTICATE PLAIN\r\ndGVzdAB0ZXN0AHRlc3Q=\r\n*\r\na3 NOOP\r\n");
  l = p.next_line();
  REQUIRE(l.has_value());
  CHECK(**l == "DONE");
  REQUIRE(std::holds_alternative<Command>(p.next()));
  CHECK(**p.next_line() == "dGVzdAB0ZXN0AHRlc3Q=");
  CHECK(**p.next_line() == "*");
  CHECK(std::get<Command>(p.next()).name == "NOOP");

  CommandParser q(CommandLimits{.max_line = 10});
  q.feed(std::string(11, 'x'));
  auto e = q.next_line();
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().code == twinbox::Errc::Limit);
}

TEST_CASE("command: parse(serialize(x)) round trips") {
  const std::string body = "From: a\r\n\r\nbody \0 none\r\n"s;
  for (LiteralMode mode : {LiteralMode::Sync, LiteralMode::Plus, LiteralMode::Minus}) {
    CAPTURE(static_cast<int>(mode));
    SeqSet set;
    set.add(1, 3);
    set.add(9);
    CommandBuilder b("a7", "UID STORE", {.literals = mode});
    b.seqset(set).atom("+FLAGS.SILENT").flags({"\\Seen", "$Junk", "NIL", "2024:taxes"});
    Command c = parse_wire(*b.build());
    CHECK(c == Command{"a7", "UID",
                       {A::atom("STORE"), A::atom("1:3,9"), A::atom("+FLAGS.SILENT"),
                        A::list({A::atom("\\Seen"), A::atom("$Junk"), A::nil("NIL"), A::atom("2024:taxes")})}});

    // Every astring value comes back with the same bytes whatever form the builder chose.
    const std::vector<std::string> names = {"INBOX", "", "NIL", "two words", "a\"b\\c", "BODY[x]", "caf\xc3\xa9",
                                            "line\r\nbreak", "100", "+FLAGS", "a]b", "%*", std::string(2000, 'q')};
    CommandBuilder m("m1", "X", {.literals = mode});
    for (const auto& n : names) m.astring(n);
    m.begin_list();
    for (const auto& n : names) m.string(n);
    m.end_list();
    m.nstring(std::nullopt).nstring("x").number(42);
    c = parse_wire(*m.build());
    REQUIRE(c.args.size() == names.size() + 4);
    for (std::size_t i = 0; i < names.size(); ++i) {
      CAPTURE(names[i]);
      CHECK(c.args[i].as_astring() == names[i]);
      CHECK(c.args[names.size()].children.at(i).as_string() == names[i]);  // never an atom
    }
    CHECK(c.args[names.size() + 1].kind == Arg::Kind::Nil);
    CHECK(c.args[names.size() + 2] == A::quoted("x"));
    CHECK(c.args[names.size() + 3] == A::num(42));

    auto shared = std::make_shared<const std::string>(body);
    CommandBuilder ap("ap", "APPEND", {.literals = mode});
    ap.mailbox("Sent").flags({"\\Seen"}).string("01-Jan-2024 10:00:00 +0000").atom("UTF8").begin_list().literal8(shared).end_list();
    c = parse_wire(*ap.build());
    CHECK(c == Command{"ap", "APPEND",
                       {A::atom("Sent"), A::list({A::atom("\\Seen")}), A::quoted("01-Jan-2024 10:00:00 +0000"),
                        A::atom("UTF8"), A::list({A::literal(body, true)})}});
  }
}

TEST_CASE("command: printing") {
  std::ostringstream os;
  os << Command{"a", "X", {A::literal("x\r\n"), A::section({A::num(1)}, Partial{0, 5}), A::quoted("q\"")}};
  CHECK(os.str() == "a X [{3}\"x\\x0D\\x0A\" [num:1]<0.5> quoted:\"q\\\"\"]");
}
