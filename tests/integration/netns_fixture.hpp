#pragma once
// Runs a doctest case in a network namespace of its own:
//
//   TEST_CASE_FIXTURE(podnet::testing::FreshNetns, "...") { ... }
//
// The constructor moves the (single) test thread into a new, empty network
// namespace; the destructor moves it back and abort()s if it cannot, so no
// later test ever runs in the wrong namespace. Namespaces are held only by
// file descriptors (nothing in /run/netns), so the kernel frees them when the
// fixture goes, even if the process dies. Deliberately uses raw syscalls, not
// podnet::netns, so it does not depend on the code under test.
//
// Checks use an independent tool: ip(8) run through nsenter(1) in the
// namespace under test.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace podnet::testing {

struct CommandResult {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;  // stdout and stderr
};

class FreshNetns {
 public:
  FreshNetns() {
    original_ = openThreadNetns();
    if (::unshare(CLONE_NEWNET) != 0) {
      const int err = errno;
      ::close(original_);
      throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(err));
    }
    try {
      self_ = openThreadNetns();
      if (inode(self_) == inode(original_)) throw std::runtime_error("unshare left the thread in its netns");
      const auto lo = sh(ip(path(), "link set lo up"));
      if (lo.status != 0) throw std::runtime_error("ip link set lo up: " + lo.out);
    } catch (...) {
      if (self_ >= 0) ::close(self_);
      restore();
      throw;
    }
  }

  FreshNetns(const FreshNetns&) = delete;
  FreshNetns& operator=(const FreshNetns&) = delete;

  ~FreshNetns() {
    for (const int fd : others_) ::close(fd);
    ::close(self_);
    restore();
  }

  // A path naming the test's namespace, usable by other processes.
  std::string path() const { return fdPath(self_); }

  // Another new namespace (lo up), alive until the fixture ends; returns its
  // path. The calling thread stays in the test's namespace.
  std::string another() {
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare for another namespace failed");
    const int fd = openThreadNetns();
    if (::setns(self_, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "netns fixture: cannot return to the test namespace; aborting\n");
      std::abort();
    }
    others_.push_back(fd);
    const std::string p = fdPath(fd);
    REQUIRE(sh(ip(p, "link set lo up")).status == 0);
    return p;
  }

  // The thread's current namespace inode, read without podnet code.
  static ino_t currentInode() {
    struct stat st {};
    if (::stat("/proc/thread-self/ns/net", &st) != 0) throw std::runtime_error("stat own netns");
    return st.st_ino;
  }
  static ino_t inodeOf(const std::string& nsPath) {
    struct stat st {};
    if (::stat(nsPath.c_str(), &st) != 0) throw std::runtime_error("stat " + nsPath);
    return st.st_ino;
  }

  // "nsenter --net=<ns> ip <args>"
  static std::string ip(const std::string& ns, const std::string& args) {
    return "nsenter --net=" + ns + " ip " + args;
  }

  static CommandResult sh(const std::string& command) {
    CommandResult r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen " + command);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  // `ip -j <args>` in `ns`, parsed; throws if ip fails or prints no JSON.
  static nlohmann::json ipJson(const std::string& ns, const std::string& args) {
    const auto r = sh(ip(ns, "-j " + args));
    if (r.status != 0) throw std::runtime_error("ip -j " + args + ": " + r.out);
    if (r.out.find_first_not_of(" \n") == std::string::npos) return nlohmann::json::array();
    return nlohmann::json::parse(r.out);
  }
  nlohmann::json ipJson(const std::string& args) const { return ipJson(path(), args); }

  // Runs `ip <args>` in the test's namespace; REQUIREs success.
  void ipOk(const std::string& args) const {
    const auto r = sh(ip(path(), args));
    INFO("ip " << args << ": " << r.out);
    REQUIRE(r.status == 0);
  }

 private:
  static int openThreadNetns() {
    const int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("open own netns: ") + std::strerror(errno));
    return fd;
  }
  static ino_t inode(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error("fstat netns");
    return st.st_ino;
  }
  static std::string fdPath(int fd) {
    return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
  }
  void restore() {
    if (::setns(original_, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "netns fixture: cannot return to the original namespace: %s; aborting\n",
                   std::strerror(errno));
      std::abort();
    }
    ::close(original_);
  }

  int original_ = -1;
  int self_ = -1;
  std::vector<int> others_;
};

}  // namespace podnet::testing
