#include "podnet/netns/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace podnet::netns {
namespace {

constexpr std::string_view kRoot = "/proc/sys/";

// The file below /proc/sys for `key`, or an Error for a key we refuse.
Result<std::string> sysctlPath(std::string_view key) {
  std::string rel(key);
  if (rel.find('/') == std::string::npos) std::replace(rel.begin(), rel.end(), '.', '/');
  const bool bad = rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos ||
                   rel.find("//") != std::string::npos || rel.find('\0') != std::string::npos;
  if (bad) return fail(code::kInvalidConfig, "invalid sysctl key \"" + std::string(key) + "\"");
  if (!rel.starts_with("net/")) {
    return fail(code::kInvalidConfig, "sysctl " + std::string(key) + " is not a network sysctl");
  }
  return std::string(kRoot) + rel;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error ioError(std::string_view key, std::string_view verb, int err) {
  return fail(code::kIo, std::string(verb) + " sysctl " + std::string(key) + ": " + std::strerror(err));
}

}  // namespace

Status writeSysctl(std::string_view key, std::string_view value) {
  PODNET_TRY(const auto path, sysctlPath(key));
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return ioError(key, "open", errno);
  // One write(): procfs parses each write on its own.
  const ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return ioError(key, "write", errno);
  if (static_cast<std::size_t>(n) != value.size()) return ioError(key, "write", EIO);
  return {};
}

Result<std::string> readSysctl(std::string_view key) {
  PODNET_TRY(const auto path, sysctlPath(key));
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ioError(key, "open", errno);
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(key, "read", errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace podnet::netns
