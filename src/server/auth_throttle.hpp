#pragma once
/// Per-address rate limiting of LOGIN / AUTHENTICATE (twinbox(1) "serve", issue 10).
///
/// The per-session limits (a delayed NO, BYE after Limits::max_auth_failures) do not stop a
/// client that opens many connections and guesses in parallel, so failures are also counted
/// per client address, across all sessions and all accounts:
///
///  * An address is the client's IP; IPv6 addresses count per /64 (one host usually owns a
///    whole /64), IPv4-mapped IPv6 addresses as their IPv4 address.
///  * After `lockout_after` failed attempts from one address (any account), the address is
///    locked out for `lockout`. While locked out, every LOGIN/AUTHENTICATE from it, for any
///    account and even with the right password, is answered `NO [UNAVAILABLE]` without a
///    password check (a check would turn the lockout into an oracle). Refused attempts do not
///    extend the lockout.
///  * Each further failure from that address once the lockout ended (before the entry
///    expired) locks it again for twice as long as the previous lockout, up to `max_lockout`.
///  * An entry expires `window` after its last failure or the end of its lockout, whichever
///    is later: the address then starts from zero again. A successful login also resets it.
///  * The table holds at most `max_addresses` entries: when full, expired entries are dropped,
///    then the one with the oldest activity (memory stays bounded whatever the clients do).
///
/// Other addresses are never affected. Pure: time is a parameter, so tests drive it.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace twinbox::server {

using Clock = std::chrono::steady_clock;

struct AuthThrottleLimits {
  std::size_t lockout_after = 10;  ///< failures before the first lockout; 0 = never lock out
  std::chrono::milliseconds lockout{60 * 1000};
  std::chrono::milliseconds max_lockout{60 * 60 * 1000};
  std::chrono::milliseconds window{15 * 60 * 1000};
  std::size_t max_addresses = 4096;
};

class AuthThrottle {
 public:
  explicit AuthThrottle(AuthThrottleLimits limits) : limits_(limits) {}

  /// Time left of the address's lockout; zero when it may try a password now.
  std::chrono::milliseconds locked_for(std::string_view address, Clock::time_point now);
  /// Records a failed attempt; returns the lockout it started (zero when none).
  std::chrono::milliseconds failed(std::string_view address, Clock::time_point now);
  /// A successful login: forgets the address.
  void succeeded(std::string_view address);
  [[nodiscard]] std::size_t size() const { return table_.size(); }

 private:
  struct Entry {
    std::size_t failures = 0;          ///< since the entry was created
    std::chrono::milliseconds last_lockout{0};
    Clock::time_point last_failure;
    Clock::time_point locked_until;
  };
  [[nodiscard]] bool expired(const Entry& e, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  AuthThrottleLimits limits_;
  std::map<std::string, Entry, std::less<>> table_;
};

/// The throttling key of a connected socket's peer (see above); empty when the fd is not an
/// IP socket (stdio, AF_UNIX): such sessions are not throttled per address.
std::string peer_address_key(int fd);

}  // namespace twinbox::server
