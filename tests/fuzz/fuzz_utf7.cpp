// Fuzz target for modified UTF-7 (RFC 3501 §5.1.3): decoding never crashes; a name that
// decodes re-encodes to exactly the same bytes (one canonical form); and any input that is
// valid UTF-8 encodes to something that decodes back to it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <twinbox/imap/utf7.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto dec = twinbox::imap::utf7_decode(text)) {
    auto enc = twinbox::imap::utf7_encode(*dec);
    if (!enc || *enc != text) std::abort();
  }
  if (auto enc = twinbox::imap::utf7_encode(text)) {
    auto dec = twinbox::imap::utf7_decode(*enc);
    if (!dec || *dec != text) std::abort();
  }
  return 0;
}
