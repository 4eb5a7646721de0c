#include <twinbox/imap/capability.hpp>

#include <algorithm>
#include <limits>

#include <twinbox/imap/flags.hpp>

namespace twinbox::imap {

CapabilitySet::CapabilitySet(const std::vector<std::string>& atoms) {
  items_.reserve(atoms.size());
  for (const auto& a : atoms) add(a);
}

void CapabilitySet::add(std::string_view atom) {
  if (atom.empty() || has(atom)) return;
  items_.emplace_back(atom);
}

bool CapabilitySet::has(std::string_view name) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const std::string& s) { return iequals(s, name); });
}

bool CapabilitySet::has_auth(std::string_view mechanism) const {
  for (const auto& m : values("AUTH")) {
    if (iequals(m, mechanism)) return true;
  }
  return false;
}

std::vector<std::string> CapabilitySet::auth_mechanisms() const { return values("AUTH"); }

std::vector<std::string> CapabilitySet::values(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& s : items_) {
    if (s.size() > key.size() && s[key.size()] == '=' &&
        iequals(std::string_view(s).substr(0, key.size()), key)) {
      out.push_back(s.substr(key.size() + 1));
    }
  }
  return out;
}

std::optional<std::uint64_t> CapabilitySet::number(std::string_view key) const {
  for (const auto& v : values(key)) {
    if (v.empty() || v.size() > 19) continue;
    std::uint64_t n = 0;
    bool ok = true;
    for (char c : v) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (ok) return n;
  }
  return std::nullopt;
}

std::uint64_t CapabilitySet::max_nonsync_literal() const {
  if (literal_plus()) return std::numeric_limits<std::uint64_t>::max();
  if (has("LITERAL-")) return 4096;
  return 0;
}

bool CapabilitySet::operator==(const CapabilitySet& other) const {
  if (items_.size() != other.items_.size()) return false;
  return std::all_of(items_.begin(), items_.end(),
                     [&](const std::string& s) { return other.has(s); });
}

}  // namespace twinbox::imap
