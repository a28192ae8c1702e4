// netlink addresses and routes. Each case runs in a fresh namespace with a
// veth pair made by ip(8); the kernel is checked with ip(8).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "../netns_fixture.hpp"
#include "podnet/netlink/socket.hpp"

using podnet::ip::Address;
using podnet::ip::Family;
using podnet::ip::Prefix;
using podnet::netlink::Route;
using podnet::netlink::RouteFilter;
using podnet::netlink::Socket;
using podnet::testing::FreshNetns;

namespace {

constexpr int kOurs = 77;  // our routing protocol number

Prefix pfx(const char* text) { return *Prefix::parse(text); }
Address addr(const char* text) { return *Address::parse(text); }

// A veth pair v0 (10.0.0.1/24, fd00::1/64) <-> v1, both up; returns v0's index.
int makeUplink(FreshNetns& ns) {
  ns.ipOk("link add v0 type veth peer name v1");
  ns.ipOk("link set v0 up");
  ns.ipOk("link set v1 up");
  ns.ipOk("addr add 10.0.0.1/24 dev v0");
  ns.ipOk("-6 addr add fd00::1/64 dev v0 nodad");
  return ns.ipJson("link show dev v0")[0].at("ifindex").get<int>();
}

nlohmann::json addrInfo(FreshNetns& ns, const std::string& dev, const std::string& local) {
  const auto shown = ns.ipJson("addr show dev " + dev);
  for (const auto& a : shown.at(0).at("addr_info")) {
    if (a.at("local") == local) return a;
  }
  FAIL("address " << local << " not on " << dev);
  return {};
}

}  // namespace

