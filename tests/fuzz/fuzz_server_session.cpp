// Fuzz target: a whole pre-authenticated IMAP session of the embedded server, fed from the
// input in chunks (the first byte picks the chunk size), against an in-memory store with a
// few messages. Peer input must never crash the server or trip an assertion.

#include <cstddef>
#include <cstdint>
#include <string>

#include "../../src/server/core.hpp"
#include "../../src/server/session.hpp"
#include "../unit/server/memory_stream.hpp"

using namespace twinbox;
using namespace twinbox::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = 1 + data[0] % 64;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  auto storage = Storage::open(":memory:");
  if (!storage) return 0;
  Options opt;
  opt.users = {{"alice", "secret"}};
  opt.limits.auth_fail_delay_ms = 0;
  opt.limits.max_line = 4096;
  opt.limits.max_literal = 1 << 16;
  opt.limits.output_high_water = 1 << 16;
  ServerCore core(opt, std::move(*storage));
  if (!core.ensure_user_mailboxes("alice")) return 0;
  auto inbox = core.store().find_mailbox("alice", "INBOX");
  if (!inbox || !*inbox) return 0;
  (void)core.store().create_mailbox("alice", "Trash", {"\\Trash"});
  for (int k = 1; k <= 3; ++k) {
    std::string msg = "From: a@b.c\r\nSubject: m" + std::to_string(k) +
                      "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n";
    (void)core.store().append((*inbox)->id, msg, {k == 2 ? "\\Seen" : "$kw"}, 1700000000 + k, 0);
  }
  auto stream = std::make_unique<testing::MemoryStream>(std::move(input), chunk);
  std::string out;
  stream->set_output(&out);
  stream->set_max_output(1 << 16);
  auto* raw = stream.get();
  Session session(core, std::move(stream), 1);
  session.start("alice");
  for (int i = 0; i < 100000 && !session.closed(); ++i) {
    bool was_drained = raw->drained();
    session.on_ready();
    session.on_store_changed();
    if (was_drained) break;
  }
  return 0;
}
