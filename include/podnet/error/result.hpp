#pragma once
// Expected failures as values. An Error maps 1:1 to the CNI error JSON
// ({code, msg, details}); a Result<T> holds either a T or an Error.

#include <string>
#include <utility>
#include <variant>

namespace podnet {

// The CNI specification's well-known error codes (SPEC.md "Error").
namespace code {
inline constexpr int kIncompatibleVersion = 1;
inline constexpr int kUnsupportedField = 2;
inline constexpr int kUnknownContainer = 3;
inline constexpr int kInvalidEnvironment = 4;
inline constexpr int kIo = 5;
inline constexpr int kDecode = 6;
inline constexpr int kInvalidConfig = 7;
// CNI_NETNS is not a usable network namespace (not one, or the plugin's own):
// libcni's ErrInvalidNetNS, not in the spec's table but defined by libcni.
inline constexpr int kInvalidNetns = 8;
inline constexpr int kTryAgainLater = 11;
inline constexpr int kNotAvailable = 50;         // STATUS: cannot add pods now
inline constexpr int kLimitedConnectivity = 51;  // STATUS: limited connectivity
inline constexpr int kInternal = 999;            // as the reference skel's ErrInternal
}  // namespace code

struct Error {
  int code = code::kInternal;
  std::string msg;
  std::string details;

  bool operator==(const Error&) const = default;
};

inline Error fail(int code, std::string msg, std::string details = {}) {
  return Error{code, std::move(msg), std::move(details)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace podnet

// Propagates an Error out of the enclosing function, else binds the value.
#define PODNET_CONCAT_INNER(a, b) a##b
#define PODNET_CONCAT(a, b) PODNET_CONCAT_INNER(a, b)
#define PODNET_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                     \
  if (!tmp.ok()) return tmp.error();     \
  decl = std::move(tmp).value()
#define PODNET_TRY(decl, expr) PODNET_TRY_IMPL(PODNET_CONCAT(podnetTry_, __LINE__), decl, expr)
#define PODNET_CHECK(expr)                                                  \
  do {                                                                      \
    if (auto podnetSt_ = (expr); !podnetSt_.ok()) return podnetSt_.error(); \
  } while (0)
