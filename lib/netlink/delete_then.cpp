// deleteLinkThen: the work after a link's deletion overlaps the kernel's own.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include "detail.hpp"
#include "podnet/netlink/socket.hpp"

namespace podnet::netlink {
namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The network namespace a socket lives in (SO_NETNS_COOKIE, Linux 5.14); 0 if unknown.
std::uint64_t netnsCookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
#ifdef SO_NETNS_COOKIE
  if (::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) return 0;
#endif
  return cookie;
}

// A socket subscribed to link notifications in the calling thread's
// namespace, if that is the namespace of `requestFd`; else -1.
int linkListener(int requestFd) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return -1;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  const std::uint64_t mine = netnsCookie(fd);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || mine == 0 ||
      mine != netnsCookie(requestFd)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True if the pending notifications show link `name` down or deleted.
bool sawDown(int fd, const std::string& name) {
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;  // drained (EAGAIN), or lost (ENOBUFS): the ack decides
    auto len = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
      const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
      auto attrLen = static_cast<unsigned>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type != IFLA_IFNAME) continue;
        const auto* text = static_cast<const char*>(RTA_DATA(a));
        const std::string got(text, ::strnlen(text, RTA_PAYLOAD(a)));
        if (got == name && (h->nlmsg_type == RTM_DELLINK || (ifi->ifi_flags & IFF_UP) == 0)) return true;
      }
    }
  }
}

}  // namespace

Result<bool> Socket::deleteLinkThen(std::string_view name, const std::function<void()>& whenDown) {
  const Fd listener(linkListener(nl_socket_get_fd(state_->sock)));
  const Fd done(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (listener.fd < 0 || done.fd < 0) {
    PODNET_TRY(const bool deleted, deleteLink(name));
    whenDown();
    return deleted;
  }
  // The request blocks in the kernel for the whole deletion: send it from
  // a thread of its own, and watch for the link going down here.
  std::optional<Result<bool>> outcome;
  std::thread request;
  try {
    request = std::thread([&] {
      outcome.emplace(deleteLink(name));
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(done.fd, &one, sizeof one);
    });
  } catch (const std::system_error&) {
    PODNET_TRY(const bool deleted, deleteLink(name));
    whenDown();
    return deleted;
  }
  const std::string n(name);
  bool down = false;
  for (;;) {
    pollfd fds[2] = {{.fd = listener.fd, .events = POLLIN, .revents = 0},
                     {.fd = done.fd, .events = POLLIN, .revents = 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if ((fds[0].revents & POLLIN) != 0 && sawDown(listener.fd, n)) {
      down = true;
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) break;
  }
  if (down) whenDown();
  request.join();
  if (!outcome->ok()) return *outcome;
  if (!down) whenDown();
  return *outcome;
}

}  // namespace podnet::netlink
