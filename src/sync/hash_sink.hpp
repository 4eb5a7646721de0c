#pragma once
// Private to the sync layer: a MessageSink that hashes streamed BODY[] literals with SHA-256,
// one digest per message, never buffering a body. Used where several messages look alike
// (body_hashes.cpp) and by `twinbox repair` (admin_repair.cpp).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <twinbox/client/session.hpp>

#include "sha256.hpp"

namespace twinbox::sync {

/// Keeps only the hex digests, by UID. FETCH responses may interleave by sequence number, so
/// the partial digests are kept per sequence number until each message ends.
class BodyHashSink : public client::MessageSink {
 public:
  Status begin(SeqNum seq, std::uint64_t /*size*/) override {
    cur_ = seq.value;
    partial_[cur_] = std::make_unique<Sha256>();
    return {};
  }
  Status data(std::string_view chunk) override {
    if (auto it = partial_.find(cur_); it != partial_.end()) it->second->update(chunk);
    return {};
  }
  Status end(const imap::FetchData& meta) override {
    auto it = partial_.find(meta.seq.value);
    if (it == partial_.end()) return {};
    if (meta.uid) hashes_[meta.uid->value] = it->second->hex();
    partial_.erase(it);
    return {};
  }
  /// Digests of the messages received completely, by UID.
  std::unordered_map<std::uint32_t, std::string>& hashes() { return hashes_; }

 private:
  std::uint32_t cur_ = 0;
  std::unordered_map<std::uint32_t, std::unique_ptr<Sha256>> partial_;
  std::unordered_map<std::uint32_t, std::string> hashes_;
};

}  // namespace twinbox::sync
