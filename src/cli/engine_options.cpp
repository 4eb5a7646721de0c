#include <twinbox/cli/engine_options.hpp>

#include <algorithm>
#include <utility>

namespace twinbox::cli {
namespace {

client::AuthMechanism mechanism(AuthMethod a) {
  switch (a) {
    case AuthMethod::Auto: return client::AuthMechanism::Auto;
    case AuthMethod::Plain: return client::AuthMechanism::Plain;
    case AuthMethod::Login: return client::AuthMechanism::Login;
    case AuthMethod::OAuthBearer: return client::AuthMechanism::OAuthBearer;
    case AuthMethod::XOAuth2: return client::AuthMechanism::XOAuth2;
  }
  return client::AuthMechanism::Auto;
}

std::string section_name(Side side) { return side == Side::Local ? "[local]" : "[remote]"; }

Status fill_credentials(const EndpointConfig& ep, Side side, client::Credentials& cred) {
  cred.username = ep.username;
  cred.mechanism = mechanism(ep.auth);
  cred.host = ep.host;
  cred.port = ep.port;
  const bool oauth = ep.auth == AuthMethod::OAuthBearer || ep.auth == AuthMethod::XOAuth2;
  const bool has_password = ep.password.has_value() || !ep.password_command.empty();
  // auth = auto with only an oauth2_token_command means OAuth; with a password source the
  // password wins (the client picks OAuth whenever a token callback is set).
  if (oauth || (!has_password && !ep.oauth2_token_command.empty())) {
    std::string command = ep.oauth2_token_command;
    std::string what = "oauth2_token_command of " + section_name(side);
    cred.oauth_token = [command, what]() { return run_secret_command(command, what); };
    return {};
  }
  auto password = resolve_password(ep);
  if (!password) return password.error().with_context(section_name(side));
  cred.password = std::move(*password);
  return {};
}

}  // namespace

Result<client::EndpointOptions> endpoint_options(const EndpointConfig& ep, Side side,
                                                 const RunFlags& flags) {
  client::EndpointOptions o;
  o.host = ep.host;
  o.port = ep.port;
  switch (ep.type) {
    case EndpointType::Imaps: o.transport = client::Transport::Imaps; break;
    case EndpointType::Imap:
      o.transport = ep.tls == TlsPolicy::None ? client::Transport::Plain : client::Transport::StartTls;
      break;
    case EndpointType::Tunnel:
      o.transport = client::Transport::Tunnel;
      o.tunnel_command = ep.command;
      break;
  }
  o.tls.ca_file = ep.tls_ca_file;
  o.tls.fingerprints = ep.tls_fingerprints;
  o.tls.min_version = ep.tls_min_version == TlsVersion::V1_3 ? "1.3" : "1.2";
  o.compress = ep.want_compress();
  o.connect_timeout = ep.timeout;
  o.command_timeout = ep.timeout;
  if (o.transport == client::Transport::Plain) o.session.allow_plaintext = true;
  if (flags.trace && (flags.debug || ep.debug)) {
    auto trace = flags.trace;
    o.session.trace = [trace, side](std::string_view line) { trace(side, line); };
  }
  if (ep.type != EndpointType::Tunnel) {
    if (auto st = fill_credentials(ep, side, o.credentials); !st) return st.error();
  }
  return o;
}

Result<sync::EngineOptions> engine_options(const Config& config, const RunFlags& flags) {
  const SyncConfig& s = config.sync;
  if (!s.expunge) {
    return fail(Errc::Config, Scope::Fatal,
                config.origin + ": 'expunge = no' is not supported by this version of twinbox; "
                                "remove the line (expunges are propagated both ways)");
  }
  if (!s.map_special_use) {
    return fail(Errc::Config, Scope::Fatal,
                config.origin + ": 'map_special_use = no' is not supported by this version of "
                                "twinbox; remove the line (special-use mailboxes pair by role)");
  }
  sync::EngineOptions o;
  for (Side side : kBothSides) {
    auto ep = endpoint_options(config.endpoints[side], side, flags);
    if (!ep) return ep.error();
    o.endpoints[side] = std::move(*ep);
  }
  o.state_path = s.state_path;
  o.list.include = s.mailboxes;
  o.list.exclude = s.exclude;
  o.list.exclude_virtual = s.exclude_virtual;
  o.list.delete_mailboxes = s.delete_mailboxes;
  o.policy.mass_delete_percent = s.max_delete_percent;
  o.policy.mass_delete_min = s.max_delete_min;
  o.policy.allow_mass_delete = flags.allow_mass_delete;
  o.policy.sync_deleted_flag = s.sync_deleted_flag;
  o.dry_run = flags.dry_run;
  o.only = flags.only;
  o.timeout = std::max(config.endpoints[Side::Local].timeout, config.endpoints[Side::Remote].timeout);
  return o;
}

}  // namespace twinbox::cli
