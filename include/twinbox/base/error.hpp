#pragma once
/// Errors shared by every layer. An Error says what went wrong (code), how far the damage
/// reaches (scope, after isync's DRV_MSG_BAD / BOX_BAD / STORE_BAD) and, in plain words,
/// what happened and what the user can do about it (message).

#include <cstdlib>
#include <ostream>
#include <string>
#include <string_view>

namespace twinbox {

/// How much of the work an error spoils. The executor acts on it: skip one message,
/// stop one mailbox and go on with the others, drop the connection, or stop everything.
enum class Scope { Message, Mailbox, Connection, Fatal };

/// A small set of error kinds; the CLI maps them to exit codes.
enum class Errc {
  Parse,        ///< malformed input from a peer or a file (message names offset and excerpt)
  Protocol,     ///< well-formed but unexpected answer (NO/BAD, missing data, broken promise)
  Limit,        ///< input over a configured limit (line length, literal size, nesting)
  Io,           ///< a system call failed (socket, file, disk full)
  Network,      ///< DNS, connection refused, reset, lost connection
  Timeout,      ///< an operation did not finish within its bound
  Tls,          ///< TLS handshake or certificate verification failed
  Auth,         ///< authentication refused (not to be retried)
  AuthRetry,    ///< authentication temporarily unavailable (RFC 5530 UNAVAILABLE)
  Capability,   ///< the server lacks something the operation needs
  Config,       ///< bad configuration or command line
  Storage,      ///< SQLite or other local storage failure
  Conflict,     ///< state and servers disagree in a way that needs the user (e.g. mass delete)
  NotFound,     ///< a mailbox or message does not exist
  Closed,       ///< the peer closed the connection (BYE or EOF)
  Internal,     ///< a bug in twinbox
};

std::string_view to_string(Errc code);
std::string_view to_string(Scope scope);

struct Error {
  Errc code = Errc::Internal;
  Scope scope = Scope::Fatal;
  std::string message;

  Error() = default;
  Error(Errc c, Scope s, std::string msg) : code(c), scope(s), message(std::move(msg)) {}

  /// Returns a copy whose message is prefixed with `context: `.
  [[nodiscard]] Error with_context(std::string_view context) const;
  bool operator==(const Error&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Error& e);

/// Aborts with a message: a broken invariant must crash rather than corrupt mail.
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);

}  // namespace twinbox

#define TWINBOX_ASSERT(expr, msg)                                   \
  do {                                                              \
    if (!(expr)) ::twinbox::assert_fail(#expr, __FILE__, __LINE__, msg); \
  } while (0)
