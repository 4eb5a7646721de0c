#pragma once
/// Low-level MIME helpers shared by the message parser, section extraction and SEARCH:
/// header-field scanning, unfolding, parameter lists (RFC 2045 §5.1, RFC 2231), transfer
/// decodings (RFC 2045 §6.7-6.8), encoded words (RFC 2047), charsets and case folding.
/// All functions are total: any input gives a result, never an exception.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/server/mail.hpp>

#include "message.hpp"

namespace twinbox::server {

/// Scans a header block starting at `start` of `bytes`, stopping at the empty line (CRLF or
/// LF) or at `limit`. Returns the header span (including the empty line) and appends at most
/// `max_fields` fields to `out`. Lines that are neither fields nor continuations are skipped.
Span scan_header(std::string_view bytes, std::size_t start, std::size_t limit,
                 std::vector<HeaderField>& out, std::size_t max_fields);

/// Removes CRLF/LF line ends that precede white space (RFC 5322 §2.2.3) and trims the ends.
std::string unfold(std::string_view value);

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

/// Parses `token "/" token *(";" parameter)` (or, with has_subtype = false, `token *(";" …)`)
/// skipping RFC 822 comments. Continuations are joined as described at MimeParam.
struct ParsedContentValue {
  std::string type;
  std::string subtype;
  std::vector<MimeParam> params;
};
ParsedContentValue parse_content_value(std::string_view value, bool has_subtype);

/// Content-Transfer-Encoding decoders. Invalid input is skipped (base64) or kept literally
/// (quoted-printable), as mail readers do.
std::string decode_base64(std::string_view in);
std::string decode_quoted_printable(std::string_view in, bool q_encoding = false);
/// Decodes `body` according to `encoding` (7bit/8bit/binary/base64/quoted-printable,
/// case-insensitive). nullopt for an unknown encoding (RFC 3516 [UNKNOWN-CTE]).
std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding);

/// Converts text in `charset` to UTF-8: UTF-8, US-ASCII, ISO-8859-1/Latin-1, windows-1252
/// and ISO-8859-15 are converted; an unknown charset is passed through unchanged.
std::string to_utf8(std::string_view text, std::string_view charset);

// decode_rfc2047() is declared in <twinbox/server/mail.hpp> (the demo shows subjects with it).

/// Simple case folding of UTF-8 text for case-insensitive substring search: ASCII, Latin-1,
/// Latin Extended-A, Greek and Cyrillic capitals map to small letters. Invalid UTF-8 bytes
/// are kept.
std::string fold_case(std::string_view utf8);

}  // namespace twinbox::server
