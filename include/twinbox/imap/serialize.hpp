#pragma once
/// Client command serializer (RFC 3501 §9, RFC 7888 LITERAL+/LITERAL-, RFC 3516 literal8).
///
/// CommandBuilder appends arguments, choosing the wire form per string, and produces a
/// WireCommand: a list of segments to send in order. A segment flagged await_continuation
/// ends with a synchronizing literal header `{n}` CRLF: after sending it the client must wait
/// for a `+` continuation before it sends the next segment (RFC 3501 §7.5); only one command
/// at a time may wait (RFC 3501 §5.5). Literal bodies are separate segments and may be shared
/// or borrowed instead of copied, since APPEND bodies can be large.
///
///   CommandBuilder b("a7", "UID STORE", {.literals = LiteralMode::Plus});
///   b.seqset(uids).atom("+FLAGS.SILENT").flags({"\\Seen", "$Junk"});
///   auto cmd = b.build();   // Result<WireCommand>: "a7 UID STORE 1:3 +FLAGS.SILENT (\Seen $Junk)\r\n"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/imap/seqset.hpp>

namespace twinbox::imap {

/// How the builder writes literals (RFC 7888).
enum class LiteralMode {
  Sync,   ///< `{n}`, always wait for `+` (plain IMAP4rev1)
  Plus,   ///< LITERAL+: `{n+}` for any size, never wait
  Minus,  ///< LITERAL-: `{n+}` for n <= 4096, `{n}` (wait) above (RFC 7888 §5)
};

/// Largest non-synchronizing literal a LITERAL- server accepts (RFC 7888 §5).
inline constexpr std::size_t kLiteralMinusMax = 4096;
/// Default command-line budget excluding literals (RFC 7162 §4 recommends <= 8192 octets).
inline constexpr std::size_t kDefaultLineLimit = 8192;
/// Strings longer than this are sent as literals even when they could be quoted.
inline constexpr std::size_t kMaxQuotedLength = 1024;

struct BuilderOptions {
  LiteralMode literals = LiteralMode::Sync;
  /// After ENABLE UTF8=ACCEPT (RFC 6855 §3) quoted strings may carry UTF-8; otherwise any
  /// 8-bit byte forces a literal.
  bool utf8_quoted = false;
};

/// One piece of a command on the wire.
struct Segment {
  /// Owned text, a shared literal body (not copied), or a literal body borrowed from the
  /// caller, who must keep it alive until the segment has been written.
  std::variant<std::string, std::shared_ptr<const std::string>, std::string_view> data;
  /// After writing this segment the client must wait for a `+` continuation (or the tagged
  /// NO/BAD that refuses the literal) before writing the next segment.
  bool await_continuation = false;

  [[nodiscard]] std::string_view bytes() const;
};

struct WireCommand {
  std::string tag;
  std::vector<Segment> segments;

  /// True when some segment waits for a continuation (the command holds a sync literal).
  [[nodiscard]] bool needs_continuation() const;
  /// All bytes concatenated (for logs and tests; copies the literal bodies).
  [[nodiscard]] std::string flatten() const;
  /// Total bytes to send.
  [[nodiscard]] std::size_t size() const;
};

/// Builds one tagged command. Arguments are separated by one SP automatically; inside a
/// list no SP follows "(" or precedes ")". Methods that cannot encode their input record the
/// first error, which build() returns (Errc::Internal: the caller passed something IMAP
/// cannot carry, e.g. a flag with a space or a NUL byte in a string).
class CommandBuilder {
 public:
  /// `name` is the command text, e.g. "SELECT" or "UID FETCH" (written verbatim).
  CommandBuilder(std::string_view tag, std::string_view name, BuilderOptions options = {});

  /// An atom written verbatim; every byte must be an ATOM-CHAR (or "]", "[" for fetch
  /// attributes such as BODY.PEEK[] are better passed to raw()).
  CommandBuilder& atom(std::string_view a);
  /// astring (RFC 3501 §9): atom if every byte is an ATOM-CHAR, the text is not "NIL"
  /// (any case) and holds no "[" (quoted so that no name can be read as a fetch section);
  /// else quoted if it is printable 7-bit (or UTF-8 with utf8_quoted) and at most
  /// kMaxQuotedLength long; else a literal. "" is written `""`.
  CommandBuilder& astring(std::string_view s);
  /// string: quoted or literal, never an atom (e.g. SEARCH text, LOGIN password may be).
  CommandBuilder& string(std::string_view s);
  /// A mailbox name, already in wire form (modified UTF-7 via utf7_encode, or UTF-8 after
  /// UTF8=ACCEPT). Written as an astring.
  CommandBuilder& mailbox(std::string_view wire_name) { return astring(wire_name); }
  /// nstring: NIL when empty optional, else string().
  CommandBuilder& nstring(const std::optional<std::string_view>& s);
  CommandBuilder& nil();
  CommandBuilder& number(std::uint64_t n);
  /// A sequence set in ascending compacted form; an empty set is an error (no IMAP form).
  CommandBuilder& seqset(const SeqSet& set);
  /// One flag: `\Word` or a keyword atom; never quoted (RFC 3501 §9 flag).
  CommandBuilder& flag(std::string_view f);
  /// A parenthesised flag list `(\Seen $Junk)`; `()` when empty.
  CommandBuilder& flags(const std::vector<std::string>& fs);
  CommandBuilder& begin_list();
  CommandBuilder& end_list();
  /// Text written verbatim after the usual separator, e.g. "BODY.PEEK[HEADER]<0.100>" or
  /// "(UID FLAGS)". The caller guarantees it is valid and holds no CR/LF.
  CommandBuilder& raw(std::string_view text);
  /// Text written verbatim with no separator before it.
  CommandBuilder& glue(std::string_view text);
  /// Literal `{n}` / `{n+}` per LiteralMode. The copied / shared / borrowed forms differ only
  /// in who owns the body. NUL bytes are refused: use literal8 for them (BINARY, RFC 3516).
  CommandBuilder& literal(std::string_view body);
  CommandBuilder& literal(std::shared_ptr<const std::string> body);
  CommandBuilder& literal_ref(std::string_view body);
  /// literal8 `~{n}` / `~{n+}` (RFC 3516, RFC 4466; APPEND UTF8 (~{n}) in RFC 6855 §4).
  CommandBuilder& literal8(std::shared_ptr<const std::string> body);
  CommandBuilder& literal8_ref(std::string_view body);

  /// Appends CRLF and returns the segments, or the first recorded error.
  Result<WireCommand> build();

 private:
  void separate();
  void put_literal(std::size_t n, bool literal8, Segment body);
  void set_error(std::string message);
  void quoted(std::string_view s);
  void string_or_literal(std::string_view s);

  BuilderOptions options_;
  WireCommand cmd_;
  std::string text_;  // pending text not yet in a segment
  bool need_space_ = false;
  int depth_ = 0;
  std::optional<std::string> error_;
};

/// Splits a UID set into pieces that each fit a command line of `line_limit` octets when
/// `reserved` octets go to the tag, command name and other arguments (RFC 7162 §4). Every
/// piece is non-empty; a single range always forms a piece of its own if need be.
std::vector<SeqSet> split_uid_set(const SeqSet& set, std::size_t line_limit = kDefaultLineLimit,
                                  std::size_t reserved = 256);

}  // namespace twinbox::imap
