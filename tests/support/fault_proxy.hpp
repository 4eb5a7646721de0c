#pragma once
/// FaultProxy: a fault-injecting TCP proxy for tests (issue "Hardening"). It listens on
/// 127.0.0.1:<ephemeral> and forwards every accepted connection to 127.0.0.1:<target>,
/// byte for byte, from one thread of its own. Faults, per connection and direction:
///
///   - drop:     close both sockets once N bytes went that way (a cut connection);
///   - stall:    stop forwarding that way once N bytes went (a dead peer that never closes);
///   - delay:    hold every chunk this long before forwarding it;
///   - truncate: the n-th literal from the server ({N} in a response line) is cut in the
///               middle and the connection closed;
///   - rewrite:  server lines (literals pass untouched) go through a callback that may
///               change, drop or add lines (a hostile server made from a real one).
///
/// Counts are of bytes delivered to the other end, after rewriting. Loopback only: the proxy
/// never connects anywhere but 127.0.0.1.
///
///   FaultProxy proxy(server_port);            // transparent
///   Faults f; f.drop_down_after = 1000;        // every new connection cut at server byte 1000
///   proxy.set_faults(f);
///   endpoint.port = proxy.port();

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace twinbox::test {

struct Faults {
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  /// Close both sockets after this many client->server bytes (kNever = never).
  std::uint64_t drop_up_after = kNever;
  /// Close both sockets after this many server->client bytes.
  std::uint64_t drop_down_after = kNever;
  /// Stop forwarding client->server after this many bytes; sockets stay open.
  std::uint64_t stall_up_after = kNever;
  /// Stop forwarding server->client after this many bytes; sockets stay open.
  std::uint64_t stall_down_after = kNever;
  /// Hold each chunk (either direction) this long before forwarding it.
  std::chrono::milliseconds delay{0};
  /// 1-based index of the server literal to cut in half before closing (0 = none).
  std::uint32_t truncate_literal = 0;
  /// Server lines without their CRLF -> replacement (without the final CRLF; may contain
  /// "\r\n" to add lines), or nullopt to drop the line. Literal bytes are not passed. Runs
  /// on the proxy thread.
  std::function<std::optional<std::string>(std::string_view line)> rewrite_down;
  /// Only the connection with this 0-based accept index gets the faults (-1 = all).
  int only_connection = -1;
};

class FaultProxy {
 public:
  /// Binds 127.0.0.1:0 and starts the thread (REQUIREs success: call inside a test case).
  explicit FaultProxy(std::uint16_t target_port, Faults faults = {});
  /// Stops the thread and closes every connection.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Faults for connections accepted from now on (thread-safe).
  void set_faults(Faults faults);
  /// Closes every open connection now (as a server crash would).
  void drop_all();

  /// Totals over all connections so far (thread-safe).
  [[nodiscard]] std::uint64_t bytes_up() const { return up_.load(); }
  [[nodiscard]] std::uint64_t bytes_down() const { return down_.load(); }
  [[nodiscard]] int connections() const { return accepted_.load(); }
  /// True once any fault (drop, stall, truncate) fired.
  [[nodiscard]] bool fault_fired() const { return fired_.load(); }

  struct State;

 private:
  void run();
  std::uint16_t port_ = 0;
  std::uint16_t target_ = 0;
  std::atomic<std::uint64_t> up_{0};
  std::atomic<std::uint64_t> down_{0};
  std::atomic<int> accepted_{0};
  std::atomic<bool> fired_{false};
  std::unique_ptr<State> state_;
};

}  // namespace twinbox::test
