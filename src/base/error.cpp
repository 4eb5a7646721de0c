#include <cstdio>
#include <cstdlib>

#include <twinbox/base/error.hpp>
#include <twinbox/base/ids.hpp>

namespace twinbox {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::Parse: return "parse error";
    case Errc::Protocol: return "protocol error";
    case Errc::Limit: return "limit exceeded";
    case Errc::Io: return "I/O error";
    case Errc::Network: return "network error";
    case Errc::Timeout: return "timeout";
    case Errc::Tls: return "TLS error";
    case Errc::Auth: return "authentication failed";
    case Errc::AuthRetry: return "authentication temporarily unavailable";
    case Errc::Capability: return "missing capability";
    case Errc::Config: return "configuration error";
    case Errc::Storage: return "storage error";
    case Errc::Conflict: return "conflict";
    case Errc::NotFound: return "not found";
    case Errc::Closed: return "connection closed";
    case Errc::Internal: return "internal error";
  }
  return "unknown error";
}

std::string_view to_string(Scope scope) {
  switch (scope) {
    case Scope::Message: return "message";
    case Scope::Mailbox: return "mailbox";
    case Scope::Connection: return "connection";
    case Scope::Fatal: return "fatal";
  }
  return "unknown";
}

Error Error::with_context(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << to_string(e.code) << " [" << to_string(e.scope) << "]: " << e.message;
}

void assert_fail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "twinbox: internal error: %s (%s) at %s:%d\n", msg, expr, file, line);
  std::abort();
}

std::optional<std::uint32_t> parse_nz_number(std::string_view s) {
  auto n = parse_number64(s);
  if (!n || *n == 0 || *n > kMaxUid) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

std::optional<std::uint64_t> parse_number64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string_view to_string(Side s) { return s == Side::Local ? "local" : "remote"; }
std::ostream& operator<<(std::ostream& os, Side s) { return os << to_string(s); }

}  // namespace twinbox
