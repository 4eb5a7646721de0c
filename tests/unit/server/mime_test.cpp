// MIME tree, ENVELOPE, BODY/BODYSTRUCTURE, dates and header helpers of the embedded server.
#include <doctest/doctest.h>

#include <string>

#include "../../../src/server/message.hpp"
#include "../../../src/server/mime.hpp"

using namespace twinbox::server;

namespace {

// Joins lines with CRLF (each line gets one).
std::string crlf(std::initializer_list<std::string_view> lines) {
  std::string out;
  for (std::string_view l : lines) {
    out += l;
    out += "\r\n";
  }
  return out;
}

// The RFC 3501 §8 sample message's header (its FETCH ENVELOPE is printed in the RFC).
const std::string kRfcHeader = crlf({
    "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
    "From: Terry Gray <gray@cac.washington.edu>",
    "Subject: IMAP4rev1 WG mtg summary and minutes",
    "To: imap@cac.washington.edu",
    "cc: minutes@CNRI.Reston.VA.US,",
    "    John Klensin <KLENSIN@MIT.EDU>",
    "Message-Id: <B27397-0100000@cac.washington.edu>",
    "MIME-Version: 1.0",
});

// `n` lines of text totalling `bytes` octets including their CRLFs (bytes >= 3 * n).
std::string text_block(std::size_t n, std::size_t bytes, char fill) {
  std::string out;
  std::size_t per = bytes / n;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = (i + 1 == n ? bytes - per * (n - 1) : per) - 2;
    out += std::string(len, fill);
    out += "\r\n";
  }
  return out;
}

}  // namespace

TEST_CASE("ENVELOPE of the RFC 3501 example message is the RFC's text") {
  auto msg = Message::parse(kRfcHeader + "\r\nHello\r\n");
  CHECK(serialize_envelope(msg.envelope()) ==
        "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((NIL NIL \"imap\" \"cac.washington.edu\")) "
        "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
        "NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
}

TEST_CASE("BODYSTRUCTURE of the RFC 3501 example is the RFC's text") {
  // RFC 3501 §7.4.2: part 1 is 1152 octets in 23 lines, part 2 4554 octets in 73 lines.
  std::string part1 = text_block(23, 1152, 'a');
  std::string part2 = text_block(73, 4554, 'Q');
  std::string m = kRfcHeader + crlf({"Content-Type: MULTIPART/MIXED; BOUNDARY=\"=b=\"", "",
                                     "preamble", "--=b=", "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
                                     ""}) +
                  part1 +
                  crlf({"", "--=b=",
                        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff",
                        "Content-ID: <960723163407.20117h@cac.washington.edu>",
                        "Content-Description: Compiler diff", "Content-Transfer-Encoding: BASE64",
                        ""}) +
                  part2 + crlf({"", "--=b=--", "epilogue"});
  auto msg = Message::parse(m);
  CHECK(serialize_body_structure(msg, false) ==
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
        "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
        "\"MIXED\")");
  // The extensible form adds md5/disposition/language/location and the multipart params.
  CHECK(serialize_body_structure(msg, true) ==
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 NIL NIL NIL NIL)"
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
        "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73 "
        "NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"=b=\") NIL NIL NIL)");
}

TEST_CASE("plain text mail: defaults, offsets and lines") {
  std::string m = crlf({"From: a@example.org", "Subject: hi", "", "line one", "line two"});
  auto msg = Message::parse(m);
  const BodyPart& r = msg.root();
  CHECK(r.children.empty());
  CHECK(msg.slice(r.header) == crlf({"From: a@example.org", "Subject: hi", ""}));
  CHECK(msg.slice(r.body) == "line one\r\nline two\r\n");
  CHECK(r.lines == 2);
  CHECK(msg.size() == m.size());
  CHECK(serialize_body_structure(msg, false) ==
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 2)");
  CHECK(msg.header("subject") == std::optional<std::string_view>(" hi\r\n"));
  CHECK_FALSE(msg.header("To"));
}

