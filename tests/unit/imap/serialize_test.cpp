#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <twinbox/imap/serialize.hpp>

using namespace twinbox::imap;
using namespace std::string_literals;

namespace {
std::string flat(CommandBuilder& b) {
  auto r = b.build();
  REQUIRE(r.has_value());
  return r->flatten();
}
}  // namespace

TEST_CASE("serialize: astring picks atom, quoted or literal") {
  struct Row {
    std::string in;
    std::string wire;
  };
  const Row rows[] = {
      {"INBOX", "INBOX"},
      {"+FLAGS", "+FLAGS"},
      {"2024:Q1", "2024:Q1"},
      {"", "\"\""},
      {"NIL", "\"NIL\""},
      {"nil", "\"nil\""},
      {"NILS", "NILS"},
      {"two words", "\"two words\""},
      {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"a(b", "\"a(b\""},
      {"a]b", "\"a]b\""},
      {"BODY[x", "\"BODY[x\""},
      {"50%", "\"50%\""},
      {"a*", "\"a*\""},
      {"{5}", "\"{5}\""},
      {"caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9"},
      {"line\r\nbreak", "{11}\r\nline\r\nbreak"},
      {"tab\t", "{4}\r\ntab\t"},
      {std::string(kMaxQuotedLength + 1, 'a') + " ", "{1026}\r\n" + std::string(kMaxQuotedLength + 1, 'a') + " "},
  };
  for (const auto& row : rows) {
    CAPTURE(row.in);
    CommandBuilder b("a1", "SELECT", {.literals = LiteralMode::Plus});
    b.astring(row.in);
    std::string expect = "a1 SELECT " + row.wire + "\r\n";
    if (row.wire.front() == '{') expect.insert(expect.find('}'), "+");
    CHECK(flat(b) == expect);
  }
}

TEST_CASE("serialize: string never uses an atom; utf8_quoted allows 8-bit quoted") {
  CommandBuilder b("t", "SEARCH");
  b.atom("TEXT").string("hello");
  CHECK(flat(b) == "t SEARCH TEXT \"hello\"\r\n");
  CommandBuilder u("t", "SELECT", {.utf8_quoted = true});
  u.mailbox("caf\xc3\xa9");
  CHECK(flat(u) == "t SELECT \"caf\xc3\xa9\"\r\n");
}

TEST_CASE("serialize: flags, lists, numbers, sets, raw") {
  SeqSet set;
  set.add(3, 1);
  set.add(7);
  CommandBuilder b("a7", "UID STORE");
  b.seqset(set).atom("+FLAGS.SILENT").flags({"\\Seen", "$Junk", "NIL"});
  CHECK(flat(b) == "a7 UID STORE 1:3,7 +FLAGS.SILENT (\\Seen $Junk NIL)\r\n");

  CommandBuilder f("a8", "UID FETCH");
  f.seqset(set).begin_list().atom("UID").atom("FLAGS").raw("BODY.PEEK[HEADER.FIELDS (DATE)]<0.100>").end_list();
  f.begin_list().atom("CHANGEDSINCE").number(12345678901234ULL).end_list();
  CHECK(flat(f) == "a8 UID FETCH 1:3,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (DATE)]<0.100>) (CHANGEDSINCE 12345678901234)\r\n");

  CommandBuilder e("a9", "ID");
  e.nil();
  CHECK(flat(e) == "a9 ID NIL\r\n");
  CommandBuilder l("b1", "STORE");
  l.number(1).atom("FLAGS").flags({});
  CHECK(flat(l) == "b1 STORE 1 FLAGS ()\r\n");
}

