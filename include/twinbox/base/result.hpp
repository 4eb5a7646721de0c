#pragma once
/// Result<T>: a value or an Error, with the member names of std::expected (has_value, value,
/// error, operator bool, *, ->) so it can become an alias once clang can compile <expected>.
/// Implicitly constructible from T and from Error:
///   Result<Uid> parse_uid(std::string_view s);
///   auto uid = parse_uid(s);
///   if (!uid) return uid.error();

#include <type_traits>
#include <utility>
#include <variant>

#include <twinbox/base/error.hpp>

namespace twinbox {

template <class T>
class Result;

/// True for every Result<X>: a Result is never a value of another Result (a Status would
/// otherwise become Result<bool>{false} through bool's explicit conversion, losing its error).
template <class U>
inline constexpr bool kIsResult = false;
template <class X>
inline constexpr bool kIsResult<Result<X>> = true;

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(const T& v) : v_(std::in_place_index<0>, v) {}         // NOLINT(google-explicit-constructor)
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}   // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT(google-explicit-constructor)
  template <class U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Error> && !kIsResult<std::decay_t<U>>)
  Result(U&& u) : v_(std::in_place_index<0>, T(std::forward<U>(u))) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  const Error& error() const& { check_error(); return std::get<1>(v_); }
  Error&& error() && { check_error(); return std::get<1>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check() const { TWINBOX_ASSERT(has_value(), "Result::value() on an error"); }
  void check_error() const { TWINBOX_ASSERT(!has_value(), "Result::error() on a value"); }
  std::variant<T, Error> v_;
};

/// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  void value() const { TWINBOX_ASSERT(ok_, "Result<void>::value() on an error"); }
  const Error& error() const& {
    TWINBOX_ASSERT(!ok_, "Result::error() on a value");
    return err_;
  }
  Error&& error() && {
    TWINBOX_ASSERT(!ok_, "Result::error() on a value");
    return std::move(err_);
  }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

/// Shorthand for building errors: `return fail(Errc::Parse, Scope::Connection, "…");`
inline Error fail(Errc code, Scope scope, std::string message) {
  return Error{code, scope, std::move(message)};
}

}  // namespace twinbox