TEST_CASE("missing headers give NIL envelope fields; bare LF is tolerated") {
  auto msg = Message::parse("X-Junk: 1\n\nbody\nmore");
  CHECK(serialize_envelope(msg.envelope()) == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  CHECK(msg.slice(msg.root().body) == "body\nmore");
  CHECK(msg.root().lines == 2);  // the last, unterminated line counts
  auto empty = Message::parse("");
  CHECK(serialize_body_structure(empty, true) ==
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
}

TEST_CASE("multipart/alternative with extension data") {
  std::string m = crlf({"From: a@b.c", "Content-Type: multipart/alternative; boundary=XYZ", "",
                        "--XYZ", "Content-Type: text/plain; charset=utf-8",
                        "Content-Transfer-Encoding: quoted-printable", "Content-Language: en, de",
                        "", "caf=C3=A9", "--XYZ", "Content-Type: text/html; charset=utf-8",
                        "Content-Location: http://x/y", "", "<p>caf&eacute;</p>", "--XYZ--"});
  auto msg = Message::parse(m);
  REQUIRE(msg.root().children.size() == 2);
  CHECK(msg.slice(msg.root().children[0].body) == "caf=C3=A9");
  CHECK(serialize_body_structure(msg, true) ==
        "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 9 1 NIL NIL "
        "(\"en\" \"de\") NIL)"
        "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 18 1 NIL NIL NIL "
        "\"http://x/y\") \"alternative\" (\"boundary\" \"XYZ\") NIL NIL NIL)");
}

TEST_CASE("multipart/mixed with a base64 attachment and disposition parameters") {
  std::string m = crlf({"Content-Type: multipart/mixed; boundary=\"b1\"", "", "--b1", "", "see attached",
                        "--b1", "Content-Type: application/pdf; name=\"r.pdf\"",
                        "Content-Disposition: attachment; filename=\"r.pdf\"; size=3",
                        "Content-Transfer-Encoding: base64", "Content-MD5: abc=", "", "AAEC",
                        "--b1--"});
  auto msg = Message::parse(m);
  REQUIRE(msg.root().children.size() == 2);
  const BodyPart& att = msg.root().children[1];
  REQUIRE(att.disposition);
  CHECK(att.disposition->type == "attachment");
  CHECK(decode_base64(msg.slice(att.body)) == std::string("\x00\x01\x02", 3));
  CHECK(serialize_body_structure(msg, true) ==
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL)"
        "(\"application\" \"pdf\" (\"name\" \"r.pdf\") NIL NIL \"base64\" 4 \"abc=\" "
        "(\"attachment\" (\"filename\" \"r.pdf\" \"size\" \"3\")) NIL NIL) \"mixed\" "
        "(\"boundary\" \"b1\") NIL NIL NIL)");
}

TEST_CASE("nested message/rfc822 carries its envelope, structure and lines") {
  std::string inner = crlf({"Subject: inner", "From: x@y.z", "", "inner body"});
  std::string m = crlf({"Subject: outer", "Content-Type: multipart/mixed; boundary=o", "", "--o",
                        "", "outer text", "--o", "Content-Type: message/rfc822", ""}) +
                  inner + crlf({"--o--"});
  auto msg = Message::parse(m);
  REQUIRE(msg.root().children.size() == 2);
  const BodyPart& rfc = msg.root().children[1];
  REQUIRE(rfc.is_message_rfc822());
  CHECK(msg.slice(rfc.body) == inner.substr(0, inner.size() - 2));
  CHECK(rfc.lines == 4);
  CHECK(serialize_body_structure(msg, false, &rfc) ==
        "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 41 "
        "(NIL \"inner\" ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) "
        "NIL NIL NIL NIL NIL) "
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 1) 4)");
  CHECK(msg.envelope(&rfc.children.front()).subject == "inner");
}

