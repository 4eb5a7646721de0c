// Fuzz target: the MIME parser of the embedded server, and everything FETCH derives from it
// (ENVELOPE, BODY, BODYSTRUCTURE, every BODY[section] and BINARY[section] of every part),
// plus the header helpers (addresses, dates, RFC 2047). Spans must stay inside the message.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/server/message.hpp"
#include "../../src/server/mime.hpp"
#include "../../src/server/section.hpp"

using namespace twinbox::server;

namespace {

void check_span(const Message& msg, Span s) {
  if (s.offset > msg.size() || s.length > msg.size() - s.offset) std::abort();
}

void fetch_all(const Message& msg, std::vector<std::uint32_t>& path) {
  static constexpr SectionText kTexts[] = {SectionText::None, SectionText::Header,
                                           SectionText::HeaderFields, SectionText::HeaderFieldsNot,
                                           SectionText::Text, SectionText::Mime};
  for (SectionText t : kTexts) {
    if (t == SectionText::Mime && path.empty()) continue;
    SectionSpec spec;
    spec.part = path;
    spec.text = t;
    spec.fields = {"From", "Content-Type"};
    spec.partial = Partial{3, 7};
    auto data = extract_section(msg, spec);
    if (data && data->data().size() > 7) std::abort();
    (void)format_section(spec);
  }
  SectionSpec bin;
  bin.part = path;
  (void)extract_binary(msg, bin);
  (void)binary_size(msg, bin);
}

void walk_message(const Message& msg, const BodyPart& m, std::vector<std::uint32_t>& path);

void expect_part(const Message& msg, const BodyPart& want, const std::vector<std::uint32_t>& path) {
  if (find_part(msg, path) != &want) std::abort();
}

/// A part at `path`: its own sections, then its subparts (RFC 3501 §6.4.5 numbering).
void walk_part(const Message& msg, const BodyPart& p, std::vector<std::uint32_t>& path) {
  check_span(msg, p.header);
  check_span(msg, p.body);
  for (const HeaderField& f : p.fields) check_span(msg, f.whole);
  fetch_all(msg, path);
  if (p.is_multipart()) {
    for (std::uint32_t i = 0; i < p.children.size(); ++i) {
      path.push_back(i + 1);
      expect_part(msg, p.children[i], path);
      walk_part(msg, p.children[i], path);
      path.pop_back();
    }
  } else if (p.is_message_rfc822()) {
    (void)serialize_envelope(msg.envelope(&p.children.front()));
    walk_message(msg, p.children.front(), path);
  }
}

/// The parts of a message node (root or encapsulated): a multipart body's parts, or the
/// body itself as part 1.
void walk_message(const Message& msg, const BodyPart& m, std::vector<std::uint32_t>& path) {
  if (m.is_multipart()) {
    for (std::uint32_t i = 0; i < m.children.size(); ++i) {
      path.push_back(i + 1);
      expect_part(msg, m.children[i], path);
      walk_part(msg, m.children[i], path);
      path.pop_back();
    }
    return;
  }
  path.push_back(1);
  expect_part(msg, m, path);
  if (m.is_message_rfc822()) {
    walk_part(msg, m, path);
  } else {
    fetch_all(msg, path);
  }
  path.pop_back();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto msg = Message::parse_view(bytes, MimeLimits{16, 500, 500});
  (void)serialize_envelope(msg.envelope());
  (void)serialize_body_structure(msg, false);
  (void)serialize_body_structure(msg, true);
  (void)msg.sent_date();
  std::vector<std::uint32_t> path;
  fetch_all(msg, path);
  walk_message(msg, msg.root(), path);
  std::string_view head = bytes.substr(0, 512);
  (void)parse_address_list(head);
  (void)parse_rfc5322_date(head);
  (void)parse_imap_datetime(head);
  (void)decode_rfc2047(head);
  (void)fold_case(head);
  (void)parse_section(head);
  return 0;
}
