// connect(): transport, greeting, STARTTLS, login, ID, ENABLE, COMPRESS (PROTOCOL.md §1.1-1.4).
#include <twinbox/client/connect.hpp>

#include <twinbox/net/tcp.hpp>

namespace twinbox::client {

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::Imaps: return "imaps";
    case Transport::StartTls: return "imap+starttls";
    case Transport::Tunnel: return "tunnel";
    case Transport::Plain: return "imap (plaintext)";
  }
  return "?";
}

namespace {

Result<net::StreamPtr> open_transport(const EndpointOptions& o) {
  net::ConnectOptions co;
  co.timeout = o.connect_timeout;
  switch (o.transport) {
    case Transport::Plain:
    case Transport::StartTls:
      return net::connect_tcp(o.host, o.port ? o.port : 143, co);
    case Transport::Imaps:
    case Transport::Tunnel:
      break;
  }
  return fail(Errc::Config, Scope::Fatal,
              std::string("transport ") + std::string(to_string(o.transport)) +
                  " is not available in this build");
}

StreamUpgrade tls_upgrade(const EndpointOptions&) {
  return [](net::StreamPtr, Deadline) -> Result<net::StreamPtr> {
    return fail(Errc::Tls, Scope::Connection, "TLS is not available in this build");
  };
}

StreamUpgrade deflate_wrap() {
  return [](net::StreamPtr, Deadline) -> Result<net::StreamPtr> {
    return fail(Errc::Capability, Scope::Connection, "COMPRESS is not available in this build");
  };
}

}  // namespace

Result<std::unique_ptr<Session>> connect(const EndpointOptions& o) {
  auto stream = open_transport(o);
  if (!stream) return stream.error();
  SessionOptions so = o.session;
  so.secure_transport = o.transport == Transport::Imaps || o.transport == Transport::Tunnel;
  so.allow_plaintext = o.transport == Transport::Plain;
  auto session = std::make_unique<Session>(std::move(*stream), so);
  auto step = [&] { return net::deadline_in(o.command_timeout); };
  if (auto s = session->greet(step()); !s) return s.error();
  if (o.transport == Transport::StartTls) {
    if (auto s = session->starttls(tls_upgrade(o), step()); !s) return s.error();
  }
  Credentials cred = o.credentials;
  if (cred.host.empty()) cred.host = o.host;
  if (cred.port == 0) cred.port = o.port;
  if (auto s = session->authenticate(cred, step()); !s) return s.error();
  if (o.send_id && session->has("ID")) {
    auto r = session->id({{"name", "twinbox"}, {"version", "0.1"}}, step());
    if (!r && session->broken()) return r.error();
  }
  if (o.compress && session->has("COMPRESS=DEFLATE")) {
    if (auto s = session->compress(deflate_wrap(), step()); !s) return s.error();
  }
  if (!o.enable.empty() && session->has("ENABLE")) {
    std::vector<std::string> want;
    for (auto& e : o.enable) {
      if (session->has(e)) want.push_back(e);
    }
    if (!want.empty()) {
      auto r = session->enable(want, step());
      if (!r) return r.error();
    }
  }
  return session;
}

}  // namespace twinbox::client
