// `twinbox check`: validate the config, connect and log in to both sides, report what each
// server offers and which sync path it gets. Sends no command that changes anything and does
// not open the state database.

#include <iostream>
#include <mutex>
#include <thread>

#include <twinbox/cli/config.hpp>
#include <twinbox/cli/engine_options.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/client/connect.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/sync/reader.hpp>

#include "commands.hpp"

namespace twinbox::cli {
namespace {

std::string where(const client::EndpointOptions& o) {
  if (o.transport == client::Transport::Tunnel) return "tunnel `" + o.tunnel_command + "`";
  return o.host + ":" + std::to_string(o.port) + " (" + std::string(client::to_string(o.transport)) + ")";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

/// Prints one side's report; returns its error, if any.
std::optional<Error> check_side(Side side, const client::EndpointOptions& o,
                                Result<std::unique_ptr<client::Session>>& session) {
  std::cout << to_string(side) << ": " << where(o) << '\n';
  if (!session) {
    std::cout << "  FAILED: " << session.error().message << '\n';
    return session.error();
  }
  client::Session& s = **session;
  if (o.transport != client::Transport::Tunnel) {
    std::cout << "  logged in as " << o.credentials.username << '\n';
  }
  std::cout << "  capabilities: " << join(s.capabilities().items()) << '\n';
  std::cout << "  sync path: " << sync::to_string(sync::best_path(s))
            << (s.qresync() ? " (QRESYNC enabled)" : "") << '\n';
  std::cout << "  moves: " << (s.has("MOVE") ? "UID MOVE" : "COPY + expunge")
            << ", new UIDs: " << (s.has("UIDPLUS") ? "UIDPLUS" : "searched after APPEND")
            << ", compression: " << (s.compressed() ? "on" : "off") << '\n';
  (void)s.wait(s.logout(), net::deadline_in(std::chrono::seconds(5)));
  return std::nullopt;
}

}  // namespace

int check_command(const CheckArgs& args) {
  auto path = config_path(args.config);
  if (!path) {
    std::cerr << "twinbox: " << path.error().message << '\n';
    return to_int(ExitCode::Config);
  }
  auto config = load_config(*path);
  if (!config) {
    std::cerr << "twinbox: " << config.error().message << '\n';
    return to_int(ExitCode::Config);
  }
  std::cout << "config " << *path << ": OK\n"
            << "state: " << config->sync.state_path << '\n';

  RunFlags flags;
  flags.debug = args.debug;
  auto mu = std::make_shared<std::mutex>();
  flags.trace = [mu](Side side, std::string_view line) {
    std::lock_guard lock(*mu);
    std::cerr << (side == Side::Local ? "local  " : "remote ") << line << '\n';
  };
  PerSide<client::EndpointOptions> eps;
  for (Side side : kBothSides) {
    auto o = endpoint_options(config->endpoints[side], side, flags);
    if (!o) {
      std::cerr << "twinbox: " << o.error().message << '\n';
      return to_int(exit_code_for(o.error().code));
    }
    eps[side] = std::move(*o);
  }
  using SessionResult = Result<std::unique_ptr<client::Session>>;
  PerSide<SessionResult> sessions{{SessionResult(Error()), SessionResult(Error())}};
  std::thread remote([&] { sessions[Side::Remote] = client::connect(eps[Side::Remote]); });
  sessions[Side::Local] = client::connect(eps[Side::Local]);
  remote.join();

  std::optional<Error> first;
  for (Side side : kBothSides) {
    auto e = check_side(side, eps[side], sessions[side]);
    if (e && !first) first = e;
  }
  if (first) {
    std::cerr << "twinbox: " << to_string(first->code) << ": " << first->message << '\n';
    return to_int(exit_code_for(first->code));
  }
  std::cout << "both sides OK\n";
  return 0;
}

}  // namespace twinbox::cli
