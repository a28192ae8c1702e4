#pragma once
// Private to lib/netlink: the libnl plumbing shared by its .cpp files.

#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::netlink::detail {

// What the kernel said in the last NLMSG_ERROR, captured by our error
// callback because libnl folds errnos into its own coarser NLE_* codes.
struct KernelError {
  int errnum = 0;      // positive errno; 0 if the last request did not fail in the kernel
  std::string extack;  // NLMSGERR_ATTR_MSG, if the kernel sent one
};

struct SocketState {
  nl_sock* sock = nullptr;
  KernelError last;

  SocketState() = default;
  SocketState(const SocketState&) = delete;
  SocketState& operator=(const SocketState&) = delete;
  ~SocketState();

  // Call before each request.
  void clear() { last = {}; }
  // Error{kIo, "<what>: <reason>"} for libnl's return value `nlerr` (< 0).
  Error error(int nlerr, const std::string& what) const;
};

// A connected NETLINK_ROUTE socket in the calling thread's namespace, with
// extended acks on and our error callback installed.
Result<std::unique_ptr<SocketState>> connect();

template <auto fn>
struct Put {
  template <class T>
  void operator()(T* p) const {
    fn(p);
  }
};
using LinkPtr = std::unique_ptr<rtnl_link, Put<rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, Put<rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Put<rtnl_route_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Put<nl_addr_put>>;

// Sends an RTM_GET* dump request for `family` and calls onObject for every
// object the reply parses into. If the kernel flags the dump as interrupted
// (NLE_DUMP_INTR: the table changed under it), calls restart() and dumps again
// after a backoff; after the last attempt, an Error with code::kTryAgainLater.
Status dump(SocketState& st, int msgType, int family, const std::string& what,
            const std::function<void()>& restart, const std::function<void(nl_object*)>& onObject);

int toAf(ip::Family family);
NlAddrPtr toNlAddr(const ip::Address& addr, int prefixLen);
// nullopt for a non-IP family; an empty nl_addr (a default route's dst) is the zero address.
std::optional<ip::Address> fromNlAddr(nl_addr* addr);

// libnl objects for a request; `what` prefixes the error.
Result<RoutePtr> toRtnl(const Route& route, const std::string& what);
Result<AddrPtr> toRtnlAddr(int index, const ip::Prefix& prefix, AddrOptions options, const std::string& what);
std::string describeAddAddress(int index, const ip::Prefix& prefix);

// A dumped or notified route as a value; nullopt for what Route cannot
// represent (multipath, non-IP families).
std::optional<Route> toRoute(rtnl_route* route);

}  // namespace podnet::netlink::detail
