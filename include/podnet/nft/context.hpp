#pragma once
// libnftables, wrapped: a context that runs nft command text in the calling
// thread's network namespace, and the file lock that serializes podnet's
// plugin processes around it.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "podnet/error/result.hpp"

struct nft_ctx;

namespace podnet::nft {

class Context {
 public:
  static Result<Context> open();

  // Runs `commands` (nft syntax, one per line) as one transaction: all or
  // nothing. Returns what nft printed (JSON when `json`); on failure an Error
  // (code::kInternal) whose msg is nft's first error line and whose details
  // are the rest of nft's message.
  Result<std::string> run(std::string_view commands, bool json = false);

 private:
  struct Free {
    void operator()(nft_ctx* ctx) const;
  };
  explicit Context(nft_ctx* ctx) : ctx_(ctx) {}
  std::unique_ptr<nft_ctx, Free> ctx_;
};

// An exclusive flock(2) on a lock file, released when destroyed. Move-only.
class Lock {
 public:
  // Creates `dir` (0700) and `path` (0600) when missing, then waits for the
  // lock up to `timeout`: code::kTryAgainLater after that.
  static Result<Lock> acquire(const std::string& dir, const std::string& path,
                              std::chrono::milliseconds timeout);

  Lock(Lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Lock& operator=(Lock&&) = delete;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  ~Lock();

 private:
  explicit Lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace podnet::nft
