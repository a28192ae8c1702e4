#pragma once
// A NETLINK_ROUTE socket and the operations podnet needs on links, addresses
// and routes. This module is the only code that calls libnl.
//
// A socket acts on the network namespace it was opened in, whichever
// namespace the calling thread is in later: openIn(pod) lets the plugin
// configure a pod without staying inside it. One socket is one
// request/response stream: use it from one thread at a time.
//
// Kernel errors come back as Error{code::kIo, "<verb> <object>: <strerror>",
// details = the kernel's extended ack message, if any}. Listings are netlink
// dumps; one that keeps racing with changes (NLM_F_DUMP_INTR) is retried with
// backoff and then fails with code::kTryAgainLater, never returned torn.

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::netns {
class Handle;
}

namespace podnet::netlink {

namespace detail {
struct SocketState;
}

class Socket {
 public:
  // Bound to the calling thread's network namespace.
  static Result<Socket> open();
  // Bound to `ns`; the calling thread enters it only while opening.
  static Result<Socket> openIn(const netns::Handle& ns);

  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  // --- links ---
  // Both ends in one request; the peer is born in spec.peerNetns (never moved
  // there). Either name already taken is an Error naming spec.hostName.
  Status createVeth(const VethSpec& spec);
  // nullopt if there is no such link.
  Result<std::optional<Link>> link(std::string_view name);
  Result<std::optional<Link>> link(int index);
  Result<std::vector<Link>> links();
  Status setUp(int index);
  Status setDown(int index);
  Status setMtu(int index, int mtu);
  // True if it deleted the link, false if there was none. Deleting one end
  // of a veth pair deletes both.
  Result<bool> deleteLink(std::string_view name);

  // --- addresses ---
  // Exclusive: an address that is already there is an Error.
  Status addAddress(int index, const ip::Prefix& prefix, AddrOptions options = {});
  // The link's addresses of `family` with their prefix lengths, kernel order.
  Result<std::vector<ip::Prefix>> addresses(int index, ip::Family family);

  // --- routes ---
  // Exclusive: a route with the same key (table, dst, metric; tos) is an Error.
  Status addRoute(const Route& route);
  // Creates or overwrites the route with the same key, whatever its protocol:
  // callers that own a protocol number check routes() first.
  Status replaceRoute(const Route& route);
  // Deletes exactly this route (protocol, scope, gateway and oif must match);
  // false if there was none.
  Result<bool> deleteRoute(const Route& route);
  // Single-next-hop routes of `family` matching `filter` (one dump, retried
  // from scratch if the kernel reports it interrupted). Multipath routes are
  // not representable and are left out.
  Result<std::vector<Route>> routes(ip::Family family, const RouteFilter& filter = {});

 private:
  explicit Socket(std::unique_ptr<detail::SocketState> state);

  std::unique_ptr<detail::SocketState> state_;
};

}  // namespace podnet::netlink
