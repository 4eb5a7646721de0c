// connect(): transport, greeting, STARTTLS, login, ID, ENABLE, COMPRESS (PROTOCOL.md §1.1-1.4).
#include <twinbox/client/connect.hpp>

#include <twinbox/net/deflate.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/net/tls.hpp>
#include <twinbox/net/tunnel.hpp>

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

net::TlsOptions tls_options(const EndpointOptions& o) {
  net::TlsOptions t;
  t.host = o.tls.server_name.empty() ? o.host : o.tls.server_name;
  t.ca_file = o.tls.ca_file;
  t.fingerprints = o.tls.fingerprints;
  t.verify = o.tls.verify;
  t.min_version = o.tls.min_version == "1.3" ? net::TlsVersion::Tls13 : net::TlsVersion::Tls12;
  return t;
}

Result<net::StreamPtr> open_transport(const EndpointOptions& o) {
  net::ConnectOptions co;
  co.timeout = o.connect_timeout;
  switch (o.transport) {
    case Transport::Plain:
    case Transport::StartTls:
      return net::connect_tcp(o.host, o.port ? o.port : 143, co);
    case Transport::Imaps:
      return net::connect_tls(o.host, o.port ? o.port : 993, co, tls_options(o));
    case Transport::Tunnel:
      return net::spawn_tunnel(o.tunnel_command);
  }
  return fail(Errc::Config, Scope::Fatal, "unknown transport");
}

StreamUpgrade tls_upgrade(const EndpointOptions& o) {
  net::TlsOptions t = tls_options(o);
  return [t](net::StreamPtr s, Deadline d) -> Result<net::StreamPtr> {
    return net::tls_upgrade(std::move(s), t, d);
  };
}

StreamUpgrade deflate_wrap() {
  return [](net::StreamPtr s, Deadline) -> Result<net::StreamPtr> {
    auto z = net::wrap_deflate(std::move(s));
    if (!z) return z.error();
    return net::StreamPtr(std::move(*z));
  };
}

}  // namespace

bool PendingSetup::ready() const {
  return (!id.valid() || id.ready()) && (!enable.valid() || enable.ready());
}

Status PendingSetup::result(const Session& session) const {
  if (enable.valid() && !enable.result()) return enable.result().error();
  if (id.valid() && !id.result() && session.broken()) return id.result().error();
  return {};
}

Result<std::unique_ptr<Session>> connect(const EndpointOptions& o, PendingSetup& pipelined) {
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
  pipelined = PendingSetup{};
  std::uint64_t queued = 0;  // setup commands possibly not sent yet
  const std::uint64_t sent = session->commands_sent();
  if (o.send_id && session->has("ID")) {
    pipelined.id = session->send_id({{"name", "twinbox"}, {"version", "0.1"}});
    ++queued;
  }
  if (o.compress && session->has("COMPRESS=DEFLATE")) {
    // COMPRESS waits for nothing in flight (a barrier): ID is answered first.
    if (auto s = session->compress(deflate_wrap(), step()); !s) return s.error();
    ++queued;
  }
  if (!o.enable.empty() && session->has("ENABLE")) {
    std::vector<std::string> want;
    for (auto& e : o.enable) {
      if (session->has(e)) want.push_back(e);
    }
    if (!want.empty()) {
      pipelined.enable = session->send_enable(want);
      ++queued;
    }
  }
  pipelined.commands_after_setup = sent + queued;
  return session;
}

Result<std::unique_ptr<Session>> connect(const EndpointOptions& o) {
  PendingSetup setup;
  auto session = connect(o, setup);
  if (!session) return session;
  if (!setup.ready()) {
    Status s = (*session)->run_until([&] { return setup.ready(); },
                                     net::deadline_in(o.command_timeout));
    if (!s && !setup.ready()) return s.error();
  }
  if (auto s = setup.result(**session); !s) return s.error();
  return session;
}

}  // namespace twinbox::client
