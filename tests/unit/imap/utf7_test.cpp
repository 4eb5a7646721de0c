#include <doctest/doctest.h>

#include <string>

#include <twinbox/imap/utf7.hpp>

using twinbox::Errc;
using twinbox::imap::is_valid_utf7;
using twinbox::imap::utf7_decode;
using twinbox::imap::utf7_encode;

TEST_CASE("utf7: known encodings round-trip both ways") {
  struct Row {
    const char* utf8;
    const char* mutf7;
  };
  const Row rows[] = {
      {"INBOX", "INBOX"},
      {"", ""},
      {"&", "&-"},
      {"a&b&&", "a&-b&-&-"},
      // RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語"
      {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
       "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"Caf\xc3\xa9", "Caf&AOk-"},                                  // Dovecot listing example
      {"\xc3\xa9&", "&AOk-&-"},                                     // run followed by "&-"
      {"Entw\xc3\xbc" "rfe", "Entw&APw-rfe"},
      {"\xf0\x9f\x93\xa7", "&2D3c5w-"},                             // U+1F4E7 as a surrogate pair
      {"\t", "&AAk-"},                                              // controls are encoded
      {"~", "~"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.mutf7);
    auto enc = utf7_encode(row.utf8);
    REQUIRE(enc.has_value());
    CHECK(*enc == row.mutf7);
    auto dec = utf7_decode(row.mutf7);
    REQUIRE(dec.has_value());
    CHECK(*dec == row.utf8);
    CHECK(is_valid_utf7(row.mutf7));
  }
}

TEST_CASE("utf7: malformed forms are rejected") {
  const char* bad[] = {
      "&U,BTFw-&ZeVnLIqe-",  // redundant shift: must be one run
      "&AOk",                // missing '-'
      "a&",                  // missing '-'
      "&AOk/-",              // '/' is not in the modified alphabet
      "&AO=-",               // padding is not used
      "&AOl-",               // non-zero padding bits
      "&AOkA-",              // stray base64 character (partial unit)
      "&AGE-",               // "a" encoded: printable ASCII must be direct
      "&ACY-",               // "&" encoded
      "&2D0-",               // lone high surrogate
      "&3KU-",               // lone low surrogate
      "&2D3YPQ-",            // high surrogate followed by high surrogate
      "caf\xc3\xa9",         // raw 8-bit
      "tab\there",           // raw control
  };
  for (const char* s : bad) {
    CAPTURE(s);
    auto r = utf7_decode(s);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK(r.error().message.find("offset") != std::string::npos);
    CHECK_FALSE(is_valid_utf7(s));
  }
  // The merged form of the redundant one is fine.
  auto merged = utf7_encode("\xe5\x8f\xb0\xe5\x8c\x97\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
  REQUIRE(merged.has_value());
  CHECK(*merged == "&U,BTF2XlZyyKng-");
  CHECK(utf7_decode(*merged).has_value());
}

TEST_CASE("utf7: encode rejects invalid UTF-8") {
  const std::string bad[] = {
      "\x80",                      // stray continuation
      "\xc3",                      // truncated
      "\xc0\xaf",                  // overlong '/'
      "\xe0\x80\xaf",              // overlong
      "\xed\xa0\x80",              // surrogate U+D800
      "\xf4\x90\x80\x80",          // above U+10FFFF
      "\xff",                      // invalid lead byte
      "ok\xe6\x97",                // truncated at the end
      "\xe6\x41\x41",              // missing continuation
  };
  for (const auto& s : bad) {
    CAPTURE(s);
    auto r = utf7_encode(s);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("UTF-8") != std::string::npos);
  }
}

TEST_CASE("utf7: every BMP and sample astral code point round-trips") {
  std::string utf8;
  std::size_t n = 0;
  auto push = [&](std::uint32_t cp) {
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else if (cp < 0x800) {
      utf8 += static_cast<char>(0xc0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      utf8 += static_cast<char>(0xe0 | (cp >> 12));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      utf8 += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      utf8 += static_cast<char>(0xf0 | (cp >> 18));
      utf8 += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      utf8 += static_cast<char>(0x80 | (cp & 0x3f));
    }
    ++n;
  };
  for (std::uint32_t cp = 1; cp < 0x10000; cp += 7) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    push(cp);
    if (cp % 5 == 0) push('x');  // alternate direct and encoded runs
  }
  for (std::uint32_t cp = 0x10000; cp <= 0x10ffff; cp += 4099) push(cp);
  REQUIRE(n > 1000);
  auto enc = utf7_encode(utf8);
  REQUIRE(enc.has_value());
  for (char c : *enc) CHECK_UNARY(c >= 0x20 && c <= 0x7e);
  auto dec = utf7_decode(*enc);
  REQUIRE(dec.has_value());
  CHECK(*dec == utf8);
}
