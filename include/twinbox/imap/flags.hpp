#pragma once
/// IMAP message flags (RFC 3501 §2.3.2, RFC 9051 §2.3.2). System flags (`\Seen`, …) and
/// keywords (`$Forwarded`, `NonJunk`) are both compared case-insensitively; a FlagSet keeps the
/// first spelling it saw (PROTOCOL.md §3 "Flags"). `\Recent` is session state, never synced:
/// strip it with without_recent()/strip_recent(). `\*` (may create keywords) appears only in
/// PERMANENTFLAGS; the response parser refuses it everywhere else.

#include <cstddef>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace twinbox::imap {

/// ASCII case-insensitive comparison helpers shared by the imap layer.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;
/// Three-way ASCII case-insensitive compare: <0, 0, >0.
[[nodiscard]] int icompare(std::string_view a, std::string_view b) noexcept;

/// True for `\Seen \Answered \Flagged \Deleted \Draft \Recent` (any case).
[[nodiscard]] bool is_system_flag(std::string_view flag) noexcept;
/// True for `\Recent` (any case).
[[nodiscard]] bool is_recent_flag(std::string_view flag) noexcept;
/// True when `flag` is syntactically a flag we may send: `\` + atom, or a keyword atom
/// (RFC 3501 §9 `flag`). `\*` is not a flag (only a PERMANENTFLAGS marker).
[[nodiscard]] bool is_valid_flag(std::string_view flag) noexcept;

/// A set of flags, case-insensitive, ordered by case-folded name (deterministic output).
/// clear() keeps the capacity, so a FlagSet reused for every FETCH does not allocate for
/// short flags (they fit the small-string buffer).
class FlagSet {
 public:
  FlagSet() = default;
  FlagSet(std::initializer_list<std::string_view> flags);

  /// Inserts; if an equal flag (ignoring case) is present, keeps the old spelling and
  /// returns false.
  bool insert(std::string_view flag);
  /// Removes the flag (ignoring case); returns whether it was present.
  bool erase(std::string_view flag);
  [[nodiscard]] bool contains(std::string_view flag) const;
  [[nodiscard]] std::size_t size() const { return flags_.size(); }
  [[nodiscard]] bool empty() const { return flags_.empty(); }
  void clear() { flags_.clear(); }
  void reserve(std::size_t n) { flags_.reserve(n); }

  /// True when `\*` is in the set (PERMANENTFLAGS: the server accepts new keywords).
  [[nodiscard]] bool allows_new_keywords() const { return contains("\\*"); }
  /// Removes `\Recent` (RFC 3501 §2.3.2: per-session, cannot be stored) and `\*`.
  void strip_recent();
  [[nodiscard]] FlagSet without_recent() const;

  /// this ∪ other (spelling from *this wins).
  [[nodiscard]] FlagSet unite(const FlagSet& other) const;
  /// this − other.
  [[nodiscard]] FlagSet subtract(const FlagSet& other) const;
  /// this ∩ other.
  [[nodiscard]] FlagSet intersect(const FlagSet& other) const;

  /// `(\Seen $Foo)` in set order; `()` when empty.
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] const std::vector<std::string>& items() const { return flags_; }
  [[nodiscard]] auto begin() const { return flags_.begin(); }
  [[nodiscard]] auto end() const { return flags_.end(); }

  /// Set equality ignoring case.
  bool operator==(const FlagSet& other) const;

 private:
  std::vector<std::string> flags_;  // sorted by icompare, unique ignoring case
};

/// Three-way flag merge (DESIGN.md "Sync rules"):
/// `(base − removed_a − removed_b) ∪ added_a ∪ added_b`, where added/removed are taken against
/// `base`. \Recent is stripped from every input.
[[nodiscard]] FlagSet merge_flags(const FlagSet& base, const FlagSet& side_a, const FlagSet& side_b);

std::ostream& operator<<(std::ostream& os, const FlagSet& flags);

}  // namespace twinbox::imap
