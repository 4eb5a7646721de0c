#include <doctest/doctest.h>

#include <twinbox/imap/datetime.hpp>

using namespace twinbox::imap;

TEST_CASE("IMAP date-time parse and format") {
  // RFC 3501 §6.3.11 example "05-Jul-1994 02:28:04 -0700" = 1994-07-05T09:28:04Z.
  auto dt = parse_date_time("05-Jul-1994 02:28:04 -0700");
  REQUIRE(dt);
  CHECK(dt->unix_seconds == 773400484);
  CHECK(dt->zone_minutes == -420);
  CHECK(format_date_time(*dt) == "05-Jul-1994 02:28:04 -0700");
  auto padded = parse_date_time(" 5-Jul-1994 02:28:04 -0700");
  REQUIRE(padded);
  CHECK(padded->unix_seconds == dt->unix_seconds);
  auto epoch = parse_date_time("01-Jan-1970 00:00:00 +0000");
  REQUIRE(epoch);
  CHECK(epoch->unix_seconds == 0);
  auto leap = parse_date_time("29-feb-2024 23:59:59 +0130");
  REQUIRE(leap);
  CHECK(format_date_time(*leap) == "29-Feb-2024 23:59:59 +0130");
  CHECK(format_date_time({0, 0}) == "01-Jan-1970 00:00:00 +0000");
}

TEST_CASE("malformed IMAP date-times are errors") {
  for (const char* bad : {"", "05-Jul-1994", "5-Foo-1994 02:28:04 -0700",
                          "05-Jul-1994 25:28:04 -0700", "05-Jul-1994 02:28:04 0700",
                          "05-Jul-94 02:28:04 -0700", "123-Jul-1994 02:28:04 -0700"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_date_time(bad));
  }
}