TEST_CASE("missing close delimiter, no delimiter at all, multipart/digest defaults") {
  auto open = Message::parse(crlf({"Content-Type: multipart/mixed; boundary=z", "", "--z", "",
                                   "one", "--z", "", "two"}));
  REQUIRE(open.root().children.size() == 2);
  CHECK(open.slice(open.root().children[1].body) == "two\r\n");
  auto none = Message::parse(crlf({"Content-Type: multipart/mixed; boundary=z", "", "no parts"}));
  REQUIRE(none.root().children.size() == 1);
  CHECK(none.slice(none.root().children[0].body) == "no parts\r\n");
  auto digest = Message::parse(crlf({"Content-Type: multipart/digest; boundary=d", "", "--d", "",
                                     "Subject: s", "", "b", "--d--"}));
  REQUIRE(digest.root().children.size() == 1);
  CHECK(digest.root().children[0].is_message_rfc822());
  // A delimiter that only starts with the boundary is content, not a delimiter.
  auto prefix = Message::parse(crlf({"Content-Type: multipart/mixed; boundary=z", "", "--z", "",
                                     "--zz not a delimiter", "--z--"}));
  REQUIRE(prefix.root().children.size() == 1);
  CHECK(prefix.slice(prefix.root().children[0].body) == "--zz not a delimiter");
}

TEST_CASE("nesting deeper than the limit stays a leaf and does not recurse") {
  std::string m;
  for (int i = 0; i < 200; ++i) {
    m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
         std::to_string(i) + "\r\n";
  }
  m += "\r\ntext\r\n";
  auto msg = Message::parse(m, MimeLimits{8, 100, 100});
  std::size_t depth = 0;
  const BodyPart* p = &msg.root();
  while (!p->children.empty()) {
    p = &p->children.front();
    ++depth;
  }
  CHECK(depth <= 8);
  CHECK_FALSE(serialize_body_structure(msg, true).empty());
}

TEST_CASE("RFC 2231 parameter continuations and RFC 822 comments") {
  auto v = parse_content_value(
      "application/x-stuff (comment); title*0*=us-ascii'en'This%20is; title*1*=%20fun;"
      " name*1=\"b.txt\"; name*0=\"a-\"; junk ; size = 12 ",
      true);
  CHECK(v.type == "application");
  CHECK(v.subtype == "x-stuff");
  REQUIRE(v.params.size() == 3);
  CHECK(v.params[0] == MimeParam{"title*", "us-ascii'en'This%20is%20fun"});
  CHECK(v.params[1] == MimeParam{"name", "a-b.txt"});
  CHECK(v.params[2] == MimeParam{"size", "12"});
}

TEST_CASE("RFC 2047 encoded words, charsets and case folding") {
  CHECK(decode_rfc2047("=?ISO-8859-1?Q?Andr=E9?= Pirard") == "Andr\xc3\xa9 Pirard");
  CHECK(decode_rfc2047("=?UTF-8?B?Y2Fmw6k=?=") == "caf\xc3\xa9");
  // White space between adjacent encoded words disappears (RFC 2047 §6.2 example).
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)") == "(ab)");
  CHECK(decode_rfc2047("=?ISO-8859-1?Q?a?= b") == "a b");
  CHECK(decode_rfc2047("=?US-ASCII*EN?Q?Keith_Moore?=") == "Keith Moore");
  CHECK(decode_rfc2047("=?bogus") == "=?bogus");
  CHECK(to_utf8("\x80", "windows-1252") == "\xe2\x82\xac");
  CHECK(fold_case("\xc3\x89T\xc3\x89 \xd0\x9f") == "\xc3\xa9t\xc3\xa9 \xd0\xbf");
  CHECK(decode_quoted_printable("a=3Db=\r\nc=\n d=zz") == "a=bc d=zz");
  CHECK(decode_transfer("x", "x-uuencode") == std::nullopt);
}

