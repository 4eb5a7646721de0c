// Framing half of the response parser: finds where one response ends (line pieces and
// literals), enforces the limits, streams large body literals to the sink, then hands the
// complete response to the grammar (response.cpp).
#include <twinbox/imap/parser.hpp>

#include <cstring>

#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/token.hpp>

#include "parser_impl.hpp"

namespace twinbox::imap {

namespace {
enum class FrameState : std::uint8_t { Line, Literal, Stream };
}  // namespace

struct ResponseParser::Impl {
  ParserLimits limits;
  LiteralSink* sink = nullptr;
  std::uint64_t threshold = 0;

  std::string buf;             // unconsumed input; the current response starts at `start`
  std::size_t start = 0;
  std::size_t scan = 0;        // next byte to examine
  std::size_t seg_start = 0;   // start of the current line piece (after the last literal)
  std::uint64_t line_bytes = 0;      // line octets of the current response, finished pieces
  std::uint64_t literal_bytes = 0;   // buffered literal octets of the current response
  std::uint32_t literal_count = 0;
  std::uint64_t removed = 0;         // streamed octets cut out of the current response
  std::uint64_t consumed = 0;        // stream offset of buf[start]
  std::uint64_t remaining = 0;       // octets left of the current literal
  FrameState state = FrameState::Line;
  std::vector<detail::StreamedLiteral> streamed;
  detail::GrammarScratch scratch;
  bool failed = false;
  Error error;

  explicit Impl(ParserLimits l) : limits(l) {}

  [[nodiscard]] std::uint64_t stream_offset(std::size_t p) const {
    return consumed + (p - start) + removed;
  }

  ParseStatus die(Errc code, std::uint64_t offset, std::string_view what, std::string_view near) {
    failed = true;
    error = Error(code, Scope::Connection,
                  "IMAP response " + std::string(code == Errc::Limit ? "over a limit" : "malformed") +
                      " at byte " + std::to_string(offset) + ": " + std::string(what) + " near \"" +
                      std::string(near) + "\"; the connection must be dropped and re-opened");
    return ParseStatus::Error;
  }
  ParseStatus die_at(Errc code, std::size_t p, std::string_view what) {
    // Only bytes up to p: what follows depends on how the input was split.
    const std::size_t len = p < buf.size() ? p + 1 - start : buf.size() - start;
    const std::string_view resp(buf.data() + start, len);
    return die(code, stream_offset(p), what, detail::excerpt(resp, p - start));
  }

  void compact() {
    if (start == 0) return;
    if (start == buf.size()) {
      buf.clear();
    } else if (start >= 4096 && start * 2 >= buf.size()) {
      buf.erase(0, start);
    } else {
      return;
    }
    scan -= start;
    seg_start -= start;
    start = 0;
  }

  void reset_response(std::size_t end) {
    consumed += (end - start) + removed;
    start = scan = seg_start = end;
    line_bytes = literal_bytes = removed = 0;
    literal_count = 0;
    streamed.clear();
    state = FrameState::Line;
  }

