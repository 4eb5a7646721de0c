#pragma once
// Private: the migration table behind include/twinbox/state/schema.hpp.

#include <span>

namespace twinbox::state {

/// One step: run `sql` (several statements) to go from version `to - 1` to `to`.
struct Migration {
  int to;
  const char* sql;
};

/// Steps in order; the last one's `to` is kSchemaVersion.
std::span<const Migration> migrations();

}  // namespace twinbox::state
