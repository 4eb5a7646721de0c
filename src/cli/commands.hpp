#pragma once
// The commands of `twinbox`, each behind a plain argument struct that cli.cpp fills from
// CLI11. Every function returns the process exit status and never throws on its own (only
// nlohmann/json and bad_alloc may, caught by cli::run). Private to the cli layer.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report.hpp"

namespace CLI {
class App;
}

namespace twinbox::cli {

struct SyncArgs {
  std::string config;  ///< "" = default_config_path()
  std::vector<std::string> mailboxes;
  bool dry_run = false;
  bool allow_mass_delete = false;
  bool debug = false;
  bool json = false;
  bool exit_code = false;  ///< exit 1 when something changed
  Verbosity verbosity = Verbosity::Normal;
  std::string log_file;  ///< --log-file, "" = none
};
int sync_command(const SyncArgs& args);

struct WatchArgs {
  std::string config;
  bool debug = false;
  bool json = false;
  Verbosity verbosity = Verbosity::Normal;
  std::string log_file;  ///< --log-file, "" = none
};
int watch_command(const WatchArgs& args);

struct CheckArgs {
  std::string config;
  bool debug = false;
  bool json = false;  ///< one JSON object on stdout (twinbox(1) "JSON OUTPUT")
};
int check_command(const CheckArgs& args);

struct ServeArgs {
  std::string listen = "127.0.0.1:1143";
  std::string db = ":memory:";
  std::vector<std::string> users;  ///< NAME:PASS
  std::string users_file;
  std::string tls_cert, tls_key;
  std::string tls_port;  ///< port of an implicit-TLS listener on the --listen host, "" = none
  bool stdio = false;
  std::vector<std::string> disable;
  std::size_t seed_demo = 0;
  bool allow_plaintext = false;
  bool no_fsync = false;
  std::size_t max_connections = 256;
  std::size_t auth_lockout_after = 10;  ///< failed logins per address before a lockout; 0 = off
  long long idle_timeout = 1800;        ///< seconds without client input before BYE
  // Test controls (only with --test-controls).
  bool test_controls = false;
  std::vector<std::string> test_uidvalidity;  ///< MAILBOX=N
  std::uint64_t test_drop_after_bytes = 0;
  bool test_drop_after_append = false;
  bool test_copyuid_tagged = false;
  bool test_always_modified = false;
  std::size_t test_auth_fail_delay_ms = 1000;
};
int serve_command(const ServeArgs& args);

struct DemoArgs {
  std::size_t messages = 12;  ///< seeded per side
  bool verbose = false;
};
int demo_command(const DemoArgs& args);

// ---- Admin commands (admin_cli.cpp registers them; each in its own <name>_cmd.cpp) ----

struct StatusArgs {
  std::string config;
  bool json = false;
};
int status_command(const StatusArgs& args);

struct ListArgs {
  std::string config;
  bool debug = false;
  bool json = false;
};
int list_command(const ListArgs& args);

struct RepairArgs {
  std::string config;
  std::vector<std::string> mailboxes;
  bool dry_run = false;
  bool debug = false;
  bool json = false;
};
int repair_command(const RepairArgs& args);

struct RenameArgs {
  std::string config;
  std::string from, to;
  bool debug = false;
};
int rename_command(const RenameArgs& args);

struct DeleteArgs {
  std::string config;
  std::string mailbox;
  bool force = false;
  bool debug = false;
};
int delete_command(const DeleteArgs& args);

/// The arguments of all admin commands, filled by CLI11.
struct AdminCommands {
  StatusArgs status;
  ListArgs list;
  RepairArgs repair;
  RenameArgs rename;
  DeleteArgs del;
};
/// Registers status, list, repair, rename and delete on `app` (admin_cli.cpp).
void add_admin_commands(CLI::App& app, AdminCommands& args);
/// Runs the admin command `app` parsed, if it was one.
std::optional<int> run_admin_command(const CLI::App& app, const AdminCommands& args);

/// The config file to use: `path`, or the default one. Errc::Config when neither works.
Result<std::string> config_path(const std::string& path);

}  // namespace twinbox::cli
