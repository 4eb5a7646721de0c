#pragma once
/// HostileServer: a scripted IMAP "server" for tests of broken or malicious answers (issue
/// "Hardening"). It listens on 127.0.0.1:<ephemeral>; each accepted connection is handed, in
/// turn, to the test's script on the server's own thread. The script reads the client's
/// commands and answers with any bytes it likes.
///
///   HostileServer srv([](HostileConnection& c) {
///     c.serve([](HostileConnection& c, const HostileCommand& cmd) {
///       if (cmd.name == "SELECT") { c.send("* 5 EXISTS\r\n"); c.ok(cmd, "[READ-WRITE] ok"); }
///       else c.ok(cmd);
///       return true;                                 // false: stop serving (connection closes)
///     });
///   });
///   endpoint.port = srv.port();
///
/// serve() sends the greeting and answers the setup commands (CAPABILITY, LOGIN,
/// AUTHENTICATE PLAIN/OAUTHBEARER/XOAUTH2, ENABLE, ID, NOOP, NAMESPACE, LOGOUT) itself; the
/// handler sees every command after login (and may override setup ones). Every wait is
/// bounded: a read gives up after `read_timeout`, a send after `send_timeout`, and the
/// destructor ends a running script by failing its reads and sends.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twinbox::test {

struct HostileCommand {
  std::string tag;
  std::string name;  ///< upper case; "UID FETCH", "UID STORE", … for UID commands
  std::string args;  ///< the rest of the line after the name (literals inlined)
  std::string line;  ///< the whole command, literals inlined, without the final CRLF
};

class HostileConnection {
 public:
  /// `record` sees every command line as it arrives; `sent_total` adds up bytes sent.
  HostileConnection(int fd, const std::atomic<bool>& stop,
                    std::function<void(const std::string&)> record = {},
                    std::atomic<std::uint64_t>* sent_total = nullptr);
  ~HostileConnection();
  HostileConnection(const HostileConnection&) = delete;
  HostileConnection& operator=(const HostileConnection&) = delete;

  /// Sends raw bytes; false when the client has gone (or the server is stopping).
  bool send(std::string_view bytes);
  /// "<tag> OK <text>\r\n" (and NO/BAD).
  bool ok(const HostileCommand& cmd, std::string_view text = "done");
  bool no(const HostileCommand& cmd, std::string_view text = "no");
  /// The next command. Synchronizing literals get "+ go ahead". nullopt on EOF, timeout, a
  /// line above 1 MiB or a literal above 64 MiB.
  std::optional<HostileCommand> read_command();
  /// Greeting + setup commands, then `handler` for the rest until it returns false, the
  /// client logs out or goes away.
  using Handler = std::function<bool(HostileConnection&, const HostileCommand&)>;
  void serve(const Handler& handler);
  /// Sends the same chunk until the client stops reading it or `max_bytes` went out; the
  /// number of bytes sent (for "endless" answers).
  std::uint64_t flood(std::string_view chunk, std::uint64_t max_bytes);
  /// Reads and discards until the client closes its end: true, or false after read_timeout.
  bool wait_client_closed();
  void close();

  /// Text after the tag of the answer to LOGIN / AUTHENTICATE.
  std::string auth_answer = "OK logged in";
  /// Capability list announced in the greeting and to CAPABILITY.
  std::string capabilities = "IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER AUTH=XOAUTH2 SASL-IR "
                             "ENABLE UIDPLUS CONDSTORE QRESYNC LITERAL+ MOVE IDLE";
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds send_timeout{5000};
  [[nodiscard]] std::uint64_t bytes_sent() const { return sent_; }
  /// Every command line received so far.
  [[nodiscard]] const std::vector<std::string>& received() const { return received_; }

 private:
  bool fill();
  std::optional<std::string> read_line();
  int fd_;
  const std::atomic<bool>& stop_;
  std::string in_;
  bool eof_ = false;
  std::uint64_t sent_ = 0;
  std::vector<std::string> received_;
  std::function<void(const std::string&)> record_;
  std::atomic<std::uint64_t>* sent_total_;
};

class HostileServer {
 public:
  using Script = std::function<void(HostileConnection&)>;
  /// Binds 127.0.0.1:0 and starts the thread (REQUIREs success: call inside a test case).
  explicit HostileServer(Script script);
  ~HostileServer();
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Commands received on all connections so far (thread-safe copy).
  [[nodiscard]] std::vector<std::string> received() const;
  /// Bytes the scripts sent so far, all connections.
  [[nodiscard]] std::uint64_t bytes_sent() const { return sent_.load(); }
  [[nodiscard]] int connections() const { return accepted_.load(); }

  struct State;

 private:
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<int> accepted_{0};
  std::unique_ptr<State> state_;
};

}  // namespace twinbox::test
