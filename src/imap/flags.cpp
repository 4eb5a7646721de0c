#include <twinbox/imap/flags.hpp>

#include <algorithm>

#include <twinbox/imap/token.hpp>

namespace twinbox::imap {

namespace {
constexpr unsigned char fold(char c) {
  return static_cast<unsigned char>(chars::to_upper(c));
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

int icompare(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = fold(a[i]);
    const unsigned char y = fold(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool is_system_flag(std::string_view flag) noexcept {
  return iequals(flag, "\\Seen") || iequals(flag, "\\Answered") || iequals(flag, "\\Flagged") ||
         iequals(flag, "\\Deleted") || iequals(flag, "\\Draft") || iequals(flag, "\\Recent");
}

bool is_recent_flag(std::string_view flag) noexcept { return iequals(flag, "\\Recent"); }

bool is_valid_flag(std::string_view flag) noexcept {
  std::string_view body = flag;
  if (!body.empty() && body.front() == '\\') body.remove_prefix(1);
  if (body.empty()) return false;
  return std::all_of(body.begin(), body.end(),
                     [](char c) { return chars::is_atom_char(static_cast<unsigned char>(c)); });
}

FlagSet::FlagSet(std::initializer_list<std::string_view> flags) {
  for (auto f : flags) insert(f);
}

namespace {
auto find_pos(const std::vector<std::string>& v, std::string_view flag) {
  return std::lower_bound(v.begin(), v.end(), flag, [](const std::string& a, std::string_view b) {
    return icompare(a, b) < 0;
  });
}
}  // namespace

bool FlagSet::insert(std::string_view flag) {
  // Fast path: parsers mostly insert in ascending order or into small sets.
  if (flags_.empty() || icompare(flags_.back(), flag) < 0) {
    flags_.emplace_back(flag);
    return true;
  }
  auto it = find_pos(flags_, flag);
  if (it != flags_.end() && icompare(*it, flag) == 0) return false;
  flags_.emplace(it, flag);
  return true;
}

bool FlagSet::erase(std::string_view flag) {
  auto it = find_pos(flags_, flag);
  if (it == flags_.end() || icompare(*it, flag) != 0) return false;
  flags_.erase(it);
  return true;
}

bool FlagSet::contains(std::string_view flag) const {
  auto it = find_pos(flags_, flag);
  return it != flags_.end() && icompare(*it, flag) == 0;
}

void FlagSet::strip_recent() {
  erase("\\Recent");
  erase("\\*");
}

FlagSet FlagSet::without_recent() const {
  FlagSet r = *this;
  r.strip_recent();
  return r;
}

FlagSet FlagSet::unite(const FlagSet& other) const {
  FlagSet r;
  r.flags_.reserve(flags_.size() + other.flags_.size());
  auto a = flags_.begin();
  auto b = other.flags_.begin();
  while (a != flags_.end() || b != other.flags_.end()) {
    if (b == other.flags_.end()) {
      r.flags_.push_back(*a++);
    } else if (a == flags_.end()) {
      r.flags_.push_back(*b++);
    } else {
      const int c = icompare(*a, *b);
      if (c < 0) {
        r.flags_.push_back(*a++);
      } else if (c > 0) {
        r.flags_.push_back(*b++);
      } else {
        r.flags_.push_back(*a++);
        ++b;
      }
    }
  }
  return r;
}

FlagSet FlagSet::subtract(const FlagSet& other) const {
  FlagSet r;
  for (const auto& f : flags_) {
    if (!other.contains(f)) r.flags_.push_back(f);
  }
  return r;
}

FlagSet FlagSet::intersect(const FlagSet& other) const {
  FlagSet r;
  for (const auto& f : flags_) {
    if (other.contains(f)) r.flags_.push_back(f);
  }
  return r;
}

std::string FlagSet::to_string() const {
  std::string s = "(";
  for (std::size_t i = 0; i < flags_.size(); ++i) {
    if (i != 0) s += ' ';
    s += flags_[i];
  }
  s += ')';
  return s;
}

bool FlagSet::operator==(const FlagSet& other) const {
  if (flags_.size() != other.flags_.size()) return false;
  for (std::size_t i = 0; i < flags_.size(); ++i) {
    if (!iequals(flags_[i], other.flags_[i])) return false;
  }
  return true;
}

FlagSet merge_flags(const FlagSet& base, const FlagSet& side_a, const FlagSet& side_b) {
  const FlagSet b = base.without_recent();
  const FlagSet a1 = side_a.without_recent();
  const FlagSet b1 = side_b.without_recent();
  const FlagSet removed = b.subtract(a1).unite(b.subtract(b1));
  const FlagSet added = a1.subtract(b).unite(b1.subtract(b));
  return b.subtract(removed).unite(added);
}

std::ostream& operator<<(std::ostream& os, const FlagSet& flags) { return os << flags.to_string(); }

}  // namespace twinbox::imap
