// routesFor and diffRoutes: the pure part of the reconcile.
#include "routes.hpp"

#include <doctest/doctest.h>

#include "fake_kernel.hpp"

namespace podnet::daemon {
namespace {

using test::v4;
using test::v6;

Node node(std::string name, std::vector<const char*> addrs, std::vector<const char*> cidrs) {
  Node n{.name = std::move(name)};
  for (const auto* a : addrs) n.addresses.push_back(*ip::Address::parse(a));
  for (const auto* c : cidrs) n.podCidrs.push_back(*ip::Prefix::parse(c));
  return n;
}

const std::vector<Connected> kUnderlay{
    {.subnet = *ip::Prefix::parse("192.168.77.0/24"), .oif = 3},
    {.subnet = *ip::Prefix::parse("fd77::/64"), .oif = 3},
};

const std::vector<Node> kCluster{
    node("n1", {"192.168.77.11", "fd77::11"}, {"10.244.1.0/24", "fd00:10:244:1::/64"}),
    node("n2", {"192.168.77.12", "fd77::12"}, {"10.244.2.0/24", "fd00:10:244:2::/64"}),
    node("n3", {"192.168.77.13"}, {"10.244.3.0/24"}),
};

TEST_CASE("routesFor: same-L2 nodes get '<cidr> via <addr>', IPv4 and IPv6, self excluded") {
  const auto plan = routesFor(kCluster, "n1", kUnderlay);
  CHECK(plan.routes == std::vector<netlink::Route>{
                           v4("10.244.2.0/24", "192.168.77.12", 3),
                           v4("10.244.3.0/24", "192.168.77.13", 3),
                           v6("fd00:10:244:2::/64", "fd77::12", 3),
                       });
  CHECK(plan.skipped.empty());
  for (const auto& r : plan.routes) CHECK(r.protocol == kRouteProtocol);
}

TEST_CASE("routesFor: a node with no address on a connected subnet is reported, not guessed") {
  auto nodes = kCluster;
  nodes.push_back(node("far", {"10.9.9.9", "fd99::9"}, {"10.244.9.0/24", "fd00:10:244:9::/64"}));
  nodes.push_back(node("v4only", {"192.168.77.14"}, {"10.244.4.0/24", "fd00:10:244:4::/64"}));
  const auto plan = routesFor(nodes, "n1", kUnderlay);
  CHECK(plan.routes.size() == 4);  // n2 (both), n3, v4only's IPv4
  REQUIRE(plan.skipped.size() == 3);
  CHECK(plan.skipped[0].node == "far");
  CHECK(plan.skipped[0].reason.find("unreachable") == 0);
  CHECK(plan.skipped[1].node == "far");
  CHECK(plan.skipped[2] == Skipped{.node = "v4only",
                                   .podCidr = *ip::Prefix::parse("fd00:10:244:4::/64"),
                                   .reason = "unreachable: no IPv6 address on a directly connected subnet"});
}

TEST_CASE("routesFor: the first address on a connected subnet is the gateway, on that subnet's link") {
  const std::vector<Connected> two{{.subnet = *ip::Prefix::parse("192.168.77.0/24"), .oif = 3},
                                   {.subnet = *ip::Prefix::parse("172.16.0.0/16"), .oif = 7}};
  const auto plan = routesFor(
      {node("n1", {}, {}), node("n2", {"10.1.1.1", "172.16.5.5", "192.168.77.12"}, {"10.244.2.0/24"})}, "n1",
      two);
  CHECK(plan.routes == std::vector<netlink::Route>{v4("10.244.2.0/24", "172.16.5.5", 7)});
}

TEST_CASE("routesFor: pod CIDRs overlapping this node's are conflicts, no connected subnet means no routes") {
  const auto plan = routesFor(
      {node("n1", {"192.168.77.11"}, {"10.244.0.0/16"}), node("n2", {"192.168.77.12"}, {"10.244.2.0/24"})},
      "n1", kUnderlay);
  CHECK(plan.routes.empty());
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].reason.find("conflict") == 0);
  CHECK(routesFor(kCluster, "n1", {}).routes.empty());
  CHECK(routesFor(kCluster, "n1", {}).skipped.size() == 3);
}

