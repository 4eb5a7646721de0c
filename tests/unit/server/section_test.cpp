// BODY[section]<partial> and BINARY[section] (RFC 3501 §6.4.5, RFC 3516).
#include <doctest/doctest.h>

#include <string>

#include "../../../src/server/section.hpp"

using namespace twinbox;
using namespace twinbox::server;

namespace {

// RFC 3501 §6.4.5 example structure:
//   HEADER ([RFC-2822] header of the message)   TEXT (MULTIPART/MIXED)
//   1 TEXT/PLAIN   2 APPLICATION/OCTET-STREAM   3 MESSAGE/RFC822 (3.HEADER, 3.TEXT,
//   3.1 TEXT/PLAIN, 3.2 APPLICATION/OCTET-STREAM)   4 MULTIPART/MIXED (4.1 IMAGE/GIF,
//   4.1.MIME, 4.2 MESSAGE/RFC822 (4.2.HEADER, 4.2.TEXT, 4.2.1 TEXT/PLAIN,
//   4.2.2 MULTIPART/ALTERNATIVE (4.2.2.1 TEXT/PLAIN, 4.2.2.2 TEXT/RICHTEXT)))
const std::string kHeader =
    "From: a@b.c\r\nTo: d@e.f\r\nSubject: tree\r\nContent-Type: multipart/mixed; boundary=\"0\"\r\n\r\n";
const std::string kInner3 =
    "Subject: three\r\nContent-Type: multipart/mixed; boundary=\"3\"\r\n\r\n"
    "--3\r\n\r\npart 3.1\r\n--3\r\nContent-Type: application/octet-stream\r\n\r\n3.2 bytes\r\n--3--";
const std::string kInner42 =
    "Subject: four-two\r\nContent-Type: multipart/mixed; boundary=\"42\"\r\n\r\n"
    "--42\r\n\r\npart 4.2.1\r\n--42\r\nContent-Type: multipart/alternative; boundary=\"422\"\r\n\r\n"
    "--422\r\n\r\npart 4.2.2.1\r\n--422\r\nContent-Type: text/richtext\r\n\r\npart 4.2.2.2\r\n"
    "--422--\r\n--42--";
const std::string kMessage =
    kHeader + "--0\r\n\r\npart 1\r\n"
    "--0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "aGVsbG8=\r\n"
    "--0\r\nContent-Type: message/rfc822\r\n\r\n" + kInner3 + "\r\n"
    "--0\r\nContent-Type: multipart/mixed; boundary=\"4\"\r\n\r\n"
    "--4\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nG=49F\r\n"
    "--4\r\nContent-Type: message/rfc822\r\n\r\n" + kInner42 + "\r\n--4--\r\n"
    "--0--\r\n";

std::string fetch(const Message& msg, std::string_view section) {
  auto spec = parse_section(section);
  REQUIRE_MESSAGE(spec, section);
  auto data = extract_section(msg, *spec);
  if (!data) return "<NIL>";
  return std::string(data->data());
}

}  // namespace

TEST_CASE("section parsing and echo") {
  auto s = parse_section("1.2.HEADER.FIELDS (From \"x-y\" to)");
  REQUIRE(s);
  CHECK(s->part == std::vector<std::uint32_t>{1, 2});
  CHECK(s->text == SectionText::HeaderFields);
  CHECK(s->fields == std::vector<std::string>{"From", "x-y", "to"});
  CHECK(format_section(*s) == "1.2.HEADER.FIELDS (FROM X-Y TO)");
  CHECK(format_section(*parse_section("")) == "");
  CHECK(format_section(*parse_section("header.fields.not (a)")) == "HEADER.FIELDS.NOT (A)");
  CHECK(format_section(*parse_section("3.mime")) == "3.MIME");
  CHECK(parse_section("4.2.2.1")->part == std::vector<std::uint32_t>{4, 2, 2, 1});
  for (std::string_view bad : {"MIME", "0", "1..2", "1.", "HEADER.FIELDS", "HEADER.FIELDS ()",
                               "TEXTX", "1.2 ", "99999999999", "HEADER.FIELDS (a"}) {
    auto r = parse_section(bad);
    CHECK_MESSAGE(!r, bad);
    if (!r) CHECK(r.error().message.find("offset") != std::string::npos);
  }
  CHECK_FALSE(parse_section("1.TEXT", true));
  CHECK(parse_section("1.2", true));
  CHECK(*parse_partial("<0.100>") == Partial{0, 100});
  CHECK_FALSE(parse_partial("<5.0>"));
  CHECK_FALSE(parse_partial("<5>"));
  SectionSpec p;
  p.partial = Partial{7, 3};
  CHECK(format_partial(p) == "<7>");
}

