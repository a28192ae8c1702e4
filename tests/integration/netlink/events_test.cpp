// netlink route events, in a fresh namespace; routes are changed with ip(8).
#include "podnet/netlink/events.hpp"

#include <doctest/doctest.h>
#include <poll.h>

#include <string>
#include <vector>

#include "../netns_fixture.hpp"
#include "podnet/netns/netns.hpp"

using podnet::netlink::EventSocket;
using podnet::netlink::Route;
using podnet::netlink::RouteEvent;
using podnet::testing::FreshNetns;

namespace {

// Polls and drains until `want` events arrived or two seconds passed.
std::vector<RouteEvent> collect(EventSocket& events, std::size_t want) {
  std::vector<RouteEvent> got;
  for (int i = 0; i < 20 && got.size() < want; ++i) {
    pollfd p{.fd = events.fd(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const auto drained = events.drain([&](const RouteEvent& e) {
      if (e.route.protocol == 77) got.push_back(e);
    });
    REQUIRE(drained.ok());
  }
  return got;
}

}  // namespace

TEST_CASE_FIXTURE(FreshNetns, "netlink: route events report adds and deletes") {
  ipOk("link add v0 type veth peer name v1");
  ipOk("link set v0 up");
  ipOk("addr add 10.0.0.1/24 dev v0");
  const int v0 = ipJson("link show dev v0")[0].at("ifindex").get<int>();

  auto events = EventSocket::open();
  REQUIRE(events.ok());
  // Nothing pending: drain returns at once.
  REQUIRE(events->drain([](const RouteEvent&) {}).ok());

  ipOk("route add 10.40.0.0/16 via 10.0.0.2 dev v0 proto 77");
  ipOk("route del 10.40.0.0/16 via 10.0.0.2 dev v0 proto 77");
  const Route route{.dst = *podnet::ip::Prefix::parse("10.40.0.0/16"),
                    .gateway = podnet::ip::Address::parse("10.0.0.2"),
                    .oif = v0,
                    .protocol = 77};
  const auto got = collect(*events, 2);
  CHECK(got == std::vector<RouteEvent>{{.kind = RouteEvent::Kind::kAdded, .route = route},
                                       {.kind = RouteEvent::Kind::kDeleted, .route = route}});
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: an event socket opened in another namespace sees only that one") {
  const std::string other = another();
  auto handle = podnet::netns::Handle::open(other);
  REQUIRE(handle.ok());
  auto events = EventSocket::openIn(*handle);
  REQUIRE(events.ok());
  ipOk("link add v0 type veth peer name v1");
  ipOk("link set v0 up");
  ipOk("route add 10.50.0.0/16 dev v0 proto 77");  // in the test namespace: not seen
  REQUIRE(sh(ip(other, "link add w0 type veth peer name w1")).status == 0);
  REQUIRE(sh(ip(other, "link set w0 up")).status == 0);
  REQUIRE(sh(ip(other, "route add 10.60.0.0/16 dev w0 proto 77")).status == 0);
  const auto got = collect(*events, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].route.dst == *podnet::ip::Prefix::parse("10.60.0.0/16"));
}