TEST_CASE("routesFor: a pod CIDR already routed to another node is a conflict, not a second route") {
  const auto plan = routesFor(
      {node("n2", {"192.168.77.12"}, {"10.244.0.0/16"}), node("n3", {"192.168.77.13"}, {"10.244.3.0/24"})},
      "n1", kUnderlay);
  CHECK(plan.routes == std::vector<netlink::Route>{v4("10.244.0.0/16", "192.168.77.12", 3)});
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].node == "n3");
}

TEST_CASE("routesFor: an unknown self routes every node") {
  CHECK(routesFor(kCluster, "elsewhere", kUnderlay).routes.size() == 5);
}

TEST_CASE("diffRoutes: adds missing, leaves right ones alone, replaces changed, deletes stale") {
  const std::vector<netlink::Route> wanted{v4("10.244.2.0/24", "192.168.77.12", 3),
                                           v4("10.244.3.0/24", "192.168.77.13", 3),
                                           v6("fd00:10:244:2::/64", "fd77::12", 3)};
  const std::vector<netlink::Route> kernel{
      v4("10.244.2.0/24", "192.168.77.12", 3),  // right
      v4("10.244.3.0/24", "192.168.77.99", 3),  // changed gateway
      v4("10.244.5.0/24", "192.168.77.15", 3),  // stale: node gone
      v6("fd00:10:244:5::/64", "fd77::15", 3),  // stale too
  };
  const auto diff = diffRoutes(wanted, kernel);
  CHECK(diff.replace == std::vector<netlink::Route>{v4("10.244.3.0/24", "192.168.77.13", 3),
                                                    v6("fd00:10:244:2::/64", "fd77::12", 3)});
  CHECK(diff.remove == std::vector<netlink::Route>{v4("10.244.5.0/24", "192.168.77.15", 3),
                                                   v6("fd00:10:244:5::/64", "fd77::15", 3)});
  CHECK(diff.blocked.empty());
}

TEST_CASE("diffRoutes: a kernel that is already right needs nothing (no flap on restart)") {
  const auto plan = routesFor(kCluster, "n1", kUnderlay);
  CHECK(diffRoutes(plan.routes, plan.routes).empty());
  // Dumped IPv6 routes always carry metric 1024; wanted ones must too.
  for (const auto& r : plan.routes) {
    if (!r.dst.addr.isV4()) CHECK(r.metric == kIpv6DefaultMetric);
  }
}

TEST_CASE("diffRoutes: routes of other protocols are never touched") {
  const std::vector<netlink::Route> kernel{
      v4("10.244.7.0/24", "192.168.77.17", 3, RTPROT_BOOT),    // someone else's, not wanted: kept
      v4("10.244.2.0/24", "192.168.77.50", 3, RTPROT_STATIC),  // someone else's, same key as a wanted one
      v4("192.168.77.0/24", "192.168.77.1", 3, RTPROT_KERNEL),
  };
  const auto diff = diffRoutes({v4("10.244.2.0/24", "192.168.77.12", 3)}, kernel);
  CHECK(diff.replace.empty());
  CHECK(diff.remove.empty());
  CHECK(diff.blocked == std::vector<netlink::Route>{v4("10.244.2.0/24", "192.168.77.12", 3)});
}

TEST_CASE("diffRoutes: an IPv4 route without a metric and one with metric 0 share a key") {
  auto withZero = v4("10.244.2.0/24", "192.168.77.50", 3, RTPROT_STATIC);
  withZero.metric = 0;
  CHECK(diffRoutes({v4("10.244.2.0/24", "192.168.77.12", 3)}, {withZero}).blocked.size() == 1);
}

}  // namespace
}  // namespace podnet::daemon
