#include <doctest/doctest.h>

#include <type_traits>

#include <memory>
#include <string>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>

using namespace twinbox;

namespace {
Result<int> half(int x) {
  if (x % 2 != 0) return fail(Errc::Parse, Scope::Message, "odd: " + std::to_string(x));
  return x / 2;
}
Status check_positive(int x) {
  if (x <= 0) return fail(Errc::Config, Scope::Fatal, "not positive");
  return {};
}
}  // namespace

TEST_CASE("Result holds a value or an error") {
  auto a = half(4);
  REQUIRE(a);
  CHECK(*a == 2);
  CHECK(a.value_or(-1) == 2);
  auto b = half(3);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == Errc::Parse);
  CHECK(b.error().scope == Scope::Message);
  CHECK(b.error().message == "odd: 3");
  CHECK(b.value_or(-1) == -1);
  CHECK(b.error().with_context("INBOX").message == "INBOX: odd: 3");
}

TEST_CASE("Result<void>") {
  CHECK(check_positive(1));
  auto s = check_positive(0);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Config);
}

// Was a bug: a failed Status returned from a function giving Result<bool> became
// Result<bool>{false} (bool's explicit conversion of the Status), its error lost.
static_assert(!std::is_convertible_v<Status, Result<bool>>);
static_assert(!std::is_constructible_v<Result<bool>, Status>);
static_assert(!std::is_constructible_v<Result<int>, Result<long>>);
static_assert(std::is_convertible_v<int, Result<long>>);  // values still convert

TEST_CASE("a Status converts to another Result only through its error") {
  Status failed = check_positive(0);
  Result<bool> r = failed.error();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Config);
}

TEST_CASE("Result of a move-only type") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r);
  auto p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("numbers") {
  CHECK(parse_nz_number("1") == 1U);
  CHECK(parse_nz_number("4294967295") == 4294967295U);
  CHECK_FALSE(parse_nz_number("4294967296"));
  CHECK_FALSE(parse_nz_number("0"));
  CHECK_FALSE(parse_nz_number(""));
  CHECK_FALSE(parse_nz_number("12a"));
  CHECK_FALSE(parse_nz_number("-1"));
  CHECK(parse_number64("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(parse_number64("18446744073709551616"));
  CHECK_FALSE(parse_number64("99999999999999999999"));
  ModSeq big(UINT64_MAX);
  CHECK(ModSeq::from_storage(big.to_storage()) == big);
}

TEST_CASE("strong types and sides") {
  Uid a(3), b(5);
  CHECK(a < b);
  CHECK(Uid().valid() == false);
  PerSide<int> p;
  p[Side::Local] = 1;
  p[Side::Remote] = 2;
  CHECK(p.swapped()[Side::Local] == 2);
  CHECK(other(Side::Local) == Side::Remote);
  CHECK(to_string(Side::Remote) == "remote");
}
