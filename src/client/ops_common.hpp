#pragma once
// Helpers shared by the typed operations (ops.cpp, ops_messages.cpp).
#include <memory>
#include <string>
#include <string_view>

#include "session_impl.hpp"

namespace twinbox::client::detail {

template <class T>
Pending<T> failed_now(Error e) {
  auto p = make_pending<T>();
  p.complete(std::move(e));
  return p;
}

inline Error missing_cap(const Session::Impl& im, std::string_view cap, std::string_view what) {
  return fail(Errc::Capability, Scope::Mailbox,
              im.describe() + " does not support " + std::string(cap) + ", needed for " +
                  std::string(what));
}

template <class T>
std::shared_ptr<detail::Op> new_op(std::string what, const Pending<T>& p) {
  auto op = std::make_shared<detail::Op>();
  op->what = std::move(what);
  op->failed = [p](const Error& e) { p.complete(e); };
  return op;
}

}  // namespace twinbox::client::detail
