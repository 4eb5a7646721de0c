#include <doctest/doctest.h>

#include <twinbox/imap/seqset.hpp>

using twinbox::Errc;
using twinbox::imap::Range;
using twinbox::imap::SeqSet;

namespace {
SeqSet must_parse(std::string_view s, bool allow_star = true, std::uint32_t star = 4294967295U) {
  auto r = SeqSet::parse(s, allow_star, star);
  REQUIRE_MESSAGE(r.has_value(), std::string(s));
  return *r;
}
}  // namespace

TEST_CASE("seqset: parse normalises reversed, overlapping and unordered input") {
  struct Row {
    const char* in;
    const char* out;
  };
  const Row rows[] = {
      {"1", "1"},
      {"4:2", "2:4"},
      {"1:3,2:5", "1:5"},
      {"9,1,5", "1,5,9"},
      {"1,2,3", "1:3"},  // adjacent singles merge
      {"7:9,1:6", "1:9"},
      {"10:12,1,3:4,2", "1:4,10:12"},
      {"5:5", "5"},
      {"3,3,3", "3"},
      {"4294967295", "4294967295"},
      {"4294967294:4294967295,1", "1,4294967294:4294967295"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.in);
    CHECK(must_parse(row.in).to_string() == row.out);
  }
}

TEST_CASE("seqset: star maps to star_value") {
  CHECK(must_parse("*", true, 17).to_string() == "17");
  CHECK(must_parse("5:*", true, 17).to_string() == "5:17");
  CHECK(must_parse("*:5", true, 3).to_string() == "3:5");  // "*" below 5 is a reversed range
  CHECK(must_parse("1:*").max() == 4294967295U);
  CHECK(must_parse("*", true, 0).empty());  // empty mailbox
  auto r = SeqSet::parse("1:*", false);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Parse);
  CHECK(r.error().message.find("offset 2") != std::string::npos);
}

TEST_CASE("seqset: malformed input is rejected with offset and excerpt") {
  const char* bad[] = {"", "0", "1:0", ",", "1,", ",1", "1::2", "a", "1 2", "1:2:3",
                       "4294967296", "99999999999999999999999", "1,*x", "1;2", "-1", "1:"};
  for (const char* s : bad) {
    CAPTURE(s);
    auto r = SeqSet::parse(s);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK(r.error().message.find("offset") != std::string::npos);
  }
  auto r = SeqSet::parse("1,2,x9");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("offset 4 near 'x9'") != std::string::npos);
}

TEST_CASE("seqset: huge ranges stay compact") {
  SeqSet s = must_parse("1:4294967295");
  CHECK(s.ranges().size() == 1);
  CHECK(s.size() == 4294967295ULL);
  CHECK(s.contains(1));
  CHECK(s.contains(4294967295U));
  CHECK_FALSE(s.contains(0));
  CHECK(s.to_string() == "1:4294967295");
}

TEST_CASE("seqset: add, contains, remove") {
  SeqSet s;
  CHECK(s.empty());
  CHECK_FALSE(s.min().has_value());
  s.add(5);
  s.add(7);
  CHECK(s.to_string() == "5,7");
  s.add(6);
  CHECK(s.to_string() == "5:7");
  s.add(20, 10);
  CHECK(s.to_string() == "5:7,10:20");
  s.add(8, 9);
  CHECK(s.to_string() == "5:20");
  s.add(1, 2);
  s.add(4294967295U);
  s.add(4294967294U);
  CHECK(s.to_string() == "1:2,5:20,4294967294:4294967295");
  CHECK(s.contains(2));
  CHECK_FALSE(s.contains(3));
  CHECK(s.min() == 1U);
  CHECK(s.max() == 4294967295U);
  CHECK(s.size() == 2 + 16 + 2);

  s.remove(must_parse("2,6:7,15:4294967294"));
  CHECK(s.to_string() == "1,5,8:14,4294967295");
  s.remove(must_parse("1:4294967295"));
  CHECK(s.empty());

  SeqSet a = must_parse("1:10,20:30");
  a.remove(must_parse("5,25:35,1"));
  CHECK(a.to_string() == "2:4,6:10,20:24");
  SeqSet b = must_parse("1:3");
  b.add(must_parse("4,10"));
  CHECK(b.to_string() == "1:4,10");
}

TEST_CASE("seqset: remove agrees with a membership model") {
  // Small universe, every pair of sets from a deterministic generator.
  std::uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245U + 12345U;
    return (seed >> 16) % 24 + 1;
  };
  for (int round = 0; round < 300; ++round) {
    SeqSet a, b;
    for (int i = 0; i < 4; ++i) a.add(next(), next());
    for (int i = 0; i < 3; ++i) b.add(next(), next());
    SeqSet diff = a;
    diff.remove(b);
    for (std::uint32_t n = 1; n <= 25; ++n) {
      CHECK(diff.contains(n) == (a.contains(n) && !b.contains(n)));
    }
    CHECK(must_parse(a.to_string()) == a);
  }
}

TEST_CASE("seqset: vectors") {
  SeqSet s = SeqSet::from_vector({9, 3, 1, 2, 0, 3});
  CHECK(s.to_string() == "1:3,9");
  CHECK(s.to_vector() == std::vector<std::uint32_t>{1, 2, 3, 9});
}

TEST_CASE("seqset: split keeps every piece under the budget and covers the set") {
  SeqSet s;
  for (std::uint32_t n = 1; n < 4000; n += 2) s.add(n);
  for (std::size_t budget : {std::size_t{1}, std::size_t{10}, std::size_t{100}, std::size_t{1000}}) {
    auto parts = s.split(budget);
    SeqSet joined;
    for (const auto& p : parts) {
      CHECK_FALSE(p.empty());
      // A single range is allowed to exceed a tiny budget; otherwise it must fit.
      if (p.ranges().size() > 1) CHECK(p.to_string().size() <= budget);
      joined.add(p);
    }
    CHECK(joined == s);
  }
  CHECK(SeqSet{}.split(10).empty());
  CHECK(s.split(100000).size() == 1);
}
