#include <twinbox/sync/delta.hpp>

#include <algorithm>
#include <array>
#include <tuple>

namespace twinbox::sync {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int icompare(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    char x = fold(a[i]);
    char y = fold(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool iless(const std::string& a, const std::string& b) { return icompare(a, b) < 0; }

// System flags in their canonical spelling (RFC 3501 §2.3.2).
constexpr std::array<std::string_view, 5> kSystemFlags{"\\Answered", "\\Deleted", "\\Draft",
                                                       "\\Flagged", "\\Seen"};

}  // namespace

Flags normalize_flags(std::vector<std::string> raw) {
  Flags out;
  out.reserve(raw.size());
  for (std::string& f : raw) {
    if (f.empty() || icompare(f, "\\Recent") == 0 || f == "\\*") continue;
    for (std::string_view sys : kSystemFlags) {
      if (icompare(f, sys) == 0) {
        f = std::string(sys);
        break;
      }
    }
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(), iless);
  out.erase(std::unique(out.begin(), out.end(),
                        [](const std::string& a, const std::string& b) {
                          return icompare(a, b) == 0;
                        }),
            out.end());
  return out;
}

Flags make_flags(std::initializer_list<std::string_view> raw) {
  std::vector<std::string> v;
  for (std::string_view f : raw) v.emplace_back(f);
  return normalize_flags(std::move(v));
}

std::string format_flags(const Flags& flags) {
  std::string out;
  for (const std::string& f : flags) {
    if (!out.empty()) out += ' ';
    out += f;
  }
  return out;
}

Flags parse_flags(std::string_view text) {
  std::vector<std::string> v;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) v.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return normalize_flags(std::move(v));
}

Flags flags_union(const Flags& a, const Flags& b) {
  Flags out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), iless);
  return out;
}

Flags flags_difference(const Flags& a, const Flags& b) {
  Flags out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), iless);
  return out;
}

Flags flags_intersection(const Flags& a, const Flags& b) {
  Flags out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), iless);
  return out;
}

bool flags_contain(const Flags& set, std::string_view flag) {
  return std::any_of(set.begin(), set.end(),
                     [&](const std::string& f) { return icompare(f, flag) == 0; });
}

bool same_flags(const Flags& a, const Flags& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const std::string& x, const std::string& y) { return icompare(x, y) == 0; });
}

Flags flags_without(const Flags& flags, std::string_view flag) {
  Flags out;
  for (const std::string& f : flags) {
    if (icompare(f, flag) != 0) out.push_back(f);
  }
  return out;
}

Flags merge_flags(const Flags& base, const Flags& a, const Flags& b) {
  const Flags removed = flags_union(flags_difference(base, a), flags_difference(base, b));
  const Flags added = flags_union(flags_difference(a, base), flags_difference(b, base));
  return flags_union(flags_difference(base, removed), added);
}

bool has_content_key(const MessageIdentity& id) {
  return !id.message_id.empty() || !id.sha256.empty();
}

bool content_key_less(const MessageIdentity& a, const MessageIdentity& b) {
  return std::tie(a.message_id, a.size, a.internaldate) <
         std::tie(b.message_id, b.size, b.internaldate);
}

bool same_content(const MessageIdentity& a, const MessageIdentity& b) {
  if (!has_content_key(a) || !has_content_key(b)) return false;
  if (a.message_id != b.message_id || a.size != b.size || a.internaldate != b.internaldate) {
    return false;
  }
  return a.sha256.empty() || b.sha256.empty() || a.sha256 == b.sha256;
}

std::ostream& operator<<(std::ostream& os, const MessageIdentity& id) {
  os << "{" << (id.message_id.empty() ? "-" : id.message_id) << " " << id.size << "B @"
     << id.internaldate;
  if (!id.sha256.empty()) os << " sha256:" << id.sha256.substr(0, 12);
  return os << "}";
}

}  // namespace twinbox::sync
