// Fuzz target: the INI config parser (include/twinbox/cli/config.hpp). Any text must give a
// Config or an Errc::Config error naming a line; never a crash, a hang or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <twinbox/cli/config.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = twinbox::cli::parse_config(text, "fuzz.conf");
  if (!cfg && cfg.error().code != twinbox::Errc::Config) std::abort();
  return 0;
}
