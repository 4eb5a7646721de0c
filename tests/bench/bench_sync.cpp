// Stand-in for `twinbox sync --config FILE` used by scripts/bench.sh while the CLI command is
// not wired: reads the same config file (cli::load_config), maps it onto sync::EngineOptions
// and runs one sync. Exit status: 0 synced, 1 error, 2 partial (a mailbox failed).
//
//   bench_sync --config FILE [--quiet]
//
// Not a product: only the keys the benchmark writes (type imap/imaps/tunnel, tls, host, port,
// username, password, compress, tls_ca_file, timeout; state, mailboxes, exclude, expunge,
// max_delete_*, sync_deleted_flag) are mapped.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <twinbox/cli/config.hpp>
#include <twinbox/sync/engine.hpp>

namespace {

using twinbox::Side;
namespace cli = twinbox::cli;
namespace client = twinbox::client;
namespace sync = twinbox::sync;

client::EndpointOptions map_endpoint(const cli::EndpointConfig& e) {
  client::EndpointOptions o;
  switch (e.type) {
    case cli::EndpointType::Imaps: o.transport = client::Transport::Imaps; break;
    case cli::EndpointType::Imap:
      o.transport =
          e.tls == cli::TlsPolicy::None ? client::Transport::Plain : client::Transport::StartTls;
      break;
    case cli::EndpointType::Tunnel: o.transport = client::Transport::Tunnel; break;
  }
  o.host = e.host;
  o.port = e.port;
  o.tunnel_command = e.command;
  o.tls.ca_file = e.tls_ca_file;
  o.tls.fingerprints = e.tls_fingerprints;
  o.credentials.username = e.username;
  if (e.password) o.credentials.password = *e.password;
  o.compress = e.want_compress();
  o.command_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(e.timeout);
  o.session.allow_plaintext = o.transport == client::Transport::Plain;
  o.session.secure_transport = o.transport != client::Transport::Plain;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      std::fprintf(stderr, "usage: bench_sync --config FILE [--quiet]\n");
      return 1;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "bench_sync: --config FILE is required\n");
    return 1;
  }
  auto config = cli::load_config(path);
  if (!config) {
    std::fprintf(stderr, "bench_sync: %s\n", config.error().message.c_str());
    return 1;
  }
  sync::EngineOptions options;
  for (Side s : {Side::Local, Side::Remote}) {
    options.endpoints[s] = map_endpoint(config->endpoints[s]);
  }
  const cli::SyncConfig& sc = config->sync;
  options.state_path = sc.state_path;
  options.list.include = sc.mailboxes;
  options.list.exclude = sc.exclude;
  options.list.exclude_virtual = sc.exclude_virtual;
  options.list.delete_mailboxes = sc.delete_mailboxes;
  options.policy.mass_delete_percent = sc.max_delete_percent;
  options.policy.mass_delete_min = sc.max_delete_min;
  options.policy.sync_deleted_flag = sc.sync_deleted_flag;

  auto report = sync::run_sync(options, [quiet](std::string_view line) {
    if (!quiet) std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  });
  if (!report) {
    std::fprintf(stderr, "bench_sync: %s\n", report.error().message.c_str());
    return 1;
  }
  for (const auto& m : report->mailboxes) {
    if (!m.error.empty()) std::fprintf(stderr, "bench_sync: %s: %s\n", m.name.c_str(), m.error.c_str());
  }
  std::printf("commands local=%llu remote=%llu copied=%llu/%llu flags=%llu/%llu expunged=%llu/%llu "
              "moved=%llu/%llu\n",
              static_cast<unsigned long long>(report->commands[Side::Local]),
              static_cast<unsigned long long>(report->commands[Side::Remote]),
              static_cast<unsigned long long>(report->total[Side::Local].copied),
              static_cast<unsigned long long>(report->total[Side::Remote].copied),
              static_cast<unsigned long long>(report->total[Side::Local].flags),
              static_cast<unsigned long long>(report->total[Side::Remote].flags),
              static_cast<unsigned long long>(report->total[Side::Local].expunged),
              static_cast<unsigned long long>(report->total[Side::Remote].expunged),
              static_cast<unsigned long long>(report->total[Side::Local].moved),
              static_cast<unsigned long long>(report->total[Side::Remote].moved));
  return report->partial() ? 2 : 0;
}
