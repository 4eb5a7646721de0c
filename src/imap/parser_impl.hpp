#pragma once
// Private: the grammar half of the response parser (response.cpp) as seen by the framing
// half (parser.cpp). The framer hands over one complete response: its line pieces with the
// buffered literal payloads inline; streamed literals keep their `{n}CRLF` header but their
// payload is absent.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/imap/parser.hpp>
#include <twinbox/imap/response.hpp>

namespace twinbox::imap::detail {

struct StreamedLiteral {
  std::size_t payload_pos = 0;  ///< where the payload would start, relative to the response
  std::uint64_t size = 0;
};

struct GrammarError {
  std::size_t pos = 0;  ///< relative to the response text
  std::string what;
};

/// Reusable scratch space so that parsing a response does not allocate on the hot path.
struct GrammarScratch {
  std::string str;
  std::vector<UidRun> runs;
  std::vector<Range> ranges;
};

/// Parses one complete response `text` into `out`. Returns false and fills `err` on failure.
bool parse_response_text(std::string_view text, const std::vector<StreamedLiteral>& streamed,
                         const ParserLimits& limits, GrammarScratch& scratch, Response& out,
                         GrammarError& err);

/// Printable excerpt of `text` around `pos` for error messages (control bytes escaped).
std::string excerpt(std::string_view text, std::size_t pos);

}  // namespace twinbox::imap::detail
