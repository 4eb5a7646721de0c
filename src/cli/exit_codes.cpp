#include <twinbox/cli/exit_codes.hpp>

namespace twinbox::cli {

ExitCode exit_code_for(Errc code) {
  switch (code) {
    case Errc::Config: return ExitCode::Config;
    case Errc::Auth:
    case Errc::AuthRetry: return ExitCode::Auth;
    case Errc::Tls: return ExitCode::Tls;
    case Errc::Network:
    case Errc::Timeout:
    case Errc::Closed: return ExitCode::Network;
    // Conflict at run level is the state lock held by another run (state/store.hpp); a
    // per-mailbox Conflict (mass-delete guard) never ends a run, it makes it partial.
    case Errc::Conflict:
    case Errc::Storage:
    case Errc::Io: return ExitCode::Local;
    case Errc::Parse:
    case Errc::Protocol:
    case Errc::Limit:
    case Errc::Capability:
    case Errc::NotFound: return ExitCode::Protocol;
    case Errc::Internal: return ExitCode::Internal;
  }
  return ExitCode::Internal;
}

std::string_view to_string(ExitCode code) {
  switch (code) {
    case ExitCode::Ok: return "ok";
    case ExitCode::Changed: return "changed";
    case ExitCode::Partial: return "partial";
    case ExitCode::Config: return "config";
    case ExitCode::Auth: return "auth";
    case ExitCode::Tls: return "tls";
    case ExitCode::Network: return "network";
    case ExitCode::Local: return "local";
    case ExitCode::Internal: return "internal";
    case ExitCode::Protocol: return "protocol";
  }
  return "internal";
}

}  // namespace twinbox::cli
