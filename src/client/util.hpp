#pragma once
/// Small private helpers of the client layer.

#include <string>
#include <string_view>

namespace twinbox::client::detail {

/// Standard base64 with padding (RFC 4648 §4), for SASL payloads.
std::string base64_encode(std::string_view data);

/// saslname escaping of RFC 5801 §4 (used by RFC 7628's gs2 header): "," → "=2C", "=" → "=3D".
std::string sasl_name(std::string_view s);

/// True when every byte is 7-bit and no CR, LF or NUL.
bool is_7bit(std::string_view s);

}  // namespace twinbox::client::detail