TEST_CASE_FIXTURE(FreshNetns, "netlink: IPv4 and IPv6 addresses, nodad and noprefixroute") {
  const int v0 = makeUplink(*this);
  auto sock = Socket::open();
  REQUIRE(sock.ok());

  REQUIRE(sock->addAddress(v0, pfx("10.1.2.3/24")).ok());
  REQUIRE(sock->addAddress(v0, pfx("fd00::5/64"), {.nodad = true}).ok());
  REQUIRE(sock->addAddress(v0, pfx("fd00::6/64")).ok());  // control: DAD runs
  REQUIRE(sock->addAddress(v0, pfx("10.9.0.1/24"), {.noprefixroute = true}).ok());

  CHECK(addrInfo(*this, "v0", "10.1.2.3").at("prefixlen") == 24);
  const auto nodad = addrInfo(*this, "v0", "fd00::5");
  CHECK(nodad.at("prefixlen") == 64);
  CHECK_FALSE(nodad.contains("tentative"));
  CHECK(nodad.value("nodad", false));
  CHECK(addrInfo(*this, "v0", "fd00::6").value("tentative", false));

  const auto v4routes = ipJson("-4 route show table main dev v0");
  bool prefixRoute = false;
  bool noPrefixRoute = true;
  for (const auto& r : v4routes) {
    if (r.at("dst") == "10.1.2.0/24") prefixRoute = true;
    if (r.at("dst") == "10.9.0.0/24") noPrefixRoute = false;
  }
  CHECK(prefixRoute);
  CHECK(noPrefixRoute);

  const auto again = sock->addAddress(v0, pfx("10.1.2.3/24"));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().msg.find("10.1.2.3/24") != std::string::npos);
  CHECK(again.error().msg.find("File exists") != std::string::npos);

  const auto v4 = sock->addresses(v0, Family::kV4);
  REQUIRE(v4.ok());
  CHECK(*v4 == std::vector<Prefix>{pfx("10.0.0.1/24"), pfx("10.1.2.3/24"), pfx("10.9.0.1/24")});
  const auto v6 = sock->addresses(v0, Family::kV6);
  REQUIRE(v6.ok());
  for (const char* want : {"fd00::1/64", "fd00::5/64", "fd00::6/64"}) {
    CHECK(std::find(v6->begin(), v6->end(), pfx(want)) != v6->end());
  }
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: routes add, replace, dump and delete only our protocol's") {
  const int v0 = makeUplink(*this);
  auto sock = Socket::open();
  REQUIRE(sock.ok());
  // Somebody else's route (protocol static).
  ipOk("route add 10.20.0.0/16 via 10.0.0.2 dev v0 proto static");

  Route ours{.dst = pfx("10.10.0.0/16"), .gateway = addr("10.0.0.2"), .oif = v0, .protocol = kOurs};
  REQUIRE(sock->addRoute(ours).ok());
  auto shown = ipJson("route show table main proto 77");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].at("dst") == "10.10.0.0/16");
  CHECK(shown[0].at("gateway") == "10.0.0.2");
  CHECK(shown[0].at("dev") == "v0");

  const auto dup = sock->addRoute(ours);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().msg.find("10.10.0.0/16") != std::string::npos);
  CHECK(dup.error().msg.find("File exists") != std::string::npos);

  ours.gateway = addr("10.0.0.3");
  REQUIRE(sock->replaceRoute(ours).ok());
  shown = ipJson("route show table main proto 77");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].at("gateway") == "10.0.0.3");

  // The dump returns exactly what we wrote, and nothing of another protocol.
  const auto mine = sock->routes(Family::kV4, RouteFilter{.protocol = kOurs});
  REQUIRE(mine.ok());
  CHECK(*mine == std::vector<Route>{ours});
  const auto all = sock->routes(Family::kV4);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);  // ours, theirs, 10.0.0.0/24 proto kernel
  const auto onV0 = sock->routes(Family::kV4, RouteFilter{.table = std::nullopt, .oif = v0});
  REQUIRE(onV0.ok());
  CHECK(onV0->size() >= 3);  // plus the local table's

  // Deleting "our" version of their route touches nothing.
  const Route theirsAsOurs{
      .dst = pfx("10.20.0.0/16"), .gateway = addr("10.0.0.2"), .oif = v0, .protocol = kOurs};
  const auto notOurs = sock->deleteRoute(theirsAsOurs);
  REQUIRE(notOurs.ok());
  CHECK(*notOurs == false);
  CHECK(ipJson("route show table main proto static").size() == 1);

  const auto deleted = sock->deleteRoute(ours);
  REQUIRE(deleted.ok());
  CHECK(*deleted == true);
  CHECK(ipJson("route show table main proto 77").empty());
  const auto again = sock->deleteRoute(ours);
  REQUIRE(again.ok());
  CHECK(*again == false);
  CHECK(ipJson("route show table main proto static").size() == 1);
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: IPv6 routes round-trip with their metric") {
  const int v0 = makeUplink(*this);
  auto sock = Socket::open();
  REQUIRE(sock.ok());
  const Route route{.dst = pfx("fd10::/64"),
                    .gateway = addr("fd00::2"),
                    .oif = v0,
                    .table = 100,
                    .protocol = kOurs,
                    .metric = 1024};
  REQUIRE(sock->addRoute(route).ok());
  const auto shown = ipJson("-6 route show table 100");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].at("dst") == "fd10::/64");
  CHECK(shown[0].at("gateway") == "fd00::2");
  CHECK(shown[0].at("metric") == 1024);
  const auto dumped = sock->routes(Family::kV6, RouteFilter{.table = 100, .protocol = kOurs});
  REQUIRE(dumped.ok());
  CHECK(*dumped == std::vector<Route>{route});
  const auto deleted = sock->deleteRoute(route);
  REQUIRE(deleted.ok());
  CHECK(*deleted);
  CHECK(ipJson("-6 route show table 100").empty());
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: on-link gateway via a scope-link host route, or onlink") {
  const int v0 = makeUplink(*this);
  auto sock = Socket::open();
  REQUIRE(sock.ok());

  // Without a route to it, the gateway is refused, and the kernel says why.
  const Route viaUnknown{.dst = pfx("0.0.0.0/0"), .gateway = addr("169.254.1.1"), .oif = v0};
  const auto refused = sock->addRoute(viaUnknown);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().msg.find("0.0.0.0/0 via 169.254.1.1") != std::string::npos);
  CHECK_FALSE(refused.error().details.empty());  // extended ack, e.g. "Nexthop has invalid gateway"

  // As Calico: 169.254.1.1/32 dev v0 scope link; default via 169.254.1.1 dev v0.
  const Route gwHost{.dst = pfx("169.254.1.1/32"), .oif = v0, .scope = RT_SCOPE_LINK};
  REQUIRE(sock->addRoute(gwHost).ok());
  REQUIRE(sock->addRoute(viaUnknown).ok());
  const auto shown = ipJson("route show table main");
  bool sawHost = false;
  bool sawDefault = false;
  for (const auto& r : shown) {
    if (r.at("dst") == "169.254.1.1") {
      sawHost = true;
      CHECK(r.at("scope") == "link");
      CHECK(r.at("dev") == "v0");
    }
    if (r.at("dst") == "default") {
      sawDefault = true;
      CHECK(r.at("gateway") == "169.254.1.1");
      CHECK(r.at("dev") == "v0");
    }
  }
  CHECK(sawHost);
  CHECK(sawDefault);
  const auto dumped = sock->routes(Family::kV4, RouteFilter{.protocol = RTPROT_BOOT});
  REQUIRE(dumped.ok());
  CHECK(*dumped == std::vector<Route>{viaUnknown, gwHost});

  // Or the gateway is declared on-link, no route to it needed.
  const Route onlink{.dst = pfx("10.30.0.0/16"),
                     .gateway = addr("172.31.0.1"),
                     .oif = v0,
                     .protocol = kOurs,
                     .onlink = true};
  REQUIRE(sock->addRoute(onlink).ok());
  const auto withFlag = ipJson("route show table main proto 77");
  REQUIRE(withFlag.size() == 1);
  CHECK(withFlag[0].at("flags") == nlohmann::json::array({"onlink"}));
  const auto back = sock->routes(Family::kV4, RouteFilter{.protocol = kOurs});
  REQUIRE(back.ok());
  CHECK(*back == std::vector<Route>{onlink});
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: outputLink is the kernel's route lookup, nullopt when unrouted") {
  auto sock = Socket::open();
  REQUIRE(sock.ok());
  // A fresh namespace routes nothing outside.
  const auto none = sock->outputLink(addr("8.8.8.8"));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  const auto none6 = sock->outputLink(addr("2001:4860:4860::8888"));
  REQUIRE(none6.ok());
  CHECK_FALSE(none6->has_value());

  const int v0 = makeUplink(*this);
  ipOk("link add v2 type veth peer name v3");
  ipOk("link set v2 up");
  ipOk("link set v3 up");
  const int v2 = ipJson("link show dev v2")[0].at("ifindex").get<int>();
  ipOk("route add default via 10.0.0.2 dev v0");
  ipOk("-6 route add default via fd00::2 dev v0");
  CHECK(sock->outputLink(addr("8.8.8.8")).value() == std::optional<int>(v0));
  CHECK(sock->outputLink(addr("2001:4860:4860::8888")).value() == std::optional<int>(v0));
  // The most specific route wins, as it would for a packet.
  ipOk("route add 8.8.0.0/16 dev v2");
  CHECK(sock->outputLink(addr("8.8.8.8")).value() == std::optional<int>(v2));
  CHECK(sock->outputLink(addr("1.1.1.1")).value() == std::optional<int>(v0));
  // A route that sends nowhere is no link.
  ipOk("route add unreachable 9.9.9.0/24");
  ipOk("route add blackhole 9.9.8.0/24");
  CHECK_FALSE(sock->outputLink(addr("9.9.9.9")).value().has_value());
  CHECK_FALSE(sock->outputLink(addr("9.9.8.8")).value().has_value());
}
