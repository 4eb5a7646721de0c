#include <array>
#include <cstdio>

#include <twinbox/imap/datetime.hpp>

namespace twinbox::imap {
namespace {

constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

Result<DateTime> parse_date_time(std::string_view text) {
  auto bad = [&] {
    return fail(Errc::Parse, Scope::Message,
                "malformed IMAP date-time \"" + std::string(text.substr(0, 40)) +
                    "\" (expected dd-Mon-yyyy hh:mm:ss +zzzz)");
  };
  // "dd-Mon-yyyy hh:mm:ss +zzzz" is 26 chars; a space-padded or 1-digit day gives 25/26.
  std::string_view s = text;
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::size_t dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 2) return bad();
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  if (!digits(s, 0, dash, day)) return bad();
  std::string_view rest = s.substr(dash + 1);
  if (rest.size() != 23 || rest[3] != '-' || rest[8] != ' ' || rest[11] != ':' ||
      rest[14] != ':' || rest[17] != ' ' || (rest[18] != '+' && rest[18] != '-')) {
    return bad();
  }
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    std::string_view name = rest.substr(0, 3);
    bool eq = true;
    for (std::size_t k = 0; k < 3; ++k) {
      char a = name[k], b = kMonths[i][k];
      if ((a | 0x20) != (b | 0x20)) eq = false;
    }
    if (eq) month = i + 1;
  }
  if (month == 0 || !digits(rest, 4, 4, year) || !digits(rest, 9, 2, hh) ||
      !digits(rest, 12, 2, mm) || !digits(rest, 15, 2, ss) || !digits(rest, 19, 2, zh) ||
      !digits(rest, 21, 2, zm)) {
    return bad();
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59) return bad();
  int zone = (zh * 60 + zm) * (rest[18] == '-' ? -1 : 1);
  std::int64_t days = days_from_civil(year, month, static_cast<unsigned>(day));
  std::int64_t local = days * 86400 + hh * 3600 + mm * 60 + ss;
  return DateTime{local - static_cast<std::int64_t>(zone) * 60, zone};
}

std::string format_date_time(const DateTime& dt) {
  std::int64_t local = dt.unix_seconds + static_cast<std::int64_t>(dt.zone_minutes) * 60;
  std::int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  std::int64_t secs = local - days * 86400;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  int z = dt.zone_minutes < 0 ? -dt.zone_minutes : dt.zone_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u-%.3s-%04lld %02lld:%02lld:%02lld %c%02d%02d", d,
                kMonths[m - 1].data(), static_cast<long long>(y),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60), dt.zone_minutes < 0 ? '-' : '+', z / 60,
                z % 60);
  return buf;
}

}  // namespace twinbox::imap
