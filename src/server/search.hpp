#pragma once
/// SEARCH keys (RFC 3501 §6.4.4 and §9 search-key; MODSEQ from RFC 7162 §3.1.5): an AST, a
/// parser from a generic token list, and an evaluator over one message.
///
/// The parser takes tokens rather than text so it does not depend on the command parser's
/// types: the server turns its argument tree into SearchTokens (atoms, strings with quotes
/// and literals already decoded, and parentheses).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>

#include "message.hpp"

namespace twinbox::server {

struct SearchToken {
  enum class Kind { Atom, String, ListOpen, ListClose };
  Kind kind = Kind::Atom;
  std::string text;  ///< atom text or decoded string; empty for parentheses
  bool operator==(const SearchToken&) const = default;
};

/// A sequence set as written in a search key: ranges whose bounds may be `*` (kStar), resolved
/// against the mailbox at evaluation time (RFC 3501 §9 seq-range: `*` is the largest number in
/// use; `4:2` equals `2:4`).
struct SearchSet {
  static constexpr std::uint32_t kStar = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
  [[nodiscard]] bool contains(std::uint32_t n, std::uint32_t star_value) const;
  bool operator==(const SearchSet&) const = default;
};

enum class SearchOp {
  All, And, Or, Not,
  SeqSet, Uid,
  Answered, Deleted, Draft, Flagged, Recent, Seen, New, Old,
  Unanswered, Undeleted, Undraft, Unflagged, Unseen,
  Keyword, Unkeyword,
  Bcc, Body, Cc, From, Subject, Text, To, Header,
  Before, On, Since, SentBefore, SentOn, SentSince,
  Larger, Smaller,
  ModSeq,
  Saved,  ///< "$" (or "UID $"): the result saved by SEARCH RETURN (SAVE), RFC 5182 §2.3
};

struct SearchKey {
  SearchOp op = SearchOp::All;
  std::string text;   ///< string to find (case-folded UTF-8), keyword, or MODSEQ entry name
  std::string field;  ///< HEADER field name; MODSEQ entry type ("priv"/"shared"/"all")
  CivilDate date;     ///< date keys
  std::uint64_t number = 0;  ///< LARGER/SMALLER size, MODSEQ value
  SearchSet set;             ///< SeqSet / Uid
  std::vector<SearchKey> children;  ///< And: any number; Or: two; Not: one
  bool operator==(const SearchKey&) const = default;
};

struct SearchQuery {
  std::optional<std::string> charset;  ///< as given after CHARSET
  SearchKey root;                      ///< an And of the top-level keys
};

struct SearchLimits {
  std::size_t max_depth = 64;    ///< nesting of NOT / OR / parentheses
  std::size_t max_keys = 10000;  ///< keys in the whole query
};

/// Parses `["CHARSET" SP astring SP] search-key *(SP search-key)`. Keywords are
/// case-insensitive. Errors:
///   Errc::Capability — CHARSET other than US-ASCII / UTF-8: answer
///                      `NO [BADCHARSET (US-ASCII UTF-8)] <message>` (RFC 3501 §6.4.4);
///   Errc::Parse      — bad syntax: answer BAD <message> (names the token index and text);
///   Errc::Limit      — over SearchLimits: answer BAD.
Result<SearchQuery> parse_search(std::span<const SearchToken> tokens, const SearchLimits& limits = {});

/// Tokenizes search text the way an IMAP command line would (atoms, "quoted" strings,
/// {n}\r\n literals, parentheses). For tests, fuzzing and the server's convenience.
Result<std::vector<SearchToken>> tokenize_search(std::string_view text);

/// True when the query uses MODSEQ (the response then carries `(MODSEQ n)`, RFC 7162 §3.1.5).
bool uses_modseq(const SearchKey& key);
/// True when the query refers to the saved search result ("$", RFC 5182).
bool uses_saved(const SearchKey& key);

/// What the evaluator may ask about one message. `message` is called only when a key needs
/// the content (headers, body, sent date) and may return null when it cannot be loaded (then
/// content keys do not match); the caller should cache the parsed message.
struct MessageView {
  Uid uid;
  SeqNum seq;
  std::span<const std::string> flags;  ///< system flags and keywords (without \Recent)
  bool recent = false;
  DateTime internal_date;
  std::uint64_t size = 0;  ///< RFC822.SIZE
  ModSeq modseq;
  std::function<const Message*()> message;
};

/// Mailbox facts that `*` resolves to.
struct SearchContext {
  std::uint32_t max_seq = 0;  ///< EXISTS
  std::uint32_t max_uid = 0;  ///< highest UID in the mailbox
  /// UIDs of the saved search result ("$"), ascending; null: "$" matches nothing.
  const std::vector<std::uint32_t>* saved = nullptr;
};

/// Evaluates `key` on one message. String keys match case-insensitively as substrings of the
/// RFC 2047-decoded header values (FROM, TO, CC, BCC, SUBJECT, HEADER) or of the decoded text
/// parts (BODY; TEXT = header + body). Date keys compare calendar dates in the value's own
/// zone (RFC 3501 §6.4.4).
bool matches(const SearchKey& key, const MessageView& msg, const SearchContext& ctx);

}  // namespace twinbox::server
