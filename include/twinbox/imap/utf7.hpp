#pragma once
/// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII except "&"
/// represents itself; "&" is "&-"; any other run of characters is UTF-16BE in base64 with
/// "," instead of "/", no "=" padding, between "&" and "-".
///
/// Both directions are strict, so decode(encode(x)) == x and, whenever decode succeeds,
/// encode(decode(y)) == y: there is exactly one valid encoding of each name. Keep the raw
/// wire name as a mailbox's server-side identity and decode only to map names between
/// servers (PROTOCOL.md §3 "Mailbox names").

#include <string>
#include <string_view>

#include <twinbox/base/result.hpp>

namespace twinbox::imap {

/// Encodes a UTF-8 name as modified UTF-7. Fails (Errc::Parse, with offset and excerpt) when
/// the input is not valid UTF-8: truncated or overlong sequences, stray continuation bytes,
/// surrogate code points (U+D800…U+DFFF) or values above U+10FFFF.
Result<std::string> utf7_encode(std::string_view utf8);

/// Decodes a modified UTF-7 name to UTF-8. Fails (Errc::Parse, with offset and excerpt) on
/// any non-canonical or malformed form: bytes outside printable US-ASCII, a shift without its
/// closing "-", characters outside the modified base64 alphabet, an empty shift other than
/// "&-", non-zero padding bits or a stray extra base64 character, printable US-ASCII encoded
/// in base64, a redundant shift (a base64 run directly followed by another, e.g.
/// "&U,BTFw-&ZeVnLIqe-", which must be one run), and unpaired UTF-16 surrogates.
Result<std::string> utf7_decode(std::string_view mutf7);

/// True when utf7_decode(name) would succeed.
[[nodiscard]] bool is_valid_utf7(std::string_view mutf7);

}  // namespace twinbox::imap
