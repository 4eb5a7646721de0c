#pragma once
/// Reading client commands and writing server responses on the wire (RFC 3501 §4, §9).
///
/// CommandFramer finds where one complete command ends in the input buffer: a line, and
/// after every line that ends in a literal marker `{n}` / `{n+}` (RFC 3501 §4.3, RFC 7888)
/// n octets of literal data and the next line. It reports when a `+` continuation is owed
/// for a synchronizing literal, and enforces the line and literal limits.
///
/// Cursor parses the arguments of one framed command (literals are read in place: the
/// text `{n}\r\n` followed by n octets). Every accessor returns nullopt on a syntax error
/// and leaves a description in error(), with the byte offset and an excerpt.
/// string_views returned by a Cursor point into the command text it was given.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twinbox::server {

struct FrameLimits {
  std::size_t max_line = 64 * 1024;            ///< octets of one line without literals
  std::uint64_t max_literal = 64 * 1024 * 1024;  ///< octets of one literal
  /// `{n+}` allowed (LITERAL+ advertised, RFC 7888). When false such a literal is still read
  /// (the client sends it without waiting, so it must not be taken for commands) and the
  /// command is refused: nonsync_refused().
  bool non_sync_literals = true;
};

class CommandFramer {
 public:
  enum class State {
    NeedMore,      ///< wait for more input
    Complete,      ///< command() holds a whole command (without its final CRLF)
    Continuation,  ///< send "+ …" now (synchronizing literal), then keep feeding
    LineTooLong,   ///< the current line is over max_line; discard it (skip_line) and answer BAD
    LiteralTooBig, ///< the literal announced is over max_literal
  };

  explicit CommandFramer(FrameLimits limits = {}) : limits_(limits) {}

  /// Examines `buf` (the session's input buffer, starting at a command start).
  State scan(std::string_view buf);
  /// Octets of buf that make up the complete command including the final CRLF.
  [[nodiscard]] std::size_t consumed() const { return consumed_; }
  /// Size of the literal that was refused (LiteralTooBig) and whether it was non-synchronizing.
  [[nodiscard]] std::uint64_t literal_size() const { return literal_size_; }
  [[nodiscard]] bool literal_plus() const { return literal_plus_; }
  /// The complete command used `{n+}` although FrameLimits::non_sync_literals is false.
  [[nodiscard]] bool nonsync_refused() const { return nonsync_refused_; }
  /// Octets of the current line that were scanned so far (to recover the tag of a bad line).
  /// Resets for the next command.
  void reset();

 private:
  FrameLimits limits_;
  std::size_t scan_pos_ = 0;      // where the next line starts
  std::size_t literal_end_ = 0;   // when > 0: waiting for literal octets up to here
  bool continuation_sent_ = false;
  std::size_t consumed_ = 0;
  std::uint64_t literal_size_ = 0;
  bool literal_plus_ = false;
  bool nonsync_refused_ = false;
};

/// Where a line ending in a literal marker announces one: the literal size and whether it
/// is non-synchronizing (`{n+}`). nullopt when the line does not end in a marker.
struct LiteralMarker {
  std::uint64_t size = 0;
  bool plus = false;
};
std::optional<LiteralMarker> trailing_literal(std::string_view line);

class Cursor {
 public:
  explicit Cursor(std::string_view text) : s_(text) {}

  [[nodiscard]] bool at_end() const { return i_ >= s_.size(); }
  [[nodiscard]] std::size_t pos() const { return i_; }
  void set_pos(std::size_t p) { i_ = p; }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : s_[i_]; }
  [[nodiscard]] std::string_view rest() const { return s_.substr(i_); }
  bool eat(char c);
  /// Consumes `word` case-insensitively when it is next and followed by a non-atom char.
  bool eat_word(std::string_view word);
  /// Exactly one SP.
  bool sp();
  /// 1*ATOM-CHAR; with allow_bracket also ']' (ASTRING-CHAR).
  std::optional<std::string_view> atom(bool allow_bracket = false);
  /// tag = 1*<ASTRING-CHAR except "+">.
  std::optional<std::string_view> tag();
  /// quoted / literal.
  std::optional<std::string> string();
  /// atom (with ']') / string.
  std::optional<std::string> astring();
  /// list-mailbox = 1*list-char / string (list-char adds '%', '*').
  std::optional<std::string> list_mailbox();
  /// NIL or string; the outer optional is the syntax result.
  std::optional<std::optional<std::string>> nstring();
  std::optional<std::uint32_t> number();
  std::optional<std::uint32_t> nz_number();
  std::optional<std::uint64_t> number64();
  /// sequence-set text: 1*(digit / ":" / "," / "*" / "$"), unvalidated.
  std::optional<std::string_view> seqset_text();
  /// flag = "\" atom / atom; also "\*" when allow_star.
  std::optional<std::string> flag(bool allow_star = false);
  /// Remaining text must be empty: the command ended.
  bool end();

  /// Records an error at the current offset (first error wins) and returns nullopt-friendly false.
  bool fail(std::string_view what);
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::optional<std::string> quoted();
  std::optional<std::string> literal();
  std::string_view s_;
  std::size_t i_ = 0;
  std::string error_;
};

/// ATOM-CHAR per RFC 3501 §9 (7-bit, no CTL, none of `(){ %*"\]`).
bool is_atom_char(unsigned char c);

// --- response writing ---------------------------------------------------------------------

/// Appends `s` as an IMAP string: quoted when printable 7-bit, else a literal.
void write_string(std::string& out, std::string_view s);
/// Appends `s` as an astring: an atom when possible (not "NIL", non-empty), else write_string.
void write_astring(std::string& out, std::string_view s);
/// Appends `s` as a mailbox name (astring; "INBOX" stays an atom).
void write_mailbox(std::string& out, std::string_view s);
/// Appends NIL or a string.
void write_nstring(std::string& out, const std::optional<std::string>& s);
/// Appends a literal {n}CRLF + bytes.
void write_literal(std::string& out, std::string_view s);

/// Case-insensitive ASCII compare (defined in mime.cpp).
bool iequals(std::string_view a, std::string_view b);
std::string to_upper(std::string_view s);

}  // namespace twinbox::server
