#include <algorithm>

#include <twinbox/imap/seqset.hpp>

#include "command_impl.hpp"

namespace twinbox::imap {
namespace {

/// Sorts and merges overlapping or adjacent ranges in place (lo <= hi already holds).
void normalise(std::vector<Range>& v) {
  std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (out > 0 && std::uint64_t{v[i].lo} <= std::uint64_t{v[out - 1].hi} + 1) {
      v[out - 1].hi = std::max(v[out - 1].hi, v[i].hi);
    } else {
      v[out++] = v[i];
    }
  }
  v.resize(out);
}

void append_range(std::string& out, const Range& r) {
  out += std::to_string(r.lo);
  if (r.hi != r.lo) {
    out += ':';
    out += std::to_string(r.hi);
  }
}

std::size_t range_chars(const Range& r) {
  std::size_t n = std::to_string(r.lo).size();
  if (r.hi != r.lo) n += 1 + std::to_string(r.hi).size();
  return n;
}

Error parse_error(std::string_view text, std::size_t pos, std::string_view what) {
  return fail(Errc::Parse, Scope::Connection,
              "invalid sequence set: " + std::string(what) + detail::at_offset(text, pos));
}

}  // namespace

void SeqSet::add(std::uint32_t a, std::uint32_t b) {
  if (a > b) std::swap(a, b);
  if (a == 0) {
    if (b == 0) return;  // 0 is never a member (nz-number)
    a = 1;
  }
  // Find the first range that may touch [a, b] and merge everything that does.
  auto first = std::lower_bound(ranges_.begin(), ranges_.end(), a, [](const Range& r, std::uint32_t v) {
    return std::uint64_t{r.hi} + 1 < v;
  });
  auto last = first;
  Range merged{a, b};
  while (last != ranges_.end() && std::uint64_t{last->lo} <= std::uint64_t{b} + 1) {
    merged.lo = std::min(merged.lo, last->lo);
    merged.hi = std::max(merged.hi, last->hi);
    ++last;
  }
  if (first == last) {
    ranges_.insert(first, merged);
  } else {
    *first = merged;
    ranges_.erase(first + 1, last);
  }
}

void SeqSet::add(const SeqSet& other) {
  if (other.ranges_.empty()) return;
  ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  normalise(ranges_);
}

void SeqSet::remove(const SeqSet& other) {
  if (other.ranges_.empty() || ranges_.empty()) return;
  std::vector<Range> out;
  out.reserve(ranges_.size() + other.ranges_.size());
  std::size_t j = 0;
  const auto& rm = other.ranges_;
  for (Range r : ranges_) {
    // Skip removal ranges wholly below r.
    while (j < rm.size() && rm[j].hi < r.lo) ++j;
    std::size_t k = j;
    std::uint64_t cur = r.lo;  // next candidate member of r not yet emitted or removed
    while (k < rm.size() && rm[k].lo <= r.hi) {
      if (rm[k].lo > cur) out.push_back({static_cast<std::uint32_t>(cur), rm[k].lo - 1});
      cur = std::max<std::uint64_t>(cur, std::uint64_t{rm[k].hi} + 1);
      if (rm[k].hi >= r.hi) break;
      ++k;
    }
    if (cur <= r.hi) out.push_back({static_cast<std::uint32_t>(cur), r.hi});
  }
  ranges_ = std::move(out);
}

bool SeqSet::contains(std::uint32_t n) const {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), n,
                             [](const Range& r, std::uint32_t v) { return r.hi < v; });
  return it != ranges_.end() && it->lo <= n;
}

std::uint64_t SeqSet::size() const {
  std::uint64_t n = 0;
  for (const Range& r : ranges_) n += std::uint64_t{r.hi} - r.lo + 1;
  return n;
}

std::optional<std::uint32_t> SeqSet::min() const {
  if (ranges_.empty()) return std::nullopt;
  return ranges_.front().lo;
}

std::optional<std::uint32_t> SeqSet::max() const {
  if (ranges_.empty()) return std::nullopt;
  return ranges_.back().hi;
}

std::vector<std::uint32_t> SeqSet::to_vector() const {
  std::vector<std::uint32_t> out;
  out.reserve(static_cast<std::size_t>(size()));
  for (const Range& r : ranges_) {
    for (std::uint64_t n = r.lo; n <= r.hi; ++n) out.push_back(static_cast<std::uint32_t>(n));
  }
  return out;
}

std::string SeqSet::to_string() const {
  std::string out;
  for (const Range& r : ranges_) {
    if (!out.empty()) out += ',';
    append_range(out, r);
  }
  return out;
}

std::vector<SeqSet> SeqSet::split(std::size_t max_chars) const {
  std::vector<SeqSet> out;
  std::size_t used = 0;
  for (const Range& r : ranges_) {
    std::size_t need = range_chars(r);
    if (out.empty() || (used > 0 && used + 1 + need > max_chars)) {
      out.emplace_back();
      used = 0;
    }
    used += (used > 0 ? 1 : 0) + need;
    out.back().ranges_.push_back(r);
  }
  return out;
}

// sequence-set = (seq-number / seq-range) ["," sequence-set]
// seq-range    = seq-number ":" seq-number
// seq-number   = nz-number / "*"                                   (RFC 3501 §9)
Result<SeqSet> SeqSet::parse(std::string_view text, bool allow_star, std::uint32_t star_value) {
  if (text.empty()) return parse_error(text, 0, "empty; expected a number, a range or '*'");
  std::vector<Range> ranges;
  std::size_t pos = 0;
  auto number = [&](std::uint32_t& out) -> Result<void> {
    if (pos < text.size() && text[pos] == '*') {
      if (!allow_star) return parse_error(text, pos, "'*' is not allowed here (RFC 4315 §3, RFC 7162 §7)");
      ++pos;
      out = star_value;
      return {};
    }
    std::size_t start = pos;
    std::uint64_t v = 0;
    while (pos < text.size() && detail::is_digit(static_cast<unsigned char>(text[pos]))) {
      v = v * 10 + static_cast<std::uint64_t>(text[pos] - '0');
      if (v > 4294967295U) return parse_error(text, start, "number exceeds 4294967295");
      ++pos;
    }
    if (pos == start) return parse_error(text, pos, "expected a number or '*'");
    if (v == 0) return parse_error(text, start, "0 is not a valid sequence number or UID");
    out = static_cast<std::uint32_t>(v);
    return {};
  };
  while (true) {
    std::uint32_t a = 0;
    if (auto r = number(a); !r) return r.error();
    std::uint32_t b = a;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (auto r = number(b); !r) return r.error();
    }
    if (a > b) std::swap(a, b);
    if (a != 0) ranges.push_back({a, b});  // star_value 0 (empty mailbox) adds nothing
    if (pos == text.size()) break;
    if (text[pos] != ',') return parse_error(text, pos, "expected ',' or ':' or the end");
    ++pos;
  }
  normalise(ranges);
  SeqSet s;
  s.ranges_ = std::move(ranges);
  return s;
}

SeqSet SeqSet::from_vector(const std::vector<std::uint32_t>& v) {
  SeqSet s;
  s.ranges_.reserve(v.size());
  for (std::uint32_t n : v) {
    if (n != 0) s.ranges_.push_back({n, n});
  }
  normalise(s.ranges_);
  return s;
}

}  // namespace twinbox::imap
