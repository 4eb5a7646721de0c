#pragma once
/// The capability list of a server (RFC 3501 §7.2.1, RFC 9051 §7.2.2): a case-insensitive set
/// of atoms. Some carry a value after `=`: `AUTH=PLAIN` (RFC 3501 §6.2.2), `APPENDLIMIT=35651584`
/// (RFC 7889), `COMPRESS=DEFLATE` (RFC 4978), `UTF8=ACCEPT` (RFC 6855). Replace the whole set
/// after STARTTLS and after authentication (PROTOCOL.md §1.1); unknown names are kept and ignored.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twinbox::imap {

class CapabilitySet {
 public:
  CapabilitySet() = default;
  explicit CapabilitySet(const std::vector<std::string>& atoms);

  /// Adds one capability atom (duplicates ignoring case are dropped; first spelling kept).
  void add(std::string_view atom);
  void clear() { items_.clear(); }

  /// Exact token match ignoring case: has("QRESYNC"), has("AUTH=PLAIN"), has("LITERAL+").
  [[nodiscard]] bool has(std::string_view name) const;
  /// has("AUTH=" + mechanism).
  [[nodiscard]] bool has_auth(std::string_view mechanism) const;
  /// The mechanisms of every `AUTH=` atom, in the order advertised.
  [[nodiscard]] std::vector<std::string> auth_mechanisms() const;
  /// Values of every `KEY=value` atom for KEY (ignoring case), in order:
  /// values("COMPRESS") == {"DEFLATE"}.
  [[nodiscard]] std::vector<std::string> values(std::string_view key) const;
  /// The decimal value of `KEY=n` (e.g. APPENDLIMIT); nullopt when absent, valueless
  /// (plain `APPENDLIMIT`, RFC 7889 §3: no global limit) or not a number.
  [[nodiscard]] std::optional<std::uint64_t> number(std::string_view key) const;
  /// `LITERAL+` (RFC 7888 §3: non-synchronizing literals of any size).
  [[nodiscard]] bool literal_plus() const { return has("LITERAL+"); }
  /// `LITERAL-` (RFC 7888 §5: non-synchronizing literals only up to 4096 octets).
  [[nodiscard]] bool literal_minus() const { return has("LITERAL-") && !literal_plus(); }
  /// Largest literal that may be sent without waiting for `+`: unlimited (UINT64_MAX) with
  /// LITERAL+, 4096 with LITERAL-, else 0.
  [[nodiscard]] std::uint64_t max_nonsync_literal() const;

  [[nodiscard]] const std::vector<std::string>& items() const { return items_; }
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] bool empty() const { return items_.empty(); }

  /// Same members ignoring case and order.
  bool operator==(const CapabilitySet& other) const;

 private:
  std::vector<std::string> items_;  // in advertised order
};

}  // namespace twinbox::imap
