#pragma once
// Private to the executor (executor*.cpp): conversions between plan and wire/state types.

#include <string>
#include <vector>

#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/seqset.hpp>
#include <twinbox/state/store.hpp>
#include <twinbox/sync/delta.hpp>

namespace twinbox::sync::detail {

inline state::ContentIdentity to_state(const MessageIdentity& id) {
  return {id.message_id, id.size, id.internaldate, id.sha256, id.email_id};
}

inline imap::FlagSet to_flagset(const Flags& f) {
  imap::FlagSet s;
  for (const auto& x : f) s.insert(x);
  return s;
}

inline imap::SeqSet uid_set(const std::vector<Uid>& uids) {
  imap::SeqSet s;
  for (Uid u : uids) s.add(u.value);
  return s;
}

}  // namespace twinbox::sync::detail
