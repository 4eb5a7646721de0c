#include "auth_throttle.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace twinbox::server {
namespace {

using std::chrono::milliseconds;

Clock::time_point last_activity(const auto& e) { return std::max(e.last_failure, e.locked_until); }

}  // namespace

bool AuthThrottle::expired(const Entry& e, Clock::time_point now) const {
  return now >= last_activity(e) + limits_.window;
}

milliseconds AuthThrottle::locked_for(std::string_view address, Clock::time_point now) {
  auto it = table_.find(address);
  if (it == table_.end()) return milliseconds{0};
  if (expired(it->second, now)) {
    table_.erase(it);
    return milliseconds{0};
  }
  if (now >= it->second.locked_until) return milliseconds{0};
  // Round up so a caller never sees "0 ms left" while still locked out.
  auto left = it->second.locked_until - now;
  return std::chrono::ceil<milliseconds>(left);
}

milliseconds AuthThrottle::failed(std::string_view address, Clock::time_point now) {
  if (limits_.lockout_after == 0) return milliseconds{0};
  auto it = table_.find(address);
  if (it != table_.end() && expired(it->second, now)) {
    table_.erase(it);
    it = table_.end();
  }
  if (it == table_.end()) {
    make_room(now);
    it = table_.emplace(std::string(address), Entry{}).first;
  }
  Entry& e = it->second;
  ++e.failures;
  e.last_failure = now;
  if (e.failures < limits_.lockout_after) return milliseconds{0};
  // The first lockout lasts `lockout`; every later failure doubles the previous one.
  milliseconds next = e.last_lockout.count() == 0 ? limits_.lockout : e.last_lockout * 2;
  next = std::min(next, limits_.max_lockout);
  e.last_lockout = next;
  e.locked_until = now + next;
  return next;
}

void AuthThrottle::succeeded(std::string_view address) {
  auto it = table_.find(address);
  if (it != table_.end()) table_.erase(it);
}

void AuthThrottle::make_room(Clock::time_point now) {
  const std::size_t cap = std::max<std::size_t>(limits_.max_addresses, 1);
  if (table_.size() < cap) return;
  std::erase_if(table_, [&](const auto& kv) { return expired(kv.second, now); });
  if (table_.size() < cap) return;
  auto oldest = std::min_element(table_.begin(), table_.end(), [](const auto& a, const auto& b) {
    return last_activity(a.second) < last_activity(b.second);
  });
  table_.erase(oldest);
}

std::string peer_address_key(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    if (!::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) return {};
    return text;
  }
  if (ss.ss_family != AF_INET6) return {};
  in6_addr a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    in_addr v4{};
    std::memcpy(&v4, a.s6_addr + 12, 4);
    if (!::inet_ntop(AF_INET, &v4, text, sizeof text)) return {};
    return text;
  }
  std::memset(a.s6_addr + 8, 0, 8);  // count per /64
  if (!::inet_ntop(AF_INET6, &a, text, sizeof text)) return {};
  return std::string(text) + "/64";
}

}  // namespace twinbox::server
