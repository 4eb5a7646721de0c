#pragma once
/// Plain values describing the embedded server's mail store, shared by the direct store API
/// of Server (tests, demo) and the storage implementation.
///
/// Mailbox names are kept in their IMAP wire form: modified UTF-7 (RFC 3501 §5.1.3), the
/// hierarchy delimiter is "/", and INBOX is always spelled "INBOX" (case-insensitive on
/// input). Keeping the wire form makes the stored name the exact identity clients see.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>

namespace twinbox::server {

/// One message as stored (no body).
struct MessageInfo {
  Uid uid;
  ModSeq modseq;                   ///< last change (CONDSTORE MODSEQ, RFC 7162 §3.1)
  std::int64_t internaldate = 0;   ///< seconds since the epoch, UTC
  int internaldate_zone = 0;       ///< minutes east of UTC the date was given in
  std::uint64_t size = 0;          ///< RFC822.SIZE
  std::vector<std::string> flags;  ///< system flags (canonical case) and keywords, sorted
  std::string emailid;             ///< OBJECTID EMAILID (RFC 8474 §5.1), kept across COPY/MOVE
  std::int64_t body_id = 0;        ///< storage row of the body (bodies are shared by copies)
  bool recent = false;             ///< not yet claimed by a session (\Recent, RFC 3501 §2.3.2)
  bool operator==(const MessageInfo&) const = default;
};

/// One mailbox with its IMAP state.
struct MailboxInfo {
  std::int64_t id = 0;
  std::string name;  ///< wire name (mUTF-7), "/" delimited
  UidValidity uidvalidity;
  Uid uidnext;
  ModSeq highestmodseq;
  std::string mailboxid;                 ///< OBJECTID MAILBOXID (RFC 8474 §4)
  std::vector<std::string> special_use;  ///< e.g. "\\Sent" (RFC 6154)
  bool operator==(const MailboxInfo&) const = default;
};

/// Decodes RFC 2047 encoded words in an unfolded header value into UTF-8; white space
/// between two adjacent encoded words is dropped (§6.2). Other text is kept as is.
std::string decode_rfc2047(std::string_view value);

}  // namespace twinbox::server
