#include "routes.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace podnet::daemon {
namespace {

using netlink::Route;

// The kernel's identity of a route: a replace with an equal key overwrites it.
// IPv4 routes without a metric have metric 0, IPv6 ones 1024.
using Key = std::tuple<int, ip::Prefix, int>;

Key keyOf(const Route& r) {
  const int metric = r.metric.value_or(r.dst.family() == ip::Family::kV4 ? 0 : kIpv6DefaultMetric);
  return {r.table, r.dst, metric};
}

std::optional<Connected> pathTo(const ip::Address& addr, const std::vector<Connected>& connected) {
  for (const auto& c : connected) {
    if (c.subnet.family() == addr.family() && c.subnet.contains(addr)) return c;
  }
  return std::nullopt;
}

// Non-overlapping prefixes by first address, for overlap checks in O(log n).
class PrefixSet {
 public:
  bool overlaps(const ip::Prefix& p) const {
    const auto first = p.first();
    if (auto it = byFirst_.upper_bound(first); it != byFirst_.begin()) {
      --it;  // the last one starting at or before p
      if (it->second.family() == p.family() && it->second.contains(first)) return true;
    }
    const auto it = byFirst_.lower_bound(first);
    return it != byFirst_.end() && it->second.family() == p.family() && it->first <= p.last();
  }
  void insert(const ip::Prefix& p) { byFirst_.emplace(p.first(), p.network()); }

 private:
  std::map<ip::Address, ip::Prefix> byFirst_;
};

}  // namespace

RoutePlan routesFor(const std::vector<Node>& nodes, std::string_view self,
                    const std::vector<Connected>& connected) {
  RoutePlan plan;
  PrefixSet taken;  // this node's CIDRs, then every routed one
  for (const auto& node : nodes) {
    if (node.name != self) continue;
    for (const auto& cidr : node.podCidrs) {
      if (!taken.overlaps(cidr)) taken.insert(cidr);
    }
  }
  for (const auto& node : nodes) {
    if (node.name == self) continue;
    for (const auto& cidr : node.podCidrs) {
      const auto skip = [&](std::string reason) {
        plan.skipped.push_back(Skipped{.node = node.name, .podCidr = cidr, .reason = std::move(reason)});
      };
      if (taken.overlaps(cidr)) {
        skip("conflict: overlaps a pod CIDR of this node or of another node");
        continue;
      }
      std::optional<Route> route;
      for (const auto& addr : node.addresses) {
        if (addr.family() != cidr.family()) continue;
        if (const auto path = pathTo(addr, connected)) {
          route = Route{
              .dst = cidr.network(),
              .gateway = addr,
              .oif = path->oif,
              .protocol = kRouteProtocol,
              .metric =
                  cidr.family() == ip::Family::kV6 ? std::optional<int>(kIpv6DefaultMetric) : std::nullopt,
          };
          break;
        }
      }
      if (!route) {
        skip(cidr.family() == ip::Family::kV4
                 ? "unreachable: no IPv4 address on a directly connected subnet"
                 : "unreachable: no IPv6 address on a directly connected subnet");
        continue;
      }
      taken.insert(cidr);
      plan.routes.push_back(std::move(*route));
    }
  }
  std::sort(plan.routes.begin(), plan.routes.end(),
            [](const Route& a, const Route& b) { return a.dst < b.dst; });
  return plan;
}

RouteDiff diffRoutes(const std::vector<Route>& wanted, const std::vector<Route>& kernel) {
  RouteDiff diff;
  std::multimap<Key, const Route*> byKey;
  for (const auto& k : kernel) byKey.emplace(keyOf(k), &k);
  std::set<Key> wantedKeys;
  for (const auto& w : wanted) {
    const auto key = keyOf(w);
    wantedKeys.insert(key);
    const auto [lo, hi] = byKey.equal_range(key);
    bool present = false;
    bool foreign = false;
    for (auto it = lo; it != hi; ++it) {
      present = present || *it->second == w;
      foreign = foreign || it->second->protocol != kRouteProtocol;
    }
    if (present) continue;
    if (foreign) {
      diff.blocked.push_back(w);
    } else {
      diff.replace.push_back(w);  // overwrites one of ours with the same key, if any
    }
  }
  // Ours under a wanted key is either right or overwritten by a replace above.
  for (const auto& k : kernel) {
    if (k.protocol == kRouteProtocol && wantedKeys.count(keyOf(k)) == 0) diff.remove.push_back(k);
  }
  return diff;
}

}  // namespace podnet::daemon
