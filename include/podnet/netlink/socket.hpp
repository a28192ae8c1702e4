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

#include <functional>
#include <memory>
#include <optional>
#include <string>
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

class Batch;

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
  // IFLA_IFALIAS ("ip link set X alias ..."); the kernel ignores it in a create request.
  Status setAlias(int index, const std::string& alias);
  // True if it deleted the link, false if there was none. Deleting one end
  // of a veth pair deletes both.
  Result<bool> deleteLink(std::string_view name);
  // deleteLink(), with whenDown() run on the calling thread while the kernel
  // finishes the deletion (its RCU grace periods, ~20 ms): as soon as a link
  // notification shows the link down or gone (its addresses and routes are
  // gone by then, and the kernel holds its lock until the deletion is done),
  // or when the request returns having deleted nothing. Not run if the
  // request fails without the link going down. Call it from a thread in the socket's namespace, where it
  // listens for the notifications; elsewhere it runs whenDown() after the
  // deletion.
  Result<bool> deleteLinkThen(std::string_view name, const std::function<void()>& whenDown);

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
  // The link a packet to `dst` would leave through ("ip route get"): one
  // lookup whatever the size of the tables, and no packet is sent. nullopt
  // when the kernel has no route there or the route has no device.
  Result<std::optional<int>> outputLink(const ip::Address& dst);

 private:
  friend class Batch;
  explicit Socket(std::unique_ptr<detail::SocketState> state);

  std::unique_ptr<detail::SocketState> state_;
};

// Changes sent to the kernel together: send() writes every queued request in
// one sendmsg and then reads one ack each, instead of one round trip per
// change. The kernel applies them in order, each on its own: a failure does
// not stop the ones after it, and send() returns the first failure (the same
// Error the Socket method would have returned). Nothing is sent before send().
class Batch {
 public:
  explicit Batch(Socket& socket) : state_(*socket.state_) {}
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch();

  void setUp(int index);
  void addAddress(int index, const ip::Prefix& prefix, AddrOptions options = {});
  void addRoute(const Route& route);  // exclusive, as Socket::addRoute
  std::size_t size() const { return requests_.size(); }
  Status send();

 private:
  struct Request {
    void* msg;  // a built nl_msg, owned
    std::string what;
  };
  // Takes `msg` (nullptr: out of memory, or failed building with `err`).
  void queue(void* msg, int err, std::string what);

  detail::SocketState& state_;
  std::vector<Request> requests_;
  std::optional<Error> buildError_;  // a request that could not even be built
};

}  // namespace podnet::netlink
