#pragma once
/// Incremental parser of CLIENT commands, for the embedded server (RFC 3501 §9 `command`,
/// RFC 7888 non-synchronizing literals, RFC 4466 literal8).
///
/// Feed bytes in any split with feed(); call next() until it returns NeedMore. Each call
/// yields one step:
///   NeedMore          no complete command (or event) in the buffer yet;
///   ContinuationOwed  a synchronizing literal `{n}` was announced: send "+ Ready" (or
///                     similar) before the client will send its n octets;
///   Command           a complete command;
///   CommandBad        the command is malformed or over a limit: answer `tag BAD reason`
///                     (`* BAD` when tag is empty). Unless must_close, the parser has skipped
///                     the whole command and goes on with the next one; when must_close the
///                     peer's byte stream cannot be resynchronised (line or non-synchronizing
///                     literal over the limit): send BYE and close. Every later next() repeats
///                     that error.
///
/// Arg grammar produced (a generic tree; the server interprets it per command):
///
///   command = tag SP name *(SP arg) [SP] CRLF      ; LF alone is accepted as line end
///   tag     = 1*<ASTRING-CHAR except "+">
///   name    = atom, uppercased (UID, UID FETCH: name "UID", first arg atom "FETCH")
///   arg     = Atom / Number / Quoted / Literal / Nil / List / Atom Section
///   Atom    = ["\"] 1*(ATOM-CHAR / "%" / "*" / "]"): astrings, flags, sequence sets and
///             LIST patterns alike; inside a Section "]" ends the atom.
///             e.g. FLAGS  +FLAGS.SILENT  \Seen  1:*,5  $  INBOX  2024:Q1  %  foo[bar]
///   Number  = an atom of 1…20 digits that fits in 64 bits (text keeps the spelling)
///   Nil     = the atom NIL in any case; text keeps the spelling, because where the grammar
///             wants an astring (a mailbox or keyword named NIL) it is a real name
///   Quoted  = DQUOTE *(QUOTED-CHAR / "\" DQUOTE / "\\") DQUOTE, text unescaped; 8-bit
///             bytes are accepted (UTF8=ACCEPT), NUL is not
///   Literal = "{" number ["+"] "}" CRLF octets  /  "~{" number ["+"] "}" CRLF octets
///             (literal8 = true); text holds the octets
///   List    = "(" [arg *(SP arg)] ")"
///   Section = "[" [arg *(SP arg)] "]" ["<" number ["." number] ">"]
///             only directly after the atoms BODY, BODY.PEEK, BINARY, BINARY.PEEK and
///             BINARY.SIZE (any case), e.g. BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> gives
///             Atom "BODY.PEEK", Section{children: Atom "HEADER.FIELDS",
///             List(Atom "DATE", Atom "FROM")}, partial {0, 100}. BODY[] gives an empty
///             Section. Everywhere else "[" is an ordinary ATOM-CHAR.
///
/// Limits (CommandLimits) are checked while bytes arrive: total command text excluding
/// literal octets, each literal's size, list/section nesting depth and the number of args
/// (all nodes of the tree). Memory use is bounded by max_line plus the literals kept.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <twinbox/base/result.hpp>

namespace twinbox::imap {

/// `<offset.length>` of a fetch section (RFC 3501 §6.4.5); length absent for `<offset>`.
struct Partial {
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
  bool operator==(const Partial&) const = default;
};

struct Arg {
  enum class Kind : std::uint8_t { Atom, Number, Quoted, Literal, Nil, List, Section };
  Kind kind = Kind::Atom;
  /// Atom/Number/Nil: the text as sent. Quoted: unescaped. Literal: the octets.
  /// List/Section: empty.
  std::string text;
  std::uint64_t number = 0;        ///< Number only
  bool literal8 = false;           ///< Literal only: sent as ~{n}
  std::vector<Arg> children;       ///< List items, or the Section's bracket content
  std::optional<Partial> partial;  ///< Section only

  /// The value where the grammar wants an astring (Atom, Number, Nil, Quoted, Literal).
  [[nodiscard]] std::optional<std::string_view> as_astring() const;
  /// The value where the grammar wants a string (Quoted or Literal only).
  [[nodiscard]] std::optional<std::string_view> as_string() const;
  [[nodiscard]] bool is_atom(std::string_view upper) const;  ///< Atom equal, case-insensitive

  static Arg atom(std::string text);
  static Arg num(std::uint64_t n);
  static Arg quoted(std::string text);
  static Arg literal(std::string bytes, bool literal8 = false);
  static Arg nil(std::string text = "NIL");
  static Arg list(std::vector<Arg> items);
  static Arg section(std::vector<Arg> items, std::optional<Partial> partial = std::nullopt);

  bool operator==(const Arg&) const = default;
};

struct Command {
  std::string tag;
  std::string name;  ///< uppercased
  std::vector<Arg> args;
  bool operator==(const Command&) const = default;
};

/// Readable one-line forms for test diffs and logs, e.g. `a1 FETCH [1:3, (UID, BODY.PEEK,
/// [HEADER])]`; strings are shown quoted with escapes, literals as {n}"…".
std::ostream& operator<<(std::ostream& os, const Arg& a);
std::ostream& operator<<(std::ostream& os, const Command& c);

struct CommandLimits {
  std::size_t max_line = 64 * 1024;             ///< command text, literals excluded
  std::uint64_t max_literal = 64 * 1024 * 1024;  ///< one literal's octets
  /// Largest accepted `{n+}`; a server that advertises LITERAL- sets 4096 (RFC 7888 §5).
  std::uint64_t max_nonsync_literal = 64 * 1024 * 1024;
  std::size_t max_depth = 16;   ///< nesting of lists and sections
  std::size_t max_args = 4096;  ///< nodes in the arg tree
};

/// Why a command was refused (the server picks the response code, e.g. [TOOBIG], [LIMIT]).
enum class BadKind : std::uint8_t { Syntax, LineTooLong, LiteralTooBig, TooDeep, TooManyArgs };

struct CommandBad {
  std::string tag;     ///< empty if it could not be read
  std::string reason;  ///< says what is wrong, with byte offset and excerpt
  BadKind kind = BadKind::Syntax;
  bool must_close = false;
  bool operator==(const CommandBad&) const = default;
};

struct NeedMore {
  bool operator==(const NeedMore&) const = default;
};
struct ContinuationOwed {
  std::uint64_t literal_size = 0;
  bool operator==(const ContinuationOwed&) const = default;
};

using CommandStep = std::variant<NeedMore, ContinuationOwed, Command, CommandBad>;

class CommandParser {
 public:
  explicit CommandParser(CommandLimits limits = {});
  ~CommandParser();
  CommandParser(CommandParser&&) noexcept;
  CommandParser& operator=(CommandParser&&) noexcept;

  /// Appends bytes; never parses by itself.
  void feed(std::string_view bytes);
  /// Advances as far as the buffered bytes allow and returns the next step (see top).
  CommandStep next();
  /// True between a ContinuationOwed step and the first octet of that literal.
  [[nodiscard]] bool continuation_owed() const;
  /// Raw-line mode, for AUTHENTICATE responses (RFC 3501 §6.2.2) and IDLE's "DONE"
  /// (RFC 2177): the next complete line without its CRLF, nullopt if none is buffered yet,
  /// or an Errc::Limit error (connection scope) if it exceeds max_line. Only call it
  /// between commands (never while a command is half read).
  Result<std::optional<std::string>> next_line();
  /// Bytes buffered but not yet consumed.
  [[nodiscard]] std::size_t buffered() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinbox::imap
