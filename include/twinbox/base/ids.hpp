#pragma once
/// Strong types for IMAP numbers (Gluon's strong_types.go), so a UID is never passed where a
/// sequence number is meant. Plus Side and PerSide<T> (isync's uid[2]): every sync rule is
/// written once for a Side, never as local_/remote_ copies.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string_view>

namespace twinbox {

template <class Tag, class Rep>
struct StrongNumber {
  using rep = Rep;
  Rep value = 0;

  constexpr StrongNumber() = default;
  constexpr explicit StrongNumber(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongNumber&) const = default;
  [[nodiscard]] constexpr bool valid() const { return value != 0; }
};

template <class Tag, class Rep>
std::ostream& operator<<(std::ostream& os, StrongNumber<Tag, Rep> n) {
  return os << n.value;
}

struct UidTag {};
struct UidValidityTag {};
struct SeqNumTag {};
struct ModSeqTag {};

/// A message UID: nz-number, 1 … 4294967295 (RFC 3501 §2.3.1.1). 0 means "none".
using Uid = StrongNumber<UidTag, std::uint32_t>;
/// UIDVALIDITY of a mailbox: nz-number (RFC 3501 §2.3.1.1).
using UidValidity = StrongNumber<UidValidityTag, std::uint32_t>;
/// A message sequence number: 1 … EXISTS (RFC 3501 §2.3.1.2).
using SeqNum = StrongNumber<SeqNumTag, std::uint32_t>;
/// A mod-sequence: 63-bit per RFC 7162 §7, but RFC 4551 allowed 64-bit, so it is parsed as a
/// uint64. Stored in SQLite bit-cast to int64 (to_storage / from_storage).
struct ModSeq : StrongNumber<ModSeqTag, std::uint64_t> {
  using StrongNumber::StrongNumber;
  static constexpr std::uint64_t kMax63 = (std::uint64_t{1} << 63) - 1;
  [[nodiscard]] constexpr std::int64_t to_storage() const { return static_cast<std::int64_t>(value); }
  static constexpr ModSeq from_storage(std::int64_t v) { return ModSeq(static_cast<std::uint64_t>(v)); }
};

constexpr std::uint32_t kMaxUid = 4294967295U;

/// Parses a decimal nz-number (1 … 4294967295) for Uid/UidValidity/SeqNum; nullopt when the
/// text is empty, has a non-digit, is 0, or overflows (leading zeros are tolerated).
std::optional<std::uint32_t> parse_nz_number(std::string_view s);
/// Parses a decimal number 0 … 2^64-1 (mod-sequences, literal sizes); nullopt on overflow.
std::optional<std::uint64_t> parse_number64(std::string_view s);

/// The two endpoints of a sync.
enum class Side : std::uint8_t { Local = 0, Remote = 1 };
constexpr Side other(Side s) { return s == Side::Local ? Side::Remote : Side::Local; }
constexpr std::array<Side, 2> kBothSides{Side::Local, Side::Remote};
std::string_view to_string(Side s);
std::ostream& operator<<(std::ostream& os, Side s);

/// One value per side, indexed by Side.
template <class T>
struct PerSide {
  std::array<T, 2> v{};

  constexpr T& operator[](Side s) { return v[static_cast<std::size_t>(s)]; }
  constexpr const T& operator[](Side s) const { return v[static_cast<std::size_t>(s)]; }
  bool operator==(const PerSide&) const = default;
  /// The same pair with the sides swapped (used by mirror tests).
  [[nodiscard]] PerSide swapped() const { return PerSide{{v[1], v[0]}}; }
};

}  // namespace twinbox

template <class Tag, class Rep>
struct std::hash<twinbox::StrongNumber<Tag, Rep>> {
  std::size_t operator()(twinbox::StrongNumber<Tag, Rep> n) const noexcept {
    return std::hash<Rep>{}(n.value);
  }
};
template <>
struct std::hash<twinbox::ModSeq> {
  std::size_t operator()(twinbox::ModSeq n) const noexcept { return std::hash<std::uint64_t>{}(n.value); }
};
