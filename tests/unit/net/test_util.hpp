#pragma once
// Helpers shared by the net unit tests.

#include <string>

#include <twinbox/base/result.hpp>

namespace twinbox::net::test {

/// The error text of a failed Result, "" for a value (safe inside REQUIRE_MESSAGE, which
/// doctest may evaluate on success too).
template <class R>
std::string why(const R& r) {
  return r ? std::string() : r.error().message;
}

}  // namespace twinbox::net::test