  ParseStatus step(Response& out);
  ParseStatus on_line_end(std::size_t lf, Response& out);
  ParseStatus begin_literal(std::size_t brace, std::size_t lf, std::uint64_t n);
  bool body_item_context(std::size_t brace, SeqNum& seq, std::string_view& item) const;
};

ParseStatus ResponseParser::Impl::step(Response& out) {
  for (;;) {
    switch (state) {
      case FrameState::Line: {
        const char* base = buf.data();
        const void* hit = std::memchr(base + scan, '\n', buf.size() - scan);
        if (hit == nullptr) {
          scan = buf.size();
          if (line_bytes + (scan - seg_start) > limits.max_line_length) {
            return die_at(Errc::Limit, seg_start + static_cast<std::size_t>(limits.max_line_length - line_bytes),
                          "line longer than max_line_length (" + std::to_string(limits.max_line_length) + ")");
          }
          return ParseStatus::NeedMore;
        }
        const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
        const ParseStatus s = on_line_end(lf, out);
        if (s != ParseStatus::NeedMore) return s;
        continue;  // a literal follows
      }
      case FrameState::Literal: {
        const std::size_t avail = buf.size() - scan;
        if (avail < remaining) {
          remaining -= avail;
          scan = buf.size();
          return ParseStatus::NeedMore;
        }
        scan += static_cast<std::size_t>(remaining);
        remaining = 0;
        seg_start = scan;
        state = FrameState::Line;
        continue;
      }
      case FrameState::Stream: {
        const std::size_t avail = buf.size() - scan;
        const std::size_t k = remaining < avail ? static_cast<std::size_t>(remaining) : avail;
        if (k > 0) {
          Status st = sink->chunk(std::string_view(buf.data() + scan, k));
          if (!st) {
            failed = true;
            error = st.error().with_context("streaming a FETCH body literal");
            return ParseStatus::Error;
          }
          buf.erase(scan, k);
          removed += k;
          remaining -= k;
        }
        if (remaining > 0) return ParseStatus::NeedMore;
        Status st = sink->end();
        if (!st) {
          failed = true;
          error = st.error().with_context("finishing a streamed FETCH body literal");
          return ParseStatus::Error;
        }
        seg_start = scan;
        state = FrameState::Line;
        continue;
      }
    }
  }
}

// A line piece ends at `lf`. Either it announces a literal (`{n}` / `~{n}` before CRLF) or
// the response is complete.
ParseStatus ResponseParser::Impl::on_line_end(std::size_t lf, Response& out) {
  line_bytes += lf + 1 - seg_start;
  if (line_bytes > limits.max_line_length) {
    return die_at(Errc::Limit, lf, "line longer than max_line_length (" +
                                       std::to_string(limits.max_line_length) + ")");
  }
  scan = lf + 1;
  std::size_t e = lf;
  if (e > seg_start && buf[e - 1] == '\r') --e;
  // Continuation requests carry free text or base64, never literals.
  const bool continuation = buf[start] == '+';
  if (!continuation && e > seg_start && buf[e - 1] == '}') {
    std::size_t j = e - 1;
    if (j > seg_start && buf[j - 1] == '+') --j;  // `{n+}`: not from servers, tolerated
    std::size_t d = j;
    while (d > seg_start && chars::is_digit(static_cast<unsigned char>(buf[d - 1]))) --d;
    if (d < j && d > seg_start && buf[d - 1] == '{') {
      std::uint64_t n = 0;
      for (std::size_t i = d; i < j; ++i) {
        const auto digit = static_cast<std::uint64_t>(buf[i] - '0');
        if (n > (UINT64_MAX - digit) / 10) return die_at(Errc::Parse, d, "literal size overflows 64 bits");
        n = n * 10 + digit;
      }
      return begin_literal(d - 1, lf, n);
    }
  }
  // Complete response.
  const std::size_t end = lf + 1;
  const std::string_view text(buf.data() + start, end - start);
  detail::GrammarError err;
  if (!detail::parse_response_text(text, streamed, limits, scratch, out, err)) {
    std::uint64_t offset = consumed + err.pos;
    for (const auto& s : streamed) {
      if (s.payload_pos <= err.pos) offset += s.size;
    }
    return die(Errc::Parse, offset, err.what, detail::excerpt(text, err.pos));
  }
  reset_response(end);
  return ParseStatus::Ok;
}

ParseStatus ResponseParser::Impl::begin_literal(std::size_t brace, std::size_t lf, std::uint64_t n) {
  if (++literal_count > limits.max_items) {
    return die_at(Errc::Limit, brace, "too many literals in one response (limit max_items)");
  }
  SeqNum seq;
  std::string_view item;
  if (sink != nullptr && n >= threshold && body_item_context(brace, seq, item)) {
    if (n > limits.max_streamed_literal_size) {
      return die_at(Errc::Limit, brace, "streamed literal of " + std::to_string(n) +
                                            " octets exceeds max_streamed_literal_size");
    }
    Status st = sink->begin(seq, item, n);
    if (!st) {
      failed = true;
      error = st.error().with_context("starting a streamed FETCH body literal");
      return ParseStatus::Error;
    }
    streamed.push_back(detail::StreamedLiteral{lf + 1 - start, n});
    remaining = n;
    state = FrameState::Stream;
    return ParseStatus::NeedMore;
  }
  if (n > limits.max_literal_size) {
    return die_at(Errc::Limit, brace, "literal of " + std::to_string(n) +
                                          " octets exceeds max_literal_size (" +
                                          std::to_string(limits.max_literal_size) + ")");
  }
  literal_bytes += n;
  if (literal_bytes > limits.max_response_literals) {
    return die_at(Errc::Limit, brace, "literals of one response exceed max_response_literals");
  }
  remaining = n;
  state = FrameState::Literal;
  return ParseStatus::NeedMore;
}

// Is the literal at `brace` the value of a body item of `* n FETCH (`? Looks at the text
// before it: `... SP? ITEM[section]<origin> SP {n}` (a `~` before `{` for literal8).
bool ResponseParser::Impl::body_item_context(std::size_t brace, SeqNum& seq,
                                             std::string_view& item) const {
  Lexer lx(std::string_view(buf.data() + start, brace - start));
  if (!lx.eat('*') || !lx.eat(' ')) return false;
  auto n = lx.nz_number();
  if (!n || !lx.eat(' ') || !lx.eat_word("FETCH") || !lx.eat(' ') || !lx.eat('(')) return false;
  std::size_t p = brace;
  if (p > start && buf[p - 1] == '~') --p;
  if (p <= start || buf[p - 1] != ' ') return false;
  const std::size_t item_end = --p;
  if (p > start && buf[p - 1] == '>') {
    while (p > start && buf[p - 1] != '<') --p;
    if (p == start) return false;
    --p;
  }
  std::size_t name_end = p;
  if (p > start && buf[p - 1] == ']') {
    while (p > start && buf[p - 1] != '[') --p;
    if (p == start) return false;
    name_end = --p;
  }
  while (p > start && (chars::is_atom_char(static_cast<unsigned char>(buf[p - 1])) && buf[p - 1] != '[')) --p;
  if (p == start || (buf[p - 1] != ' ' && buf[p - 1] != '(')) return false;
  const std::string_view name(buf.data() + p, name_end - p);
  const bool sectioned = name_end != item_end && buf[name_end] == '[';
  const bool body = sectioned ? (iequals(name, "BODY") || iequals(name, "BINARY"))
                              : (iequals(name, "RFC822") || iequals(name, "RFC822.TEXT") ||
                                 iequals(name, "RFC822.HEADER"));
  if (!body) return false;
  seq = SeqNum(*n);
  item = std::string_view(buf.data() + p, item_end - p);
  return true;
}

ResponseParser::ResponseParser(ParserLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

void ResponseParser::set_literal_sink(LiteralSink* sink, std::uint64_t threshold) {
  impl_->sink = sink;
  impl_->threshold = threshold;
}

void ResponseParser::feed(std::string_view bytes) {
  if (impl_->failed) return;
  impl_->compact();
  impl_->buf.append(bytes);
}

ParseStatus ResponseParser::next(Response& out) {
  if (impl_->failed) return ParseStatus::Error;
  return impl_->step(out);
}

Result<std::optional<Response>> ResponseParser::next() {
  Response r;
  switch (next(r)) {
    case ParseStatus::Ok: return std::optional<Response>(std::move(r));
    case ParseStatus::NeedMore: return std::optional<Response>();
    case ParseStatus::Error: break;
  }
  return impl_->error;
}

const Error& ResponseParser::error() const { return impl_->error; }
bool ResponseParser::failed() const { return impl_->failed; }
std::uint64_t ResponseParser::consumed() const { return impl_->consumed; }
std::uint64_t ResponseParser::buffered() const { return impl_->buf.size() - impl_->start; }
const ParserLimits& ResponseParser::limits() const { return impl_->limits; }

Result<Response> parse_response(std::string_view bytes, ParserLimits limits) {
  ResponseParser p(limits);
  p.feed(bytes);
  Response r;
  switch (p.next(r)) {
    case ParseStatus::Ok:
      if (p.buffered() != 0) {
        return fail(Errc::Parse, Scope::Connection,
                    "parse_response: " + std::to_string(p.buffered()) +
                        " bytes left after one complete response");
      }
      return r;
    case ParseStatus::NeedMore:
      return fail(Errc::Parse, Scope::Connection,
                  "parse_response: incomplete response (missing CRLF or literal octets)");
    case ParseStatus::Error: break;
  }
  return p.error();
}

}  // namespace twinbox::imap
