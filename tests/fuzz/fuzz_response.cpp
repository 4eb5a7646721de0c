// Fuzz target for the incremental response parser. The first bytes pick the split sizes and
// whether a LiteralSink is installed; the rest is fed in pieces, with small limits so the
// limit paths are reached. Invariants: no crash, no hang; after Error the parser stays dead;
// the split does not change the outcome (same responses, same error) as one-piece parsing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/imap/parser.hpp>

using namespace twinbox;
using namespace twinbox::imap;

namespace {

struct CountingSink : LiteralSink {
  std::uint64_t octets = 0;
  int open = 0;
  Status begin(SeqNum, std::string_view, std::uint64_t) override {
    ++open;
    return {};
  }
  Status chunk(std::string_view data) override {
    if (data.empty() || open != 1) std::abort();
    octets += data.size();
    return {};
  }
  Status end() override {
    --open;
    return {};
  }
};

struct Outcome {
  std::vector<std::string> described;
  std::string error;
};

Outcome run(std::string_view input, const std::uint8_t* splits, std::size_t nsplits, bool sink_on) {
  ParserLimits lim;
  lim.max_line_length = 4096;
  lim.max_literal_size = 2048;
  lim.max_response_literals = 8192;
  lim.max_streamed_literal_size = 1 << 16;
  lim.max_depth = 8;
  lim.max_items = 64;
  ResponseParser p(lim);
  CountingSink sink;
  if (sink_on) p.set_literal_sink(&sink, 4);
  Outcome out;
  Response r;
  std::size_t pos = 0;
  std::size_t i = 0;
  while (pos < input.size()) {
    std::size_t n = nsplits == 0 ? input.size() : 1 + splits[i++ % nsplits] % 17;
    if (n > input.size() - pos) n = input.size() - pos;
    p.feed(input.substr(pos, n));
    pos += n;
    for (;;) {
      ParseStatus s = p.next(r);
      if (s == ParseStatus::Ok) {
        out.described.push_back(describe(r));
        continue;
      }
      if (s == ParseStatus::Error) {
        out.error = p.error().message;
        if (p.next(r) != ParseStatus::Error) std::abort();  // stays dead
        return out;
      }
      break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const bool sink_on = (data[0] & 1) != 0;
  const std::size_t nsplits = data[1] % 8;
  if (size < 2 + nsplits) return 0;
  const std::uint8_t* splits = data + 2;
  std::string_view input(reinterpret_cast<const char*>(data + 2 + nsplits), size - 2 - nsplits);
  const Outcome split = run(input, splits, nsplits, sink_on);
  const Outcome whole = run(input, splits, 0, sink_on);
  if (split.described != whole.described || split.error != whole.error) std::abort();
  return 0;
}
