#pragma once
/// Incremental parser of IMAP server responses (RFC 3501 §7, §9; PROTOCOL.md §3).
///
/// Contract (after Dovecot's imap-parser):
/// * feed() appends bytes in any split (one byte at a time works); next() returns
///   ParseStatus::Ok with one complete response, ParseStatus::NeedMore when the bytes so far
///   do not complete one ("need more" is a state, not an error), or ParseStatus::Error.
/// * Literals `{n}` and literal8 `~{n}` (n up to 2^64-1 on the wire) may appear anywhere a
///   string may; the parser waits for their octets.
/// * Large FETCH body literals can be streamed to a LiteralSink instead of being buffered:
///   memory then stays bounded by the limits below plus the size of the chunks fed.
/// * Hostile input: every limit is a parameter (ParserLimits). Malformed input or a limit
///   breach gives an Error (Errc::Parse or Errc::Limit, Scope::Connection) whose message
///   names the byte offset from the start of the stream and an excerpt. Never throws (except
///   std::bad_alloc), never crashes, never allocates beyond the limits.
/// * After an Error the parser is unusable: every later next() returns Error again. The
///   connection must be dropped (the byte stream can no longer be framed reliably).

#include <cstdint>
#include <memory>
#include <string_view>

#include <twinbox/base/error.hpp>
#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/imap/response.hpp>

namespace twinbox::imap {

enum class ParseStatus : std::uint8_t {
  Ok,        ///< `out` holds one complete response
  NeedMore,  ///< feed more bytes, then call next() again
  Error,     ///< see ResponseParser::error(); the parser is dead
};

struct ParserLimits {
  /// Octets of one response excluding literal payloads (all its line pieces together).
  /// Responses have no protocol limit (a VANISHED or SEARCH line can be megabytes).
  std::uint64_t max_line_length = 16u << 20;
  /// Largest literal kept in memory.
  std::uint64_t max_literal_size = 64u << 20;
  /// Sum of buffered literal octets in one response.
  std::uint64_t max_response_literals = 128u << 20;
  /// Largest literal streamed to a sink.
  std::uint64_t max_streamed_literal_size = std::uint64_t{1} << 40;
  /// Parenthesis nesting depth (BODYSTRUCTURE, extension data).
  std::uint32_t max_depth = 64;
  /// Elements of any one list (flags, SEARCH numbers, set runs, FETCH items, literals per
  /// response, capability atoms…).
  std::uint32_t max_items = 1000000;
};

/// Receives streamed FETCH body literals. Calls for one literal: begin, chunk*, end, all
/// from inside ResponseParser::next(). The FETCH response that contained the literal is
/// returned by a later next(); its FetchBody has streamed = true and size = total.
/// Returning an error from any call aborts parsing with that error (parser dead).
class LiteralSink {
 public:
  virtual ~LiteralSink() = default;
  /// `seq`: the FETCH's sequence number; `item`: the item as sent before the literal, e.g.
  /// "BODY[]", "BODY[HEADER]<0>", "BINARY[1]", "RFC822" (the UID may come later in the same
  /// FETCH: correlate by seq, or by the FetchData returned afterwards). The string_view is
  /// valid only during the call.
  virtual Status begin(SeqNum seq, std::string_view item, std::uint64_t size) = 0;
  /// Next piece of the literal's octets (valid only during the call); never empty.
  virtual Status chunk(std::string_view data) = 0;
  virtual Status end() = 0;
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});
  ~ResponseParser();
  ResponseParser(ResponseParser&&) noexcept;
  ResponseParser& operator=(ResponseParser&&) noexcept;
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  /// Installs (or, with nullptr, removes) a sink for FETCH body literals: BODY[…], BINARY[…],
  /// RFC822, RFC822.TEXT/HEADER values of at least `threshold` octets are streamed, smaller
  /// ones buffered. The sink must outlive its installation.
  void set_literal_sink(LiteralSink* sink, std::uint64_t threshold = 0);

  /// Appends bytes read from the connection. Cheap (one copy); parsing happens in next().
  void feed(std::string_view bytes);

  /// Parses the next complete response into `out`, reusing its storage when `out` already
  /// holds the same alternative (no allocation for repeated flag FETCHes).
  ParseStatus next(Response& out);

  /// Convenience: a response, nullopt for NeedMore, or the Error.
  Result<std::optional<Response>> next();

  /// The error after ParseStatus::Error.
  [[nodiscard]] const Error& error() const;
  [[nodiscard]] bool failed() const;
  /// Octets consumed from the stream so far (offset of the next unparsed byte).
  [[nodiscard]] std::uint64_t consumed() const;
  /// Octets fed but not yet consumed by a returned response.
  [[nodiscard]] std::uint64_t buffered() const;
  [[nodiscard]] const ParserLimits& limits() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses exactly one complete response (with its CRLF). Error if incomplete or if bytes
/// remain. For tests and one-off lines; limits as for ResponseParser.
Result<Response> parse_response(std::string_view bytes, ParserLimits limits = {});

}  // namespace twinbox::imap
