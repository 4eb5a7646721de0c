// `twinbox serve`: the embedded IMAP server as a program (DESIGN.md "The embedded server").

#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>

#include <twinbox/base/error.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/server/server.hpp>

#include "commands.hpp"

namespace twinbox::cli {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

void on_stop_signal(int /*sig*/) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

Result<HostPort> parse_host_port(const std::string& s, const char* option) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::Config, Scope::Fatal,
                std::string(option) + " '" + s + "': " + why +
                    " (expected HOST:PORT, e.g. 127.0.0.1:1143 or [::1]:1143; port 0 picks a "
                    "free one)");
  };
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no host or port");
  std::string host = s.substr(0, colon);
  const std::string port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return bad("the port is not a number");
  }
  const unsigned long n = std::stoul(port);
  if (n > 65535) return bad("the port is above 65535");
  return HostPort{host, static_cast<std::uint16_t>(n)};
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Result<server::Options> build_options(const ServeArgs& a) {
  server::Options o;
  o.db_path = a.db;
  o.durable = a.db != ":memory:" && !a.no_fsync;
  o.users_file = a.users_file;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  o.limits.max_connections = a.max_connections;
  o.limits.auth_lockout_after = a.auth_lockout_after;
  // RFC 3501 §5.4 asks for at least 1800 s; shorter is allowed (tests, private servers).
  constexpr long long kMaxIdleSeconds = 2147483;  // Limits::idle_timeout_ms is an int of ms
  if (a.idle_timeout < 1 || a.idle_timeout > kMaxIdleSeconds) {
    return fail(Errc::Config, Scope::Fatal,
                "--idle-timeout " + std::to_string(a.idle_timeout) +
                    ": expected a number of seconds from 1 to " + std::to_string(kMaxIdleSeconds) +
                    " (default 1800, the 30 minutes RFC 3501 asks for)");
  }
  o.limits.idle_timeout_ms = static_cast<int>(a.idle_timeout * 1000);
  if (a.tls_cert.empty() != a.tls_key.empty()) {
    return fail(Errc::Config, Scope::Fatal, "--tls-cert and --tls-key go together; give both");
  }
  for (const auto& u : a.users) {
    const auto colon = u.find(':');
    if (colon == 0 || (colon == std::string::npos && !a.stdio)) {
      return fail(Errc::Config, Scope::Fatal,
                  "--user '" + u.substr(0, colon) + "…': expected NAME:PASSWORD");
    }
    o.users.push_back({u.substr(0, colon), colon == std::string::npos ? "" : u.substr(colon + 1)});
  }
  for (auto ext : a.disable) {
    for (char& c : ext) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!ext.empty()) o.disabled.insert(ext);
  }
  if (a.stdio) {
    o.listen = false;
    if (o.users.empty()) {
      return fail(Errc::Config, Scope::Fatal,
                  "--stdio serves one pre-authenticated session: name its user with --user NAME");
    }
  } else {
    auto hp = parse_host_port(a.listen, "--listen");
    if (!hp) return hp.error();
    o.listen_host = hp->host;
    o.port = hp->port;
    if (!is_loopback(hp->host) && a.tls_cert.empty() && !a.allow_plaintext) {
      return fail(Errc::Config, Scope::Fatal,
                  "refusing to listen on " + hp->host +
                      " without TLS: passwords would cross the network in clear. Give "
                      "--tls-cert and --tls-key, listen on 127.0.0.1, or pass --allow-plaintext");
    }
    if (o.users.empty() && a.users_file.empty()) {
      return fail(Errc::Config, Scope::Fatal,
                  "no users: give --user NAME:PASSWORD (repeatable) or --users-file FILE");
    }
    if (!a.tls_port.empty()) {
      if (a.tls_cert.empty()) {
        return fail(Errc::Config, Scope::Fatal, "--tls-port needs --tls-cert and --tls-key");
      }
      auto tp = parse_host_port(hp->host + ":" + a.tls_port, "--tls-port");
      if (!tp) return tp.error();
      o.tls_listen = true;
      o.tls_port = tp->port;
    }
  }
  if (a.test_controls) {
    o.test.enabled = true;
    o.test.drop_after_bytes = a.test_drop_after_bytes;
    o.test.drop_after_append = a.test_drop_after_append;
    o.test.copyuid_tagged = a.test_copyuid_tagged;
    o.test.unchangedsince_always_modified = a.test_always_modified;
    o.limits.auth_fail_delay_ms = static_cast<int>(a.test_auth_fail_delay_ms);
    for (const auto& uv : a.test_uidvalidity) {
      const auto eq = uv.rfind('=');
      const std::string num = eq == std::string::npos ? "" : uv.substr(eq + 1);
      if (eq == 0 || num.empty() || num.size() > 10 ||
          num.find_first_not_of("0123456789") != std::string::npos || std::stoull(num) == 0 ||
          std::stoull(num) > 0xffffffffULL) {
        return fail(Errc::Config, Scope::Fatal,
                    "--test-uidvalidity '" + uv + "': expected MAILBOX=N, N in 1…4294967295");
      }
      o.test.uidvalidity[uv.substr(0, eq)] = static_cast<std::uint32_t>(std::stoull(num));
    }
  } else if (a.test_drop_after_bytes || a.test_drop_after_append || a.test_copyuid_tagged ||
             a.test_always_modified || !a.test_uidvalidity.empty()) {
    return fail(Errc::Config, Scope::Fatal, "the --test-* options need --test-controls");
  }
  return o;
}

int report(const Error& e) {
  std::cerr << "twinbox serve: " << e.message << '\n';
  return to_int(exit_code_for(e.code));
}

}  // namespace

int serve_command(const ServeArgs& args) {
  auto options = build_options(args);
  if (!options) return report(options.error());
  auto srv = server::Server::create(*options);
  if (!srv) return report(srv.error());
  server::Server& server = **srv;
  if (args.seed_demo > 0) {
    std::uint64_t seed = 1;
    for (const auto& u : options->users) {
      if (auto st = server.seed_demo(u.name, args.seed_demo, seed++); !st) return report(st.error());
    }
  }
  install_signal_handlers();
  if (args.stdio) {
    auto st = server.serve_stdio(options->users.front().name, 0, 1);
    return st ? 0 : report(st.error());
  }
  auto port = server.start();
  if (!port) return report(port.error());
  // Port 0: the chosen port goes to stdout alone, so a parent process can read it.
  if (options->port == 0) std::cout << *port << '\n';
  if (options->tls_listen && options->tls_port == 0) std::cout << server.tls_port() << '\n';
  std::cout << std::flush;
  std::cerr << "twinbox serve: listening on " << options->listen_host << ":" << *port
            << (options->tls_cert.empty() ? "" : " (STARTTLS)");
  if (options->tls_listen) std::cerr << ", implicit TLS on port " << server.tls_port();
  std::cerr << "; database " << options->db_path << std::endl;
  auto st = server.run(&g_stop);
  if (!st) return report(st.error());
  std::cerr << "twinbox serve: stopped" << std::endl;
  return 0;
}

}  // namespace twinbox::cli
