#pragma once
// Route change notifications (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE) for the
// daemon's event loop: poll fd() for POLLIN, then drain().

#include <functional>
#include <memory>

#include "podnet/error/result.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::netns {
class Handle;
}

namespace podnet::netlink {

namespace detail {
struct SocketState;
}

class EventSocket {
 public:
  // Subscribed in the calling thread's network namespace.
  static Result<EventSocket> open();
  // Subscribed in `ns`; the calling thread enters it only while opening.
  static Result<EventSocket> openIn(const netns::Handle& ns);

  EventSocket(EventSocket&&) noexcept;
  EventSocket& operator=(EventSocket&&) noexcept;
  EventSocket(const EventSocket&) = delete;
  EventSocket& operator=(const EventSocket&) = delete;
  ~EventSocket();

  // Non-blocking; readable when events are pending.
  int fd() const;

  // Calls onEvent for each pending event (in kernel order) without blocking;
  // returns when none is left. Multipath routes are skipped, as in routes().
  // If the kernel dropped events because we read too slowly (ENOBUFS) the
  // result is an Error with code::kTryAgainLater: state is unknown, re-dump.
  Status drain(const std::function<void(const RouteEvent&)>& onEvent);

 private:
  explicit EventSocket(std::unique_ptr<detail::SocketState> state);

  std::unique_ptr<detail::SocketState> state_;
};

}  // namespace podnet::netlink