TEST_CASE("serialize: caller errors are reported by build()") {
  auto fails = [](CommandBuilder& b) {
    auto r = b.build();
    CHECK_FALSE(r.has_value());
  };
  CommandBuilder a("a", "STORE");
  a.flag("two words");
  fails(a);
  CommandBuilder b("a", "STORE");
  b.flag("\\");
  fails(b);
  CommandBuilder c("a", "LOGIN");
  c.string(std::string("nul\0byte", 8));
  fails(c);
  CommandBuilder d("a", "FETCH");
  d.seqset(SeqSet{});
  fails(d);
  CommandBuilder e("a", "FETCH");
  e.begin_list();
  fails(e);
  CommandBuilder g("a+", "NOOP");
  fails(g);
  CommandBuilder h("a", "X");
  h.atom("has space");
  fails(h);
}

TEST_CASE("serialize: literal modes and continuation flags") {
  const std::string small(10, 'x');
  const std::string big(kLiteralMinusMax + 1, 'y');
  struct Row {
    LiteralMode mode;
    bool small_sync;
    bool big_sync;
  };
  const Row rows[] = {{LiteralMode::Sync, true, true},
                      {LiteralMode::Plus, false, false},
                      {LiteralMode::Minus, false, true}};
  for (const auto& row : rows) {
    CAPTURE(static_cast<int>(row.mode));
    CommandBuilder b("a1", "APPEND", {.literals = row.mode});
    b.mailbox("INBOX").flags({"\\Seen"}).literal_ref(small);
    b.literal(std::make_shared<const std::string>(big));
    auto cmd = b.build();
    REQUIRE(cmd.has_value());
    // header, body, header, body, CRLF
    REQUIRE(cmd->segments.size() == 5);
    CHECK(cmd->segments[0].bytes() == std::string("a1 APPEND INBOX (\\Seen) {10") + (row.small_sync ? "" : "+") + "}\r\n");
    CHECK(cmd->segments[0].await_continuation == row.small_sync);
    CHECK(cmd->segments[1].bytes().data() == small.data());  // borrowed, not copied
    CHECK_FALSE(cmd->segments[1].await_continuation);
    CHECK(cmd->segments[2].bytes() == " {4097" + std::string(row.big_sync ? "" : "+") + "}\r\n");
    CHECK(cmd->segments[2].await_continuation == row.big_sync);
    CHECK(cmd->segments[3].bytes() == big);
    CHECK(cmd->segments[4].bytes() == "\r\n");
    CHECK(cmd->needs_continuation() == (row.small_sync || row.big_sync));
    CHECK(cmd->size() == cmd->flatten().size());
  }
}

TEST_CASE("serialize: literal8 and empty literal") {
  auto body = std::make_shared<const std::string>(std::string("a\0b", 3));
  CommandBuilder b("a1", "APPEND", {.literals = LiteralMode::Plus});
  b.mailbox("INBOX").atom("UTF8").begin_list().literal8(body).end_list();
  CHECK(flat(b) == "a1 APPEND INBOX UTF8 (~{3+}\r\na\0b)\r\n"s);
  CommandBuilder e("a2", "X");
  e.literal("");
  auto cmd = e.build();
  REQUIRE(cmd.has_value());
  CHECK(cmd->flatten() == "a2 X {0}\r\n\r\n");
  CHECK(cmd->segments.size() == 2);
}

TEST_CASE("serialize: split_uid_set keeps each command under the line limit") {
  SeqSet set;
  for (std::uint32_t n = 1000000; n < 1100000; n += 3) set.add(n);
  const std::size_t limit = 1000;
  auto parts = split_uid_set(set, limit, 100);
  CHECK(parts.size() > 1);
  SeqSet joined;
  for (const auto& p : parts) {
    CommandBuilder b("a123", "UID STORE");
    b.seqset(p).atom("+FLAGS.SILENT").flags({"\\Deleted"});
    auto cmd = b.build();
    REQUIRE(cmd.has_value());
    CHECK(cmd->flatten().size() <= limit);
    joined.add(p);
  }
  CHECK(joined == set);
  CHECK(split_uid_set(set).size() < parts.size());
}
