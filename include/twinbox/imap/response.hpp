#pragma once
/// Typed server responses (RFC 3501 §7, RFC 9051 §7 and the extensions in PROTOCOL.md §3).
/// A Response is a std::variant of plain structs; read it with std::visit or std::get_if.
/// Produced by ResponseParser (parser.hpp), which reuses the storage of the Response it is
/// given, so a client that keeps one Response object parses flag FETCHes without allocating.
///
/// Conventions: IMAP numbers are strong types; an absent optional item is std::nullopt; NIL
/// nstrings are std::nullopt; names of items and codes are kept as sent but compared
/// case-insensitively by the parser. Unknown untagged responses, FETCH items and response
/// codes are kept raw (RFC 9051 App. E item 22: ignore what you do not understand).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/seqset.hpp>

namespace twinbox::imap {

/// OK / NO / BAD (tagged or untagged), BYE and PREAUTH (untagged only).
enum class Cond : std::uint8_t { Ok, No, Bad, Bye, Preauth };
std::string_view to_string(Cond c);

/// One run `a` or `a:b` of a UID set as sent (a may exceed b), kept in wire order because
/// COPYUID's two sets are parallel lists (RFC 4315 §3) that must be zipped in that order.
struct UidRun {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  bool operator==(const UidRun&) const = default;
};

/// A response code `[ATOM args]` (RFC 3501 §7.1, RFC 5530, RFC 7162 §7, RFC 4315 §3,
/// RFC 8474, RFC 5465, RFC 4978). Only the fields of `kind` are meaningful.
struct ResponseCode {
  enum class Kind : std::uint8_t {
    None,  ///< no `[...]` in the text
    Alert, BadCharset, Capability, Parse, PermanentFlags, ReadOnly, ReadWrite, TryCreate,
    UidNext, UidValidity, Unseen, HighestModSeq, NoModSeq, Modified, AppendUid, CopyUid,
    Closed, UidNotSticky, MailboxId, AlreadyExists, NonExistent, OverQuota, Limit, InUse,
    ExpungeIssued, CompressionActive, NotificationOverflow, BadEvent,
    AuthenticationFailed, Unavailable, Expired, PrivacyRequired, ContactAdmin,
    Other,  ///< unknown code: see `atom` and `raw`
  };
  Kind kind = Kind::None;
  std::string atom;  ///< the code name as sent ("UIDNEXT", "X-FOO")
  std::string raw;   ///< argument text between the atom and `]` (all codes; may be empty)
  std::vector<std::string> capabilities;  ///< CAPABILITY
  std::vector<std::string> charsets;      ///< BADCHARSET (optional list)
  FlagSet flags;                          ///< PERMANENTFLAGS (may hold `\*`)
  std::uint32_t number = 0;               ///< UIDNEXT, UIDVALIDITY, UNSEEN
  ModSeq modseq;                          ///< HIGHESTMODSEQ
  SeqSet set;                             ///< MODIFIED (UIDs, or seq numbers after STORE)
  UidValidity uidvalidity;                ///< APPENDUID, COPYUID
  SeqSet src_uids;                        ///< COPYUID source set (normalised)
  SeqSet dst_uids;                        ///< APPENDUID / COPYUID destination (normalised)
  std::vector<UidRun> src_runs;           ///< COPYUID source set in wire order
  std::vector<UidRun> dst_runs;           ///< APPENDUID / COPYUID destination in wire order
  std::string mailbox_id;                 ///< MAILBOXID (RFC 8474 §4)

