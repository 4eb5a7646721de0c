#pragma once
// Private to the cli layer: what the admin commands (status, list, repair, rename, delete;
// admin_cli.cpp) share: loading the config, the engine options, errors and JSON output.

#include <string>

#include <nlohmann/json.hpp>

#include <twinbox/base/result.hpp>
#include <twinbox/cli/config.hpp>
#include <twinbox/sync/engine.hpp>

namespace twinbox::cli {

/// The config file named by `config_arg` (or the default one), loaded and validated.
Result<Config> load_admin_config(const std::string& config_arg);

/// Engine options for an admin command: the config's endpoints (secrets resolved), state path
/// and mailbox policy; with `debug`, the protocol trace of both sides on stderr.
Result<sync::EngineOptions> admin_engine_options(const Config& config, bool debug);

/// Reports a command-ending error (text on stderr; with `json` also the `error` event of
/// twinbox(1) "JSON OUTPUT" on stdout) and returns its exit status.
int report_failure(const Error& e, bool json);

/// Prints one JSON document on one line of stdout.
void print_json(const nlohmann::json& j);

/// A wire mailbox name for people: modified UTF-7 decoded (the name itself if invalid).
std::string readable(const std::string& wire);

/// "2026-12-06 00:10:03 UTC" for Unix seconds; "never" for 0.
std::string format_time(std::int64_t unix_seconds);

}  // namespace twinbox::cli