TEST_CASE("address lists: groups, routes, comments, quoting") {
  auto a = parse_address_list(
      "\"Doe, John\" <john@x.org>, Team: ann@x.org, <@r1,@r2:bob@y.org>;, carl@z.org (Carl Z),"
      " undisclosed, <>");
  REQUIRE(a.size() == 8);
  CHECK(a[0] == Address{"Doe, John", std::nullopt, "john", "x.org"});
  CHECK(a[1] == Address{std::nullopt, std::nullopt, "Team", std::nullopt});  // group start
  CHECK(a[2] == Address{std::nullopt, std::nullopt, "ann", "x.org"});
  CHECK(a[3] == Address{std::nullopt, "@r1,@r2", "bob", "y.org"});
  CHECK(a[4] == Address{});  // group end
  CHECK(a[5] == Address{"Carl Z", std::nullopt, "carl", "z.org"});
  CHECK(a[6] == Address{std::nullopt, std::nullopt, "undisclosed", "MISSING_DOMAIN"});
  CHECK(a[7] == Address{std::nullopt, std::nullopt, "", ""});
  auto empty_group = parse_address_list("undisclosed-recipients:;");
  REQUIRE(empty_group.size() == 2);
  CHECK(empty_group[0].mailbox == "undisclosed-recipients");
  CHECK(empty_group[1] == Address{});
}

TEST_CASE("envelope strings: 8-bit goes as a literal, quotes are escaped, Sender defaults") {
  auto msg = Message::parse("Subject: caf\xc3\xa9\r\nFrom: \"A \\\"q\\\"\" <a@b>\r\nSender:\r\n\r\n");
  Envelope e = msg.envelope();
  CHECK(e.sender == e.from);
  std::string s = serialize_envelope(e);
  CHECK(s.find("{5}\r\ncaf\xc3\xa9") != std::string::npos);
  CHECK(s.find("\"A \\\"q\\\"\"") != std::string::npos);
}

TEST_CASE("dates: RFC 5322 (with obsolete forms) and IMAP formats") {
  auto d = parse_rfc5322_date("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
  REQUIRE(d);
  CHECK(d->zone_minutes == -420);
  CHECK(format_imap_datetime(*d) == "17-Jul-1996 02:23:25 -0700");
  CHECK(d->local_date() == CivilDate{1996, 7, 17});
  auto obs = parse_rfc5322_date("17 Jul 96 23:59 PDT");
  REQUIRE(obs);
  CHECK(format_imap_datetime(*obs) == "17-Jul-1996 23:59:00 -0700");
  auto y2k = parse_rfc5322_date("1 Jan 05 00:00:00 GMT");
  REQUIRE(y2k);
  CHECK(y2k->local_date() == CivilDate{2005, 1, 1});
  CHECK_FALSE(parse_rfc5322_date("not a date"));
  CHECK_FALSE(parse_rfc5322_date("31 Feb 2001 10:00:00 +0000"));

  auto t = parse_imap_datetime(" 7-Feb-1994 21:52:25 -0800");
  REQUIRE(t);
  CHECK(format_imap_datetime(*t) == "07-Feb-1994 21:52:25 -0800");
  // 21:52 -0800 is the next day in UTC: 8 Feb 05:52:25 = 760686745.
  CHECK(t->utc_seconds == 760686745);
  CHECK_FALSE(parse_imap_datetime("07-Feb-1994 21:52:25"));
  CHECK_FALSE(parse_imap_datetime("07-Foo-1994 21:52:25 +0000"));
  CHECK(parse_imap_date("1-Feb-1994") == CivilDate{1994, 2, 1});
  CHECK(parse_imap_date("29-feb-2000") == CivilDate{2000, 2, 29});
  CHECK_FALSE(parse_imap_date("29-Feb-1900"));
  CHECK_FALSE(parse_imap_date("1-Feb-94"));
  CHECK(civil_from_days(days_from_civil(CivilDate{2024, 12, 31})) == CivilDate{2024, 12, 31});
  CHECK(days_from_civil(CivilDate{1970, 1, 1}) == 0);
}

TEST_CASE("header scanning keeps folded fields whole and skips junk lines") {
  std::string m = "From foo  Tue\r\nA: 1\r\n  2\r\nno colon here\r\nB : x\r\n\r\nbody";
  auto msg = Message::parse(m);
  REQUIRE(msg.root().fields.size() == 2);
  CHECK(msg.slice(msg.root().fields[0].whole) == "A: 1\r\n  2\r\n");
  CHECK(unfold(msg.slice(msg.root().fields[0].value)) == "1  2");
  CHECK(msg.slice(msg.root().fields[1].name) == "B");
  CHECK(msg.slice(msg.root().body) == "body");
}
