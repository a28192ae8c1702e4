// Route change notifications.
#include "podnet/netlink/events.hpp"

#include <netlink/msg.h>
#include <netlink/socket.h>

#include "detail.hpp"
#include "podnet/netns/netns.hpp"

namespace podnet::netlink {
namespace {

// Room for bursts (a node joining can add thousands of routes at once).
constexpr int kReceiveBuffer = 4 << 20;

struct DrainContext {
  const std::function<void(const RouteEvent&)>* onEvent;
};

void onParsed(nl_object* obj, void* arg) {
  const int type = nl_object_get_msgtype(obj);
  if (type != RTM_NEWROUTE && type != RTM_DELROUTE) return;
  auto route = detail::toRoute(reinterpret_cast<rtnl_route*>(obj));
  if (!route) return;
  const auto kind = type == RTM_NEWROUTE ? RouteEvent::Kind::kAdded : RouteEvent::Kind::kDeleted;
  (*static_cast<DrainContext*>(arg)->onEvent)(RouteEvent{.kind = kind, .route = std::move(*route)});
}

int onMessage(nl_msg* msg, void* arg) {
  nl_msg_parse(msg, onParsed, arg);
  return NL_OK;
}

}  // namespace

EventSocket::EventSocket(std::unique_ptr<detail::SocketState> state) : state_(std::move(state)) {}
EventSocket::EventSocket(EventSocket&&) noexcept = default;
EventSocket& EventSocket::operator=(EventSocket&&) noexcept = default;
EventSocket::~EventSocket() = default;

Result<EventSocket> EventSocket::open() {
  PODNET_TRY(auto st, detail::connect());
  // Notifications carry sequence number 0.
  nl_socket_disable_seq_check(st->sock);
  int err = nl_socket_add_memberships(st->sock, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, 0);
  if (err >= 0) err = nl_socket_set_buffer_size(st->sock, kReceiveBuffer, 0);
  if (err >= 0) err = nl_socket_set_nonblocking(st->sock);
  if (err < 0) return st->error(err, "subscribe to route events");
  return EventSocket(std::move(st));
}

Result<EventSocket> EventSocket::openIn(const netns::Handle& ns) {
  return netns::run(ns, [] { return open(); });
}

int EventSocket::fd() const { return nl_socket_get_fd(state_->sock); }

Status EventSocket::drain(const std::function<void(const RouteEvent&)>& onEvent) {
  DrainContext ctx{&onEvent};
  nl_cb* base = nl_socket_get_cb(state_->sock);
  nl_cb* cb = nl_cb_clone(base);
  nl_cb_put(base);
  if (cb == nullptr) return fail(code::kInternal, "read route events: out of memory");
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, onMessage, &ctx);
  int err = 0;
  do {
    state_->clear();
    err = nl_recvmsgs(state_->sock, cb);
  } while (err >= 0);
  nl_cb_put(cb);
  if (err == -NLE_AGAIN) return {};
  // libnl reports recvmsg's ENOBUFS (the kernel dropped notifications) as NLE_NOMEM.
  if (err == -NLE_NOMEM) {
    return fail(code::kTryAgainLater, "read route events: events were lost (receive buffer overrun); resync");
  }
  return state_->error(err, "read route events");
}

}  // namespace podnet::netlink
