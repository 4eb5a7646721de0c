#include "admin_support.hpp"

#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>

#include <twinbox/cli/engine_options.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/imap/utf7.hpp>

#include "commands.hpp"
#include "report.hpp"

namespace twinbox::cli {

Result<Config> load_admin_config(const std::string& config_arg) {
  auto path = config_path(config_arg);
  if (!path) return path.error();
  return load_config(*path);
}

Result<sync::EngineOptions> admin_engine_options(const Config& config, bool debug) {
  RunFlags flags;
  flags.debug = debug;
  auto mu = std::make_shared<std::mutex>();
  flags.trace = [mu](Side side, std::string_view line) {
    std::lock_guard lock(*mu);
    std::cerr << (side == Side::Local ? "local  " : "remote ") << line << '\n';
  };
  return engine_options(config, flags);
}

int report_failure(const Error& e, bool json) {
  Reporter(std::cout, std::cerr, Verbosity::Normal, json).error(e);
  return to_int(exit_code_for(e.code));
}

void print_json(const nlohmann::json& j) { std::cout << j.dump() << '\n' << std::flush; }

std::string readable(const std::string& wire) {
  auto decoded = imap::utf7_decode(wire);
  return decoded ? *decoded : wire;
}

std::string format_time(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "never";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace twinbox::cli