  bool operator==(const ResponseCode&) const = default;
};

/// `tag OK|NO|BAD [code] text` (RFC 3501 §7.1).
struct Tagged {
  std::string tag;
  Cond cond = Cond::Ok;
  ResponseCode code;
  std::string text;  ///< may be empty (Gmail `[HIGHESTMODSEQ n]` with no text)
  bool operator==(const Tagged&) const = default;
};

/// `* OK|NO|BAD|BYE|PREAUTH [code] text` (RFC 3501 §7.1).
struct Condition {
  Cond cond = Cond::Ok;
  ResponseCode code;
  std::string text;
  bool operator==(const Condition&) const = default;
};

/// `+ text` or `+ base64` (RFC 3501 §7.5): an opaque payload, possibly empty.
struct Continuation {
  std::string text;
  bool operator==(const Continuation&) const = default;
};

/// `* CAPABILITY atoms` (RFC 3501 §7.2.1). See CapabilitySet in capability.hpp.
struct CapabilityData {
  std::vector<std::string> capabilities;
  bool operator==(const CapabilityData&) const = default;
};

/// `* ENABLED atoms` (RFC 5161 §3.2).
struct EnabledData {
  std::vector<std::string> capabilities;
  bool operator==(const EnabledData&) const = default;
};

/// `* n EXISTS` (RFC 3501 §7.3.1); n may be 0.
struct ExistsData {
  std::uint32_t count = 0;
  bool operator==(const ExistsData&) const = default;
};

/// `* n RECENT` (RFC 3501 §7.3.2); n may be 0.
struct RecentData {
  std::uint32_t count = 0;
  bool operator==(const RecentData&) const = default;
};

/// `* n EXPUNGE` (RFC 3501 §7.4.1): renumbers every later message.
struct ExpungeData {
  SeqNum seq;
  bool operator==(const ExpungeData&) const = default;
};

/// `* VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10). EARLIER answers a question and does
/// not change EXISTS; without it, it is a live expunge.
struct VanishedData {
  bool earlier = false;
  SeqSet uids;
  bool operator==(const VanishedData&) const = default;
};

/// An RFC 5322 address in an ENVELOPE (RFC 3501 §7.4.2 `address`).
struct Address {
  std::optional<std::string> name, adl, mailbox, host;
  bool operator==(const Address&) const = default;
};

/// ENVELOPE (RFC 3501 §7.4.2). String fields are NIL → nullopt; address lists NIL → empty.
struct Envelope {
  std::optional<std::string> date, subject;
  std::vector<Address> from, sender, reply_to, to, cc, bcc;
  std::optional<std::string> in_reply_to, message_id;
  bool operator==(const Envelope&) const = default;
};

/// A body-ish FETCH item: `BODY[section]<origin>`, `BINARY[section]<origin>`, `RFC822`,
/// `RFC822.HEADER`, `RFC822.TEXT` (RFC 3501 §7.4.2, RFC 3516 §4.2).
struct FetchBody {
  std::string item;     ///< "BODY", "BINARY", "RFC822", "RFC822.HEADER", "RFC822.TEXT" (upper case)
  std::string section;  ///< text between `[` and `]`, as sent ("" for BODY[])
  std::optional<std::uint32_t> origin;  ///< `<n>` of a partial fetch
  std::optional<std::string> data;      ///< nullopt when NIL or streamed
  bool streamed = false;  ///< the bytes went to the LiteralSink (parser.hpp), not into `data`
  std::uint64_t size = 0; ///< octets of the value (buffered or streamed; 0 for NIL)
  bool operator==(const FetchBody&) const = default;
};

/// An unknown FETCH item kept raw: its name and the value's text as sent.
struct FetchOther {
  std::string name;
  std::string raw;
  bool operator==(const FetchOther&) const = default;
};

/// `* n FETCH (...)` (RFC 3501 §7.4.2, RFC 7162 §3.1.4, RFC 8474 §5, Gmail X-GM-EXT-1).
/// Rev1 unsolicited FETCH may lack UID (PROTOCOL.md §3): `uid` is then nullopt.
struct FetchData {
  SeqNum seq;
  std::optional<Uid> uid;
  bool has_flags = false;  ///< a FLAGS item was present (flags may still be empty)
  FlagSet flags;           ///< includes `\Recent` when sent; strip it before syncing
  std::optional<ModSeq> modseq;
  std::optional<std::string> internal_date;  ///< as sent, e.g. "17-Jul-1996 02:44:25 -0700"
  std::optional<std::uint64_t> rfc822_size;
  std::vector<FetchBody> bodies;
  std::optional<Envelope> envelope;
  std::optional<std::string> bodystructure;  ///< BODYSTRUCTURE or BODY value, raw `(...)` text
  std::optional<std::string> email_id;       ///< EMAILID (RFC 8474 §5.1)
  std::optional<std::string> thread_id;      ///< THREADID (NIL → nullopt)
  std::optional<std::uint64_t> gm_msgid;     ///< X-GM-MSGID
  std::optional<std::uint64_t> gm_thrid;     ///< X-GM-THRID
  std::optional<std::vector<std::string>> gm_labels;  ///< X-GM-LABELS, as sent (`\Inbox`, names)
  std::vector<FetchOther> other;

