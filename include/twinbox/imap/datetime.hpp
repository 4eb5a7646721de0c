#pragma once
/// IMAP date-time (RFC 3501 §9 `date-time`: "dd-Mon-yyyy hh:mm:ss +zzzz", day may be
/// space-padded) to and from Unix seconds. INTERNALDATE is kept as Unix seconds (UTC) in the
/// state database and in content identities, and written back with the original zone offset
/// when known.

#include <cstdint>
#include <string>
#include <string_view>

#include <twinbox/base/result.hpp>

namespace twinbox::imap {

struct DateTime {
  std::int64_t unix_seconds = 0;  ///< UTC
  int zone_minutes = 0;           ///< offset east of UTC, e.g. +0200 -> 120
  bool operator==(const DateTime&) const = default;
};

/// Parses an IMAP date-time; Errc::Parse with the text on any malformed field.
Result<DateTime> parse_date_time(std::string_view text);
/// Formats as "dd-Mon-yyyy hh:mm:ss +zzzz" in the given zone.
std::string format_date_time(const DateTime& dt);

}  // namespace twinbox::imap