TEST_CASE("the RFC 3501 part numbering example") {
  auto msg = Message::parse(kMessage);
  CHECK(fetch(msg, "") == kMessage);
  CHECK(fetch(msg, "HEADER") == kHeader);
  CHECK(fetch(msg, "TEXT") == kMessage.substr(kHeader.size()));
  CHECK(fetch(msg, "1") == "part 1");
  CHECK(fetch(msg, "2") == "aGVsbG8=");
  CHECK(fetch(msg, "2.MIME") ==
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
  CHECK(fetch(msg, "3") == kInner3);
  CHECK(fetch(msg, "3.HEADER") ==
        "Subject: three\r\nContent-Type: multipart/mixed; boundary=\"3\"\r\n\r\n");
  CHECK(fetch(msg, "3.TEXT").rfind("--3\r\n", 0) == 0);
  CHECK(fetch(msg, "3.1") == "part 3.1");
  CHECK(fetch(msg, "3.2") == "3.2 bytes");
  CHECK(fetch(msg, "4.1") == "G=49F");
  CHECK(fetch(msg, "4.1.MIME") ==
        "Content-Type: image/gif\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  CHECK(fetch(msg, "4.2") == kInner42);
  CHECK(fetch(msg, "4.2.HEADER.FIELDS (SUBJECT)") == "Subject: four-two\r\n\r\n");
  CHECK(fetch(msg, "4.2.1") == "part 4.2.1");
  CHECK(fetch(msg, "4.2.2.1") == "part 4.2.2.1");
  CHECK(fetch(msg, "4.2.2.2") == "part 4.2.2.2");
  // Parts that do not exist, and HEADER/TEXT of parts that are not messages.
  CHECK(fetch(msg, "5") == "<NIL>");
  CHECK(fetch(msg, "1.1") == "<NIL>");
  CHECK(fetch(msg, "1.HEADER") == "<NIL>");
  CHECK(fetch(msg, "4.2.2.3") == "<NIL>");
}

TEST_CASE("HEADER.FIELDS and HEADER.FIELDS.NOT keep order, folding and the empty line") {
  auto msg = Message::parse(
      "From: a@b.c\r\nReceived: x\r\n  y\r\nSubject: s\r\nreceived: z\r\n\r\nbody\r\n");
  CHECK(fetch(msg, "HEADER.FIELDS (RECEIVED)") == "Received: x\r\n  y\r\nreceived: z\r\n\r\n");
  CHECK(fetch(msg, "HEADER.FIELDS.NOT (Received From)") == "Subject: s\r\n\r\n");
  CHECK(fetch(msg, "HEADER.FIELDS (X-NONE)") == "\r\n");
}

TEST_CASE("non-multipart messages have only part 1; RFC822 items map to sections") {
  auto msg = Message::parse("Subject: x\r\n\r\nhello world");
  CHECK(fetch(msg, "1") == "hello world");
  CHECK(fetch(msg, "2") == "<NIL>");
  CHECK(fetch(msg, "TEXT") == "hello world");  // RFC822.TEXT
  CHECK(fetch(msg, "HEADER") == "Subject: x\r\n\r\n");  // RFC822.HEADER
  CHECK(msg.size() == 25);  // RFC822.SIZE: 12 + 2 + 11 octets
}

TEST_CASE("partial fetches") {
  auto msg = Message::parse("Subject: x\r\n\r\n0123456789");
  auto spec = *parse_section("TEXT");
  spec.partial = Partial{2, 3};
  CHECK(extract_section(msg, spec)->data() == "234");
  spec.partial = Partial{8, 100};
  CHECK(extract_section(msg, spec)->data() == "89");
  spec.partial = Partial{10, 1};
  CHECK(extract_section(msg, spec)->data().empty());
  spec.partial = Partial{1000, 1};
  CHECK(extract_section(msg, spec)->data().empty());
  auto fields = *parse_section("HEADER.FIELDS (SUBJECT)");
  fields.partial = Partial{0, 7};
  CHECK(extract_section(msg, fields)->data() == "Subject");
}

TEST_CASE("BINARY decodes base64 and quoted-printable; BINARY.SIZE; unknown CTE") {
  auto msg = Message::parse(kMessage);
  auto bin = [&](std::string_view s) {
    auto spec = parse_section(s, true);
    REQUIRE(spec);
    return extract_binary(msg, *spec);
  };
  CHECK((*bin("2"))->data() == "hello");
  CHECK((*bin("4.1"))->data() == "GIF");
  CHECK((*bin("1"))->data() == "part 1");
  CHECK((*bin(""))->data() == kMessage);
  CHECK_FALSE(bin("9")->has_value());
  auto size = binary_size(msg, *parse_section("2", true));
  REQUIRE(size);
  CHECK(*size == std::optional<std::uint64_t>(5));
  auto spec = *parse_section("2", true);
  spec.partial = Partial{1, 2};
  CHECK((*extract_binary(msg, spec))->data() == "el");

  auto odd = Message::parse(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: x-uue\r\n"
      "\r\nbegin\r\n--b--\r\n");
  auto r = extract_binary(odd, *parse_section("1", true));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Protocol);
  CHECK(r.error().message.rfind("[UNKNOWN-CTE]", 0) == 0);
}
