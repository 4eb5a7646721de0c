#pragma once
/// BODY[section]<partial> and BINARY[section] (RFC 3501 §6.4.5, RFC 3516 §4.2): parsing the
/// section text and extracting the bytes from a parsed Message.
///
///   section-spec = section-msgtext / (section-part ["." section-text])
///   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
///   section-text = section-msgtext / "MIME"
///   section-part = nz-number *("." nz-number)
///
/// The RFC822 fetch items map onto sections: RFC822 = BODY[], RFC822.HEADER = BODY.PEEK[HEADER]
/// (reported as RFC822.HEADER), RFC822.TEXT = BODY[TEXT], RFC822.SIZE = Message::size().

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>

#include "message.hpp"

namespace twinbox::server {

enum class SectionText { None, Header, HeaderFields, HeaderFieldsNot, Text, Mime };

struct Partial {
  std::uint64_t origin = 0;
  std::uint64_t count = 0;
  bool operator==(const Partial&) const = default;
};

struct SectionSpec {
  std::vector<std::uint32_t> part;   ///< e.g. {1, 2} for "1.2"; empty for the whole message
  SectionText text = SectionText::None;
  std::vector<std::string> fields;   ///< HEADER.FIELDS[.NOT] names, as given (upper-cased on output)
  std::optional<Partial> partial;
  bool operator==(const SectionSpec&) const = default;
};

/// Parses the text between "[" and "]" (e.g. `1.2.HEADER.FIELDS (From "To")`), with
/// `binary` = true for BINARY[...] (part numbers only, RFC 3516 §4.2). Errors (Errc::Parse)
/// name the offset and an excerpt; answer them with BAD.
Result<SectionSpec> parse_section(std::string_view text, bool binary = false);
/// Parses a partial "<origin.count>" including the angle brackets; count must be non-zero.
Result<Partial> parse_partial(std::string_view text);

/// The section as echoed in a FETCH response (RFC 3501 §7.4.2): `1.2.HEADER.FIELDS (FROM TO)`,
/// without brackets. `format_partial` gives "<origin>" (or "" when there is no partial).
std::string format_section(const SectionSpec& spec);
std::string format_partial(const SectionSpec& spec);

/// Extracted section bytes: a view into the message, or an owned string for header subsets
/// and decoded BINARY content. Valid while the Message lives (and the SectionData itself for
/// owned data; do not move it while holding data()).
class SectionData {
 public:
  SectionData() = default;
  static SectionData view(std::string_view v);
  static SectionData owned(std::string s);
  [[nodiscard]] std::string_view data() const { return is_owned_ ? std::string_view(owned_) : view_; }
  /// Applies <origin.count> (RFC 3501 §6.4.5: origin past the end gives the empty string).
  void apply_partial(const std::optional<Partial>& p);

 private:
  std::string_view view_;
  std::string owned_;
  bool is_owned_ = false;
};

/// BODY[section]: the bytes of `spec` (partial applied). nullopt when the part does not exist
/// or the section does not apply to it (e.g. 1.HEADER of a text part); answer NIL then.
std::optional<SectionData> extract_section(const Message& msg, const SectionSpec& spec);

/// BINARY[section] (RFC 3516): the part's content with its transfer encoding removed
/// (partial applied). nullopt when the part does not exist. Error (Errc::Protocol, message
/// starting "[UNKNOWN-CTE]") when the encoding is unknown: answer NO with that text.
Result<std::optional<SectionData>> extract_binary(const Message& msg, const SectionSpec& spec);
/// BINARY.SIZE[section]: decoded size, same nullopt / error rules.
Result<std::optional<std::uint64_t>> binary_size(const Message& msg, const SectionSpec& spec);

/// The part addressed by part numbers (RFC 3501 §6.4.5 part numbering), or null. An empty
/// path gives the root.
const BodyPart* find_part(const Message& msg, const std::vector<std::uint32_t>& part);

}  // namespace twinbox::server
