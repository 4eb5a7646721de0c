// Fuzz target for the client-command parser (RFC 3501 §9 command): any bytes, fed whole and
// fed in two pieces split at a data-derived point, give the same sequence of steps and never
// crash. Small limits so deep nesting, long lines and big literals are reached quickly.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <twinbox/imap/command.hpp>

namespace {

using namespace twinbox::imap;

std::string describe(const CommandStep& s) {
  std::ostringstream os;
  if (const auto* c = std::get_if<ContinuationOwed>(&s)) os << "+" << c->literal_size;
  if (const auto* c = std::get_if<Command>(&s)) os << *c;
  if (const auto* b = std::get_if<CommandBad>(&s)) os << "BAD " << b->tag << ' ' << b->reason;
  return os.str();
}

std::vector<std::string> run(std::string_view in, std::size_t split) {
  CommandLimits lim;
  lim.max_line = 2048;
  lim.max_literal = 4096;
  lim.max_nonsync_literal = 1024;
  lim.max_depth = 8;
  lim.max_args = 256;
  CommandParser p(lim);
  std::vector<std::string> out;
  for (std::string_view part : {in.substr(0, split), in.substr(split)}) {
    p.feed(part);
    while (true) {
      CommandStep s = p.next();
      if (std::holds_alternative<NeedMore>(s)) break;
      out.push_back(describe(s));
      if (const auto* b = std::get_if<CommandBad>(&s); b && b->must_close) return out;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t split = size == 0 ? 0 : (static_cast<std::size_t>(data[0]) * 131U) % (size + 1);
  if (run(in, 0) != run(in, split)) std::abort();
  // Raw-line mode (AUTHENTICATE, IDLE DONE) on the same bytes: must not crash either.
  twinbox::imap::CommandParser p(twinbox::imap::CommandLimits{.max_line = 512});
  p.feed(in);
  for (int i = 0; i < 64; ++i) {
    auto line = p.next_line();
    if (!line || !*line) break;
  }
  return 0;
}
