#pragma once
// What the reconcile needs from the kernel, as an interface: the netlink
// implementation below, an in-memory fake in the unit tests.

#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/netlink/socket.hpp"
#include "routes.hpp"

namespace podnet::daemon {

class RouteKernel {
 public:
  virtual ~RouteKernel() = default;
  // Directly connected subnets of both families (link-local ones left out).
  virtual Result<std::vector<Connected>> connected() = 0;
  // Every route of the main table, both families, whatever its protocol.
  virtual Result<std::vector<netlink::Route>> routes() = 0;
  virtual Status replace(const netlink::Route& route) = 0;
  // False if there was no such route.
  virtual Result<bool> remove(const netlink::Route& route) = 0;
};

// Over a netlink::Socket of the daemon's network namespace.
class NetlinkKernel final : public RouteKernel {
 public:
  explicit NetlinkKernel(netlink::Socket socket) : socket_(std::move(socket)) {}

  Result<std::vector<Connected>> connected() override;
  Result<std::vector<netlink::Route>> routes() override;
  Status replace(const netlink::Route& route) override { return socket_.replaceRoute(route); }
  Result<bool> remove(const netlink::Route& route) override { return socket_.deleteRoute(route); }

 private:
  netlink::Socket socket_;
};

}  // namespace podnet::daemon
