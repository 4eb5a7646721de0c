#include <doctest/doctest.h>

#include <twinbox/imap/flags.hpp>

using namespace twinbox::imap;

TEST_CASE("FlagSet: case-insensitive, first spelling kept, ordered") {
  FlagSet s;
  CHECK(s.insert("$Forwarded"));
  CHECK_FALSE(s.insert("$FORWARDED"));
  CHECK(s.insert("\\seen"));
  CHECK_FALSE(s.insert("\\Seen"));
  CHECK(s.size() == 2);
  CHECK(s.contains("$forwarded"));
  CHECK(s.items() == std::vector<std::string>{"$Forwarded", "\\seen"});
  CHECK(s == FlagSet{"\\SEEN", "$forwarded"});
  CHECK(s.erase("\\SEEN"));
  CHECK_FALSE(s.contains("\\Seen"));
  CHECK(s.to_string() == "($Forwarded)");
  CHECK(FlagSet{}.to_string() == "()");
}

TEST_CASE("FlagSet: \\Recent and \\*") {
  FlagSet s{"\\Recent", "\\Seen", "\\*"};
  CHECK(s.allows_new_keywords());
  CHECK(s.without_recent() == FlagSet{"\\Seen"});
  s.strip_recent();
  CHECK(s == FlagSet{"\\Seen"});
  CHECK(is_recent_flag("\\RECENT"));
  CHECK(is_system_flag("\\draft"));
  CHECK_FALSE(is_system_flag("$Junk"));
  CHECK(is_valid_flag("$Junk"));
  CHECK(is_valid_flag("2024:taxes"));
  CHECK_FALSE(is_valid_flag("\\*"));
  CHECK_FALSE(is_valid_flag("a b"));
  CHECK_FALSE(is_valid_flag(""));
  CHECK_FALSE(is_valid_flag("\\"));
}

TEST_CASE("FlagSet algebra and the three-way merge") {
  const FlagSet a{"\\Seen", "$A"};
  const FlagSet b{"\\seen", "$B"};
  CHECK(a.unite(b) == FlagSet{"\\Seen", "$A", "$B"});
  CHECK(a.unite(b).items()[2] == "\\Seen");  // spelling of the left operand
  CHECK(a.subtract(b) == FlagSet{"$A"});
  CHECK(a.intersect(b) == FlagSet{"\\Seen"});

  // base {S}, local added F, remote removed S → {F}
  CHECK(merge_flags({"\\Seen"}, {"\\Seen", "\\Flagged"}, {}) == FlagSet{"\\Flagged"});
  // both sides add different keywords, one removes a base flag
  CHECK(merge_flags({"\\Seen", "$x"}, {"\\Seen", "$x", "$L"}, {"$x", "$R"}) == FlagSet{"$x", "$L", "$R"});
  // \Recent never survives
  CHECK(merge_flags({}, {"\\Recent"}, {}) == FlagSet{});
  // symmetric in its sides
  const FlagSet base{"\\Seen", "$k"}, l{"\\Seen", "\\Answered"}, r{"$k", "$new"};
  CHECK(merge_flags(base, l, r) == merge_flags(base, r, l));
  // no change on either side → base
  CHECK(merge_flags(base, base, base) == base);
}

TEST_CASE("FlagSet: reverse-order inserts stay sorted and unique") {
  FlagSet s;
  for (int i = 50; i > 0; --i) s.insert("k" + std::to_string(i % 20));
  CHECK(s.size() == 20);
  for (std::size_t i = 1; i < s.size(); ++i) CHECK(icompare(s.items()[i - 1], s.items()[i]) < 0);
}
