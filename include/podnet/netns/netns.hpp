#pragma once
// Network namespaces: a validated handle, an RAII guard that enters one and
// always returns, and run() for "do this inside that namespace".
//
// setns() moves the calling *thread* only. A Guard must be destroyed on the
// thread that created it (it aborts otherwise), and nothing that runs under
// a Guard may hop threads or start threads that expect the original namespace.

#include <sys/types.h>

#include <optional>
#include <string>
#include <type_traits>

#include "podnet/error/result.hpp"

namespace podnet::netns {

// An open file descriptor of a network namespace (an nsfs inode: a
// /proc/<pid>/ns/net file or a /run/netns bind mount of one). Move-only.
class Handle {
 public:
  // Opens `path` and checks it is a network namespace. A regular file, a
  // directory or a namespace of another type is an Error (code::kInvalidEnvironment);
  // a path that cannot be opened is an Error naming the path (code::kIo).
  static Result<Handle> open(const std::string& path);
  // As open(), but a path that does not exist is nullopt rather than an Error
  // (CNI DEL must succeed when the namespace is already gone).
  static Result<std::optional<Handle>> openIfExists(const std::string& path);
  // The namespace of the calling thread.
  static Result<Handle> current();

  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();

  int fd() const { return fd_; }
  // The path it was opened from, for messages.
  const std::string& path() const { return path_; }
  // True if both name the same namespace (same nsfs device and inode).
  bool sameAs(const Handle& other) const { return dev_ == other.dev_ && ino_ == other.ino_; }

 private:
  Handle(int fd, std::string path, dev_t dev, ino_t ino);

  int fd_ = -1;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// While alive, the calling thread is inside `target`; the destructor returns
// it to the namespace it was in before and abort()s if that fails, because
// continuing in the wrong namespace is worse than dying.
class Guard {
 public:
  static Result<Guard> enter(const Handle& target);

  Guard(Guard&& other) noexcept;
  Guard& operator=(Guard&&) = delete;
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard();

 private:
  Guard(Handle original, pid_t tid);

  std::optional<Handle> original_;  // nullopt once moved from
  pid_t tid_ = 0;
};

// Calls fn() with the calling thread inside `target` and returns its result;
// fn returns Result<T> or Status. The thread is back in its original
// namespace when run() returns.
template <class F>
auto run(const Handle& target, F&& fn) -> std::invoke_result_t<F&&> {
  auto guard = Guard::enter(target);
  if (!guard.ok()) return guard.error();
  return std::forward<F>(fn)();
}

}  // namespace podnet::netns
