// netlink Batch: several changes in one sendmsg, one ack each. Each case runs
// in a fresh namespace; the kernel is checked with ip(8).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "../netns_fixture.hpp"
#include "podnet/netlink/socket.hpp"

using podnet::ip::Prefix;
using podnet::netlink::Batch;
using podnet::netlink::Socket;
using podnet::testing::FreshNetns;

namespace {

Prefix pfx(const char* text) { return *Prefix::parse(text); }

int indexOf(FreshNetns& ns, const std::string& dev) {
  return ns.ipJson("link show dev " + dev)[0].at("ifindex").get<int>();
}

}  // namespace

TEST_CASE_FIXTURE(FreshNetns, "netlink: a batch applies its changes in order, in one send") {
  ipOk("link add b0 type veth peer name b1");
  const int b0 = indexOf(*this, "b0");
  auto sock = Socket::open();
  REQUIRE(sock.ok());

  Batch batch(*sock);
  batch.addAddress(b0, pfx("10.5.0.1/32"), {.nodad = true, .noprefixroute = true});
  batch.setUp(b0);
  // Needs the link up (the line before), then the route after it.
  batch.addRoute({.dst = pfx("10.5.0.9/32"), .oif = b0, .scope = RT_SCOPE_LINK});
  batch.addRoute({.dst = pfx("10.6.0.0/16"), .gateway = pfx("10.5.0.9/32").addr, .oif = b0});
  CHECK(batch.size() == 4);
  const auto sent = batch.send();
  INFO((sent.ok() ? std::string() : sent.error().msg));
  REQUIRE(sent.ok());
  CHECK(batch.size() == 0);

  const auto link = ipJson("link show dev b0")[0];
  const auto& flags = link.at("flags");
  CHECK(std::find(flags.begin(), flags.end(), "UP") != flags.end());
  CHECK(ipJson("addr show dev b0")[0].at("addr_info")[0].at("local") == "10.5.0.1");
  CHECK(ipJson("route show 10.5.0.9/32").size() == 1);
  CHECK(ipJson("route show 10.6.0.0/16").at(0).at("gateway") == "10.5.0.9");

  // An empty batch sends nothing and succeeds.
  Batch empty(*sock);
  CHECK(empty.send().ok());
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: a failing change in a batch is reported, the rest still applied") {
  ipOk("link add b0 type veth peer name b1");
  ipOk("link set b0 up");
  const int b0 = indexOf(*this, "b0");
  ipOk("route add 10.7.0.0/16 dev b0");
  auto sock = Socket::open();
  REQUIRE(sock.ok());

  Batch batch(*sock);
  batch.addRoute({.dst = pfx("10.7.0.0/16"), .oif = b0, .scope = RT_SCOPE_LINK});  // exists: EEXIST
  batch.addRoute({.dst = pfx("10.8.0.0/16"), .oif = b0, .scope = RT_SCOPE_LINK});
  batch.addRoute({.dst = pfx("10.7.0.0/16"), .oif = b0, .scope = RT_SCOPE_LINK});  // the second failure
  const auto sent = batch.send();
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().code == podnet::code::kIo);
  CHECK(sent.error().msg.find("add route 10.7.0.0/16") == 0);
  CHECK(sent.error().msg.find("File exists") != std::string::npos);
  CHECK(ipJson("route show 10.8.0.0/16").size() == 1);

  // The socket is in step afterwards: its next request gets its own answer.
  const auto lookedUp = sock->link("b0");
  REQUIRE(lookedUp.ok());
  REQUIRE(lookedUp->has_value());
  CHECK((*lookedUp)->index == b0);

  // A change that cannot even be built fails the batch before anything is sent.
  Batch bad(*sock);
  bad.addRoute({.dst = pfx("10.9.0.0/16"), .oif = b0, .scope = RT_SCOPE_LINK});
  bad.addRoute({.dst = pfx("10.9.0.1/16"), .oif = b0});  // host bits set
  CHECK_FALSE(bad.send().ok());
  CHECK(ipJson("route show 10.9.0.0/16").empty());
}
