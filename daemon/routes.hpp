#pragma once
// The pure part of the reconcile: which routes this node wants, and what to
// change so that the kernel holds exactly those (after Open/R's
// NetlinkFibHandler syncFib). No kernel access here.

#include <string>
#include <string_view>
#include <vector>

#include "node.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::daemon {

// The route protocol number (rtm_protocol) that marks a route as podnetd's
// (`ip route show proto 152`). Not among the kernel's or iproute2's reserved
// numbers (/etc/iproute2/rt_protos); a line "152 podnet" in
// /etc/iproute2/rt_protos.d/podnet.conf names it. podnetd only ever replaces
// or deletes routes carrying it.
inline constexpr int kRouteProtocol = 152;
// The metric the kernel gives IPv6 routes that set none; wanted IPv6 routes
// carry it explicitly so that they compare equal to what the kernel dumps.
inline constexpr int kIpv6DefaultMetric = 1024;

// A subnet this node reaches directly (a connected route), and its link.
struct Connected {
  ip::Prefix subnet;
  int oif = 0;

  bool operator==(const Connected&) const = default;
};

// A remote node's pod CIDR that gets no route, and why.
struct Skipped {
  std::string node;
  ip::Prefix podCidr;
  std::string reason;

  bool operator==(const Skipped&) const = default;
};

struct RoutePlan {
  std::vector<netlink::Route> routes;  // sorted by destination
  std::vector<Skipped> skipped;

  bool operator==(const RoutePlan&) const = default;
};

// For every node but `self` and each of its pod CIDRs: "<cidr> via <addr>
// dev <oif>" through the first of its addresses of the CIDR's family that lies
// in one of `connected` (same L2). A CIDR with no such address is skipped as
// unreachable, never guessed; one that overlaps this node's own pod CIDRs or
// a CIDR already routed is skipped as a conflict.
RoutePlan routesFor(const std::vector<Node>& nodes, std::string_view self,
                    const std::vector<Connected>& connected);

struct RouteDiff {
  std::vector<netlink::Route> replace;  // add or overwrite one of ours
  std::vector<netlink::Route> remove;   // ours, no longer wanted
  std::vector<netlink::Route> blocked;  // wanted, but another protocol's route holds its key

  bool empty() const { return replace.empty() && remove.empty(); }
  bool operator==(const RouteDiff&) const = default;
};

// `kernel` holds the table's routes of every protocol. Routes already equal to
// a wanted one are left alone; routes of other protocols are never touched:
// a wanted route whose key (table, destination, metric) a foreign route
// holds is reported as blocked rather than overwritten.
RouteDiff diffRoutes(const std::vector<netlink::Route>& wanted, const std::vector<netlink::Route>& kernel);

// Routes print with netlink::describe().
using netlink::describe;

}  // namespace podnet::daemon
