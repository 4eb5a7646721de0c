#pragma once
/// Turns a loaded configuration (cli/config.hpp) into the plain option structs of the client
/// and sync layers. Kept apart from the commands so it can be tested without a terminal.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/cli/config.hpp>
#include <twinbox/client/connect.hpp>
#include <twinbox/sync/engine.hpp>

namespace twinbox::cli {

/// Receives protocol trace lines of one side (already redacted by the client layer).
using SideTraceFn = std::function<void(Side side, std::string_view line)>;

/// What the command line adds to a configuration.
struct RunFlags {
  bool dry_run = false;
  bool allow_mass_delete = false;
  std::vector<std::string> only;  ///< MAILBOX arguments of `sync`
  /// Installed on both sides when set and `debug` is true, or on a side whose config says
  /// `debug = yes`.
  SideTraceFn trace;
  bool debug = false;
};

/// One endpoint: transport from type/tls (imaps -> implicit TLS; imap + tls = required ->
/// STARTTLS; imap + tls = none -> plaintext; tunnel -> the command), TLS settings, timeouts,
/// COMPRESS (EndpointConfig::want_compress), credentials. Runs `password_command` now (it may
/// prompt); `oauth2_token_command` runs at each authentication, so a token never goes stale.
/// Errors: Errc::Config (a secret command failed; the message names it, never its output).
Result<client::EndpointOptions> endpoint_options(const EndpointConfig& endpoint, Side side,
                                                 const RunFlags& flags);

/// The whole sync: both endpoints, the state path (the config's, already defaulted by
/// load_config), ListPolicy and Policy from the sync keys, and the flags. Errors: Errc::Config,
/// also for keys the engine does not implement yet with a non-default value (`expunge = no`,
/// `map_special_use = no`), rather than silently doing something else.
Result<sync::EngineOptions> engine_options(const Config& config, const RunFlags& flags);

}  // namespace twinbox::cli
