// netns::Handle, netns::Guard, netns::run and the sysctl helpers, each case in
// a fresh network namespace.
#include "podnet/netns/netns.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../netns_fixture.hpp"
#include "podnet/netns/sysctl.hpp"

using podnet::code::kInvalidConfig;
using podnet::code::kInvalidNetns;
using podnet::netns::Guard;
using podnet::netns::Handle;
using podnet::testing::FreshNetns;

namespace {

std::string tempFile() {
  char name[] = "/tmp/podnet-netns-test.XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  return name;
}

}  // namespace

TEST_CASE_FIXTURE(FreshNetns, "netns: open rejects what is not a network namespace") {
  const std::string file = tempFile();
  const auto regular = Handle::open(file);
  ::unlink(file.c_str());
  REQUIRE_FALSE(regular.ok());
  CHECK(regular.error().code == kInvalidNetns);
  CHECK(regular.error().msg.find(file) != std::string::npos);
  CHECK(regular.error().msg.find("regular file") != std::string::npos);

  const auto dir = Handle::open("/tmp");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == kInvalidNetns);
  CHECK(dir.error().msg.find("directory") != std::string::npos);

  // procfs, but not a namespace; a namespace, but not a network one.
  CHECK_FALSE(Handle::open("/proc/version").ok());
  const auto mnt = Handle::open("/proc/self/ns/mnt");
  REQUIRE_FALSE(mnt.ok());
  CHECK(mnt.error().msg.find("another type") != std::string::npos);

  const auto missing = Handle::open("/run/netns/podnet-does-not-exist");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().msg.find("No such file") != std::string::npos);
  const auto maybe = Handle::openIfExists("/run/netns/podnet-does-not-exist");
  REQUIRE(maybe.ok());
  CHECK_FALSE(maybe->has_value());
}

TEST_CASE_FIXTURE(FreshNetns, "netns: open accepts /proc paths and fds, sameAs compares namespaces") {
  const auto self = Handle::open(path());
  REQUIRE(self.ok());
  const auto current = Handle::current();
  REQUIRE(current.ok());
  const auto byPid =
      Handle::open("/proc/" + std::to_string(::getpid()) + "/task/" + std::to_string(::gettid()) + "/ns/net");
  REQUIRE(byPid.ok());
  CHECK(self->sameAs(*current));
  CHECK(byPid->sameAs(*current));

  const auto other = Handle::open(another());
  REQUIRE(other.ok());
  CHECK_FALSE(other->sameAs(*current));
  CHECK(other->fd() != current->fd());
}

TEST_CASE_FIXTURE(FreshNetns, "netns: Guard enters and always restores") {
  const std::string otherPath = another();
  const ino_t home = currentInode();
  const ino_t away = inodeOf(otherPath);
  REQUIRE(home != away);
  auto target = Handle::open(otherPath);
  REQUIRE(target.ok());
  {
    auto guard = Guard::enter(*target);
    REQUIRE(guard.ok());
    CHECK(currentInode() == away);
    Guard moved(std::move(*guard));  // only the live guard restores
    CHECK(currentInode() == away);
  }
  CHECK(currentInode() == home);

  // run() returns what the function returns, computed inside.
  const auto inside = podnet::netns::run(*target, []() -> podnet::Result<ino_t> { return currentInode(); });
  REQUIRE(inside.ok());
  CHECK(*inside == away);
  CHECK(currentInode() == home);

  // Errors pass through and the thread still comes back.
  const auto failed = podnet::netns::run(
      *target, []() -> podnet::Status { return podnet::fail(podnet::code::kIo, "inside"); });
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().msg == "inside");
  CHECK(currentInode() == home);
}

TEST_CASE_FIXTURE(FreshNetns, "netns: sysctls are written in the namespace of the caller") {
  const std::string otherPath = another();
  const auto cat = [](const std::string& ns, const std::string& file) {
    auto r = sh("nsenter --net=" + ns + " cat /proc/sys/" + file);
    REQUIRE(r.status == 0);
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  };
  REQUIRE(cat(path(), "net/ipv4/ip_forward") == "0");
  auto target = Handle::open(otherPath);
  REQUIRE(target.ok());
  {
    auto guard = Guard::enter(*target);
    REQUIRE(guard.ok());
    REQUIRE(podnet::netns::writeSysctl("net.ipv4.ip_forward", "1").ok());
    const auto value = podnet::netns::readSysctl("net.ipv4.ip_forward");
    REQUIRE(value.ok());
    CHECK(*value == "1");
  }
  CHECK(cat(otherPath, "net/ipv4/ip_forward") == "1");
  CHECK(cat(path(), "net/ipv4/ip_forward") == "0");

  // Slash form, for interface names with dots.
  ipOk("link add eth0.5 type veth peer name p5");
  REQUIRE(podnet::netns::writeSysctl("net/ipv4/conf/eth0.5/rp_filter", "2").ok());
  CHECK(cat(path(), "net/ipv4/conf/eth0.5/rp_filter") == "2");
  const auto read = podnet::netns::readSysctl("net/ipv4/conf/eth0.5/rp_filter");
  REQUIRE(read.ok());
  CHECK(*read == "2");

  const auto missing = podnet::netns::writeSysctl("net.ipv4.conf.nosuchlink.rp_filter", "1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().msg.find("net.ipv4.conf.nosuchlink.rp_filter") != std::string::npos);
}

TEST_CASE_FIXTURE(FreshNetns, "netns: sysctl keys outside net or with .. are refused before any I/O") {
  // Names that do not exist, so that even a broken check could change nothing.
  for (const char* key : {"net/ipv4/../../kernel/podnet_none", "net.ipv4..podnet_none", "kernel.podnet_none",
                          "/proc/sys/net/ipv4/podnet_none", "", "net//ipv4/podnet_none"}) {
    INFO(key);
    const auto w = podnet::netns::writeSysctl(key, "x");
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == kInvalidConfig);
    CHECK_FALSE(podnet::netns::readSysctl(key).ok());
  }
}
