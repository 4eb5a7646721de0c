// Fuzz target: SEARCH key tokenizer, parser and evaluator of the embedded server.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/server/message.hpp"
#include "../../src/server/search.hpp"

using namespace twinbox;
using namespace twinbox::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tokens = tokenize_search(text);
  if (!tokens) return 0;
  auto query = parse_search(*tokens, SearchLimits{32, 2000});
  if (!query) return 0;
  static const Message msg = Message::parse(
      "Date: 1 Feb 2024 10:00:00 +0100\r\nFrom: A <a@b.c>\r\nSubject: =?UTF-8?Q?h=C3=A9?=\r\n"
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--x--\r\n");
  std::vector<std::string> flags{"\\Seen", "$Junk"};
  MessageView view;
  view.uid = Uid(42);
  view.seq = SeqNum(3);
  view.flags = flags;
  view.internal_date = DateTime{1706778000, 60};
  view.size = msg.size();
  view.modseq = ModSeq(9);
  view.message = [] { return &msg; };
  (void)matches(query->root, view, SearchContext{5, 50});
  (void)uses_modseq(query->root);
  return 0;
}
