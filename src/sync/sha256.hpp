#pragma once
// Private to the sync layer: SHA-256 (FIPS 180-4), incremental, for the body hashes that
// confirm a content match when several messages look alike (MessageIdentity::sha256). Written
// here because the sync layer may use no third-party library (STYLE.md); not for security.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace twinbox::sync {

class Sha256 {
 public:
  Sha256();
  /// Feeds the next bytes; any split of the input gives the same digest.
  void update(std::string_view data);
  /// Lower-case hex digest of everything fed. The object is spent afterwards.
  [[nodiscard]] std::string hex();

 private:
  void block(const unsigned char* p);

  std::array<std::uint32_t, 8> h_;
  std::array<unsigned char, 64> buf_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace twinbox::sync
