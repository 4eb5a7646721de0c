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

#include "admin_support.hpp"
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

/// What check found out about one side (printed as text, or as JSON with --json).
struct SideCheck {
  std::string endpoint;
  std::optional<Error> error;
  std::string user;  ///< "" for a tunnel
  std::vector<std::string> capabilities;
  std::string sync_path;
  bool qresync_enabled = false, move = false, uidplus = false, compression = false;
};

SideCheck check_side(const client::EndpointOptions& o,
                     Result<std::unique_ptr<client::Session>>& session) {
  SideCheck c;
  c.endpoint = where(o);
  if (!session) {
    c.error = session.error();
    return c;
  }
  client::Session& s = **session;
  if (o.transport != client::Transport::Tunnel) c.user = o.credentials.username;
  c.capabilities = s.capabilities().items();
  c.sync_path = std::string(sync::to_string(sync::best_path(s)));
  c.qresync_enabled = s.qresync();
  c.move = s.has("MOVE");
  c.uidplus = s.has("UIDPLUS");
  c.compression = s.compressed();
  (void)s.wait(s.logout(), net::deadline_in(std::chrono::seconds(5)));
  return c;
}

void print_text(Side side, const SideCheck& c) {
  std::cout << to_string(side) << ": " << c.endpoint << '\n';
  if (c.error) {
    std::cout << "  FAILED: " << c.error->message << '\n';
    return;
  }
  if (!c.user.empty()) std::cout << "  logged in as " << c.user << '\n';
  std::cout << "  capabilities: " << join(c.capabilities) << '\n';
  std::cout << "  sync path: " << c.sync_path << (c.qresync_enabled ? " (QRESYNC enabled)" : "")
            << '\n';
  std::cout << "  moves: " << (c.move ? "UID MOVE" : "COPY + expunge")
            << ", new UIDs: " << (c.uidplus ? "UIDPLUS" : "searched after APPEND")
            << ", compression: " << (c.compression ? "on" : "off") << '\n';
}

nlohmann::json side_json(const SideCheck& c) {
  using nlohmann::json;
  if (c.error) {
    return json{{"endpoint", c.endpoint}, {"ok", false}, {"error", c.error->message},
                {"kind", to_string(exit_code_for(c.error->code))}};
  }
  return json{{"endpoint", c.endpoint},         {"ok", true},
              {"error", nullptr},               {"user", c.user},
              {"capabilities", c.capabilities}, {"sync_path", c.sync_path},
              {"qresync_enabled", c.qresync_enabled}, {"move", c.move},
              {"uidplus", c.uidplus},           {"compression", c.compression}};
}

}  // namespace

int check_command(const CheckArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), args.json);
  if (!args.json) {
    std::cout << "config " << config->origin << ": OK\n"
              << "state: " << config->sync.state_path << '\n';
  }
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
    if (!o) return report_failure(o.error(), args.json);
    eps[side] = std::move(*o);
  }
  using SessionResult = Result<std::unique_ptr<client::Session>>;
  PerSide<SessionResult> sessions{{SessionResult(Error()), SessionResult(Error())}};
  std::thread remote([&] { sessions[Side::Remote] = client::connect(eps[Side::Remote]); });
  sessions[Side::Local] = client::connect(eps[Side::Local]);
  remote.join();

  std::optional<Error> first;
  nlohmann::json out{{"config", config->origin}, {"state", config->sync.state_path}};
  for (Side side : kBothSides) {
    SideCheck c = check_side(eps[side], sessions[side]);
    if (c.error && !first) first = c.error;
    if (args.json) {
      out[std::string(to_string(side))] = side_json(c);
    } else {
      print_text(side, c);
    }
  }
  out["ok"] = !first.has_value();
  if (args.json) print_json(out);
  if (first) {
    std::cerr << "twinbox: " << to_string(first->code) << ": " << first->message << '\n';
    return to_int(exit_code_for(first->code));
  }
  if (!args.json) std::cout << "both sides OK\n";
  return 0;
}

}  // namespace twinbox::cli
