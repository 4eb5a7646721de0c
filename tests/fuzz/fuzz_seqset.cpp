// Fuzz target for SeqSet::parse (RFC 3501 §9 sequence-set): parsing never crashes, and a
// parsed set survives to_string -> parse unchanged; split() pieces cover the set.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <twinbox/imap/seqset.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = twinbox::imap::SeqSet::parse(text, true, 1000);
  if (!s) return 0;
  auto again = twinbox::imap::SeqSet::parse(s->to_string(), false);
  if (s->empty()) return 0;
  if (!again || !(*again == *s)) std::abort();
  twinbox::imap::SeqSet joined;
  for (const auto& part : s->split(16)) joined.add(part);
  if (!(joined == *s)) std::abort();
  return 0;
}
