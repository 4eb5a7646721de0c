#pragma once
/// A parsed RFC 5322 / MIME message as the embedded server needs it to answer FETCH
/// (RFC 3501 §6.4.5, §7.4.2) and SEARCH (§6.4.4). Pure library: no sockets, no SQLite.
///
/// The parser never fails and never throws on peer input: any byte string gives a tree
/// (garbage becomes a text/plain body). It tolerates CRLF and bare LF line ends, a missing
/// close delimiter, preambles and epilogues, RFC 2231 parameter continuations, and bounds
/// nesting (MimeLimits::max_depth) and the number of parts (MimeLimits::max_parts); a part
/// over a limit is kept as an opaque leaf. Time is O(depth × size), memory O(parts + headers).
///
/// A part records offsets (Span) into the message bytes, never copies of bodies. The small
/// decoded values (content type, parameters, ids) are owned strings.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twinbox::server {

/// Byte range [offset, offset + length) of the message bytes.
struct Span {
  std::size_t offset = 0;
  std::size_t length = 0;
  [[nodiscard]] std::size_t end() const { return offset + length; }
  bool operator==(const Span&) const = default;
};

struct MimeLimits {
  std::size_t max_depth = 32;      ///< multipart / message/rfc822 nesting
  std::size_t max_parts = 10000;   ///< body parts in the whole message
  std::size_t max_headers = 5000;  ///< header fields kept per part (the rest are ignored)
};

/// One header field. `name` is the field name as written (no colon); `value` is the raw
/// value after the colon, folding and trailing line end included (use unfold()); `whole` is
/// the field including its final line end, as BODY[HEADER.FIELDS] copies it.
struct HeaderField {
  Span name;
  Span value;
  Span whole;
};

/// `name=value` parameter of Content-Type / Content-Disposition. RFC 2231 continuations
/// (`name*0`, `name*1`…) are joined; an extended value (`name*0*`, `name*`) is reported as
/// `name*` with its raw `charset'lang'%XX` text, so the value stays 7-bit.
struct MimeParam {
  std::string name;
  std::string value;
  bool operator==(const MimeParam&) const = default;
};

struct Disposition {
  std::string type;  ///< e.g. "attachment", as written
  std::vector<MimeParam> params;
};

/// One body part (RFC 2045). For a message/rfc822 part, `children` holds exactly one part:
/// the encapsulated message, whose `header` is the inner message's header (an encoded or
/// too deeply nested one is kept opaque: empty header, text/plain body). For a multipart,
/// `children` holds its parts (at least one: a multipart whose body has no delimiter gets one
/// synthesized text/plain part over its whole body).
struct BodyPart {
  Span header;  ///< header block including the empty line that ends it (if present)
  Span body;    ///< content after the header; for multipart, between the delimiters
  std::vector<HeaderField> fields;

  std::string type = "TEXT";      ///< as written, default TEXT (RFC 2045 §5.2)
  std::string subtype = "PLAIN";  ///< as written, default PLAIN
  std::vector<MimeParam> params;  ///< default (CHARSET US-ASCII) for a defaulted text/plain
  std::optional<std::string> id;           ///< Content-ID, trimmed
  std::optional<std::string> description;  ///< Content-Description, unfolded, trimmed
  std::string encoding = "7BIT";           ///< Content-Transfer-Encoding as written
  std::optional<std::string> md5;          ///< Content-MD5
  std::optional<Disposition> disposition;  ///< Content-Disposition
  std::vector<std::string> language;       ///< Content-Language entries
  std::optional<std::string> location;     ///< Content-Location, unfolded
  std::uint64_t lines = 0;  ///< lines of the body (text/* and message/rfc822 only)
  std::vector<BodyPart> children;

  [[nodiscard]] bool is_multipart() const;
  [[nodiscard]] bool is_message_rfc822() const;  ///< message/rfc822 with a parsed child
  [[nodiscard]] bool is_text() const;
  /// Value of a Content-Type parameter (case-insensitive name), or nullopt.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
};

/// Calendar date (proleptic Gregorian), month 1-12.
struct CivilDate {
  int year = 1970;
  int month = 1;
  int day = 1;
  auto operator<=>(const CivilDate&) const = default;
};

/// A point in time with the zone it was written in (needed because SEARCH compares dates
/// "disregarding time and timezone", i.e. in the zone of the value, RFC 3501 §6.4.4).
struct DateTime {
  std::int64_t utc_seconds = 0;  ///< seconds since 1970-01-01T00:00:00Z
  int zone_minutes = 0;          ///< offset east of UTC, e.g. +0200 -> 120
  [[nodiscard]] CivilDate local_date() const;
  bool operator==(const DateTime&) const = default;
};

