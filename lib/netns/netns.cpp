#include "podnet/netns/netns.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace podnet::netns {
namespace {

constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

pid_t currentTid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

Error sysError(std::string what, int err) { return fail(code::kIo, what + ": " + std::strerror(err)); }

Error notNetns(const std::string& path, std::string why) {
  return fail(code::kInvalidNetns, path + " is not a network namespace: " + std::move(why));
}

// Accepts only an nsfs (or, on kernels before 3.19, procfs) inode whose
// namespace type is CLONE_NEWNET.
Status checkIsNetns(int fd, const std::string& path, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return notNetns(path, "it is a directory");
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return sysError("statfs " + path, errno);
  const auto magic = static_cast<unsigned long>(fs.f_type);
  if (magic != NSFS_MAGIC && magic != PROC_SUPER_MAGIC) {
    return notNetns(path, S_ISREG(st.st_mode) ? "it is a regular file" : "not on nsfs");
  }
  const int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type == CLONE_NEWNET) return {};
  if (type >= 0) return notNetns(path, "it is a namespace of another type");
  // NS_GET_NSTYPE exists since Linux 4.11; before that an nsfs inode is
  // trusted, a procfs file is not.
  if (errno == ENOTTY && magic == NSFS_MAGIC) return {};
  return notNetns(path, "it is not a namespace file");
}

}  // namespace

Handle::Handle(int fd, std::string path, dev_t dev, ino_t ino)
    : fd_(fd), path_(std::move(path)), dev_(dev), ino_(ino) {}

Handle::Handle(Handle&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), dev_(other.dev_), ino_(other.ino_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

Handle::~Handle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::optional<Handle>> Handle::openIfExists(const std::string& path) {
  if (path.empty()) return fail(code::kInvalidEnvironment, "network namespace path is empty");
  // O_NONBLOCK: a FIFO at the path must not block the plugin (it is then
  // refused as not a network namespace).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Handle>{};
    return fail(code::kInvalidNetns, "open network namespace " + path + ": " + std::strerror(errno));
  }
  Handle handle(fd, path, 0, 0);  // closes fd on every return below
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sysError("stat " + path, errno);
  PODNET_CHECK(checkIsNetns(fd, path, st));
  handle.dev_ = st.st_dev;
  handle.ino_ = st.st_ino;
  return std::optional<Handle>(std::move(handle));
}

Result<Handle> Handle::open(const std::string& path) {
  PODNET_TRY(auto handle, openIfExists(path));
  if (!handle)
    return fail(code::kInvalidNetns, "open network namespace " + path + ": " + std::strerror(ENOENT));
  return std::move(*handle);
}

Result<Handle> Handle::current() { return open(kThreadNetns); }

Result<Guard> Guard::enter(const Handle& target) {
  PODNET_TRY(auto original, Handle::current());
  if (::setns(target.fd(), CLONE_NEWNET) != 0) {
    return sysError("enter network namespace " + target.path(), errno);
  }
  return Guard(std::move(original), currentTid());
}

Guard::Guard(Handle original, pid_t tid) : original_(std::move(original)), tid_(tid) {}

Guard::Guard(Guard&& other) noexcept : original_(std::move(other.original_)), tid_(other.tid_) {
  other.original_.reset();
}

Guard::~Guard() {
  if (!original_) return;
  if (currentTid() != tid_) {
    std::fprintf(stderr, "podnet: netns::Guard destroyed on another thread; aborting\n");
    std::abort();
  }
  if (::setns(original_->fd(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "podnet: cannot return to network namespace %s: %s; aborting\n",
                 original_->path().c_str(), std::strerror(errno));
    std::abort();
  }
}

}  // namespace podnet::netns