  /// Resets every field but keeps allocated capacity (hot path, no allocation).
  void clear();
  bool operator==(const FetchData&) const = default;
};

/// CHILDINFO/OLDNAME and other LIST extended data (RFC 5258 §3.5, RFC 5465 §5.4).
struct ListExtended {
  std::string tag;
  std::string raw;  ///< value text as sent
  bool operator==(const ListExtended&) const = default;
};

/// `* LIST (attrs) delim name [ext]` and `* LSUB …`, `* XLIST …` (RFC 3501 §7.2.2, RFC 5258).
struct ListData {
  enum class Kind : std::uint8_t { List, Lsub, Xlist };
  Kind kind = Kind::List;
  std::vector<std::string> attributes;  ///< `\HasNoChildren`, `\Sent`, … as sent
  std::optional<char> delimiter;        ///< nullopt for NIL (flat namespace)
  std::string mailbox;                  ///< raw wire name (modified UTF-7 or UTF-8), unescaped
  std::vector<std::string> child_info;  ///< CHILDINFO values, e.g. "SUBSCRIBED"
  std::optional<std::string> old_name;  ///< OLDNAME (RFC 5465 §5.4)
  std::vector<ListExtended> extended;   ///< other extended items
  /// True when `attr` (e.g. "\\Noselect") is present, ignoring case.
  [[nodiscard]] bool has_attribute(std::string_view attr) const;
  bool operator==(const ListData&) const = default;
};

/// `* STATUS name (items)` (RFC 3501 §7.2.4, RFC 7162 §3.1.7, RFC 8438, RFC 8474). Lines from
/// NOTIFY may be partial (PROTOCOL.md §1.11): every item is optional.
struct StatusData {
  std::string mailbox;
  std::optional<std::uint32_t> messages, recent, unseen, deleted;
  std::optional<Uid> uid_next;
  std::optional<UidValidity> uid_validity;
  std::optional<ModSeq> highest_modseq;  ///< 0 = no persistent modseqs (RFC 7162 §3.1.7)
  std::optional<std::uint64_t> size;
  std::optional<std::string> mailbox_id;
  std::vector<FetchOther> other;
  bool operator==(const StatusData&) const = default;
};

/// `* SEARCH n… [(MODSEQ m)]` (RFC 3501 §7.2.5, RFC 7162 §3.1.5). Numbers are UIDs or
/// sequence numbers depending on the command.
struct SearchData {
  SeqSet ids;
  std::optional<ModSeq> modseq;
  bool operator==(const SearchData&) const = default;
};

/// `* ESEARCH [(TAG "t")] [UID] (name value)*` (RFC 4731 §3.1, RFC 7162 §3.1.5).
struct ESearchData {
  std::optional<std::string> tag;
  bool uid = false;
  std::optional<std::uint32_t> min, max, count;
  std::optional<SeqSet> all;
  std::optional<ModSeq> modseq;
  std::vector<FetchOther> other;
  bool operator==(const ESearchData&) const = default;
};

/// One namespace description `("prefix" "delim" ext…)` (RFC 2342 §5).
struct NamespaceDesc {
  std::string prefix;
  std::optional<char> delimiter;
  std::string extensions_raw;  ///< namespace-response-extensions as sent (may be empty)
  bool operator==(const NamespaceDesc&) const = default;
};

/// `* NAMESPACE personal other shared` (RFC 2342 §5); NIL → empty list.
struct NamespaceData {
  std::vector<NamespaceDesc> personal, other_users, shared;
  bool operator==(const NamespaceData&) const = default;
};

/// `* ID (key value …)` or `* ID NIL` (RFC 2971 §3.2).
struct IdData {
  std::vector<std::pair<std::string, std::optional<std::string>>> params;
  bool operator==(const IdData&) const = default;
};

/// `* FLAGS (flags)` (RFC 3501 §7.2.6).
struct FlagsData {
  FlagSet flags;
  bool operator==(const FlagsData&) const = default;
};

/// Any other untagged response (`* QUOTA …`, `* METADATA …`, `* 3 XFOO`): kept raw.
struct UnknownData {
  std::string name;  ///< the keyword (for `* n NAME …`, NAME)
  std::optional<std::uint32_t> number;  ///< the leading number, if any
  std::string raw;   ///< the rest of the line after the keyword (literals inline)
  bool operator==(const UnknownData&) const = default;
};

using Response =
    std::variant<Tagged, Condition, Continuation, CapabilityData, EnabledData, ExistsData,
                 RecentData, ExpungeData, VanishedData, FetchData, ListData, StatusData,
                 SearchData, ESearchData, NamespaceData, IdData, FlagsData, UnknownData>;

/// Zips COPYUID's two UID sets in wire order (RFC 4315 §3). Error (Errc::Protocol) when the
/// cardinalities differ or exceed `max_pairs`.
Result<std::vector<std::pair<Uid, Uid>>> copyuid_pairs(const ResponseCode& code,
                                                        std::uint64_t max_pairs = 1000000);

/// Short human-readable form for logs and test diagnostics (not wire syntax).
std::string describe(const Response& r);

}  // namespace twinbox::imap