/// RFC 5322 §3.3 date-time, obsolete forms tolerated (§4.3: two-digit years, missing
/// weekday or seconds, alphabetic zones UT/GMT/EST…/military, comments, extra spaces).
/// nullopt when it is not a date at all.
std::optional<DateTime> parse_rfc5322_date(std::string_view text);
/// IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 3501 §9, day may be space-padded or
/// one digit), without the surrounding quotes.
std::optional<DateTime> parse_imap_datetime(std::string_view text);
/// Formats as IMAP date-time without quotes, e.g. "07-Feb-1994 21:52:25 -0800".
std::string format_imap_datetime(const DateTime& t);
/// IMAP search date "d-Mon-yyyy" (RFC 3501 §9 date-text, without quotes).
std::optional<CivilDate> parse_imap_date(std::string_view text);
/// Days since 1970-01-01 for a civil date, and back.
std::int64_t days_from_civil(const CivilDate& d);
CivilDate civil_from_days(std::int64_t days);

/// One address of an ENVELOPE (RFC 3501 §7.4.2 address). Group syntax: a group start has
/// only `mailbox` (the group name), a group end has nothing (all nullopt).
struct Address {
  std::optional<std::string> name;     ///< display name, quotes removed, RFC 2047 kept as is
  std::optional<std::string> adl;      ///< obsolete source route ("@a,@b")
  std::optional<std::string> mailbox;  ///< local part, or group name
  std::optional<std::string> host;     ///< domain; nullopt only for group markers
  bool operator==(const Address&) const = default;
};

/// Parses an RFC 5322 address-list (tolerant: obsolete routes, comments used as name when
/// there is no display name, missing host -> "MISSING_DOMAIN" as Dovecot does, empty members skipped).
std::vector<Address> parse_address_list(std::string_view text);

struct Envelope {
  std::optional<std::string> date, subject;
  std::vector<Address> from, sender, reply_to, to, cc, bcc;
  std::optional<std::string> in_reply_to, message_id;
};

/// A parsed message. Owns its bytes (parse) or views bytes the caller keeps alive (parse_view).
/// Move-only; string_views returned by its methods live as long as the Message (or, for
/// parse_view, as long as the caller's bytes).
class Message {
 public:
  static Message parse(std::string bytes, const MimeLimits& limits = {});
  static Message parse_view(std::string_view bytes, const MimeLimits& limits = {});

  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() = default;

  [[nodiscard]] std::string_view bytes() const { return view_; }
  [[nodiscard]] std::string_view slice(Span s) const;
  [[nodiscard]] const BodyPart& root() const { return *root_; }
  /// RFC822.SIZE.
  [[nodiscard]] std::uint64_t size() const { return view_.size(); }

  /// First field named `name` (case-insensitive) of `part` (root when null): raw value.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name,
                                                       const BodyPart* part = nullptr) const;
  /// The ENVELOPE of `part` (a message root or the child of a message/rfc822 part).
  [[nodiscard]] Envelope envelope(const BodyPart* part = nullptr) const;
  /// Date: header parsed (for SENTBEFORE/SENTON/SENTSINCE), nullopt when absent or bad.
  [[nodiscard]] std::optional<DateTime> sent_date() const;

 private:
  Message() = default;
  void build(const MimeLimits& limits);
  std::unique_ptr<std::string> owned_;  // heap-held so view_ survives moves
  std::string_view view_;
  std::unique_ptr<BodyPart> root_;
};

/// IMAP wire text of ENVELOPE (RFC 3501 §7.4.2), e.g. `("date" "subject" ((…)) …)`.
std::string serialize_envelope(const Envelope& env);
/// IMAP wire text of BODY (extensible = false) or BODYSTRUCTURE (extensible = true) of `part`
/// (the root when null). Strings are NIL, quoted, or a literal `{n}\r\n…` when they hold
/// 8-bit bytes, CR, LF or NUL.
std::string serialize_body_structure(const Message& msg, bool extensible,
                                     const BodyPart* part = nullptr);

/// Appends an IMAP nstring: NIL for nullopt, quoted when 7-bit printable, else a literal.
void append_nstring(std::string& out, const std::optional<std::string_view>& s);
void append_string(std::string& out, std::string_view s);

}  // namespace twinbox::server
