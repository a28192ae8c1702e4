// netlink links: veth pairs across namespaces, lookups, up/MTU, deletion.
// Each case runs in a fresh namespace; the kernel is checked with ip(8).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "../netns_fixture.hpp"
#include "podnet/netlink/socket.hpp"
#include "podnet/netns/netns.hpp"

using podnet::netlink::Link;
using podnet::netlink::Socket;
using podnet::netlink::VethSpec;
using podnet::netns::Handle;
using podnet::testing::FreshNetns;

namespace {

// The single object `ip -j link show dev <name>` prints in `ns`.
nlohmann::json ipLink(const std::string& ns, const std::string& name) {
  const auto links = FreshNetns::ipJson(ns, "-d link show dev " + name);
  REQUIRE(links.size() == 1);
  return links[0];
}

bool ipHasLink(const std::string& ns, const std::string& name) {
  return FreshNetns::sh(FreshNetns::ip(ns, "link show dev " + name)).status == 0;
}

bool hasFlag(const nlohmann::json& link, const std::string& flag) {
  const auto& flags = link.at("flags");
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

}  // namespace

TEST_CASE_FIXTURE(FreshNetns, "netlink: veth peer is created directly in the other namespace") {
  const std::string podPath = another();
  auto pod = Handle::open(podPath);
  REQUIRE(pod.ok());
  auto sock = Socket::open();
  REQUIRE(sock.ok());

  const auto created = sock->createVeth(VethSpec{.hostName = "veth1234",
                                                 .peerName = "eth0",
                                                 .peerNetns = &*pod,
                                                 .mtu = 1400,
                                                 .hostMac = "ee:ee:ee:ee:ee:ee",
                                                 .peerMac = "0A:58:0A:F4:01:05"});
  const std::string why = created.ok() ? "" : created.error().msg;
  INFO(why);
  REQUIRE(created.ok());
  // The alias is its own request: the kernel ignores IFLA_IFALIAS in a create.
  const auto made = sock->link("veth1234");
  REQUIRE(made.ok());
  REQUIRE(made->has_value());
  REQUIRE(sock->setAlias((*made)->index, "podnet net1").ok());

  const auto host = ipLink(path(), "veth1234");
  CHECK(host.at("mtu") == 1400);
  CHECK(host.at("address") == "ee:ee:ee:ee:ee:ee");
  CHECK(host.at("linkinfo").at("info_kind") == "veth");
  CHECK(host.at("ifalias") == "podnet net1");
  CHECK_FALSE(ipHasLink(path(), "eth0"));

  const auto peer = ipLink(podPath, "eth0");
  CHECK(peer.at("mtu") == 1400);
  CHECK(peer.at("address") == "0a:58:0a:f4:01:05");
  CHECK(peer.at("linkinfo").at("info_kind") == "veth");
  CHECK_FALSE(ipHasLink(podPath, "veth1234"));
  // One queue each way on both ends: the kernel then has no queues to cut
  // (and no RCU grace period to wait for) after registering them.
  for (const auto& end : {host, peer}) {
    CHECK(end.at("num_tx_queues") == 1);
    CHECK(end.at("num_rx_queues") == 1);
  }

  // Our reading agrees with ip's.
  const auto link = sock->link("veth1234");
  REQUIRE(link.ok());
  REQUIRE(link->has_value());
  CHECK(**link == Link{.index = host.at("ifindex").get<int>(),
                       .name = "veth1234",
                       .mac = "ee:ee:ee:ee:ee:ee",
                       .mtu = 1400,
                       .up = false,
                       .kind = "veth",
                       .masterIndex = 0,
                       .alias = "podnet net1"});
  const auto byIndex = sock->link(host.at("ifindex").get<int>());
  REQUIRE(byIndex.ok());
  CHECK(*byIndex == *link);
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: creating an existing veth fails naming it; delete is idempotent") {
  auto pod = Handle::open(another());
  REQUIRE(pod.ok());
  auto sock = Socket::open();
  REQUIRE(sock.ok());
  const VethSpec spec{.hostName = "veth77", .peerName = "eth0", .peerNetns = &*pod};
  REQUIRE(sock->createVeth(spec).ok());

  const auto again = sock->createVeth(spec);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == podnet::code::kIo);
  CHECK(again.error().msg.find("veth77") != std::string::npos);
  CHECK(again.error().msg.find("File exists") != std::string::npos);

  const auto badMac = sock->createVeth(VethSpec{.hostName = "veth78", .peerName = "p78", .hostMac = "zz"});
  REQUIRE_FALSE(badMac.ok());
  CHECK(badMac.error().code == podnet::code::kInvalidConfig);
  const auto badName = sock->createVeth(VethSpec{.hostName = "a/b", .peerName = "p78"});
  CHECK_FALSE(badName.ok());
  CHECK_FALSE(ipHasLink(path(), "veth78"));

  const auto first = sock->deleteLink("veth77");
  REQUIRE(first.ok());
  CHECK(*first == true);
  CHECK_FALSE(ipHasLink(path(), "veth77"));
  CHECK_FALSE(ipHasLink(pod->path(), "eth0"));  // the pair goes together
  const auto second = sock->deleteLink("veth77");
  REQUIRE(second.ok());
  CHECK(*second == false);

  const auto gone = sock->link("veth77");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: openIn configures the pod side without entering it") {
  const std::string podPath = another();
  auto pod = Handle::open(podPath);
  REQUIRE(pod.ok());
  auto host = Socket::open();
  REQUIRE(host.ok());
  REQUIRE(host->createVeth(VethSpec{.hostName = "vethA", .peerName = "eth0", .peerNetns = &*pod}).ok());

  const ino_t home = currentInode();
  auto inPod = Socket::openIn(*pod);
  REQUIRE(inPod.ok());
  CHECK(currentInode() == home);

  const auto eth0 = inPod->link("eth0");
  REQUIRE(eth0.ok());
  REQUIRE(eth0->has_value());
  const auto notHere = host->link("eth0");
  REQUIRE(notHere.ok());
  CHECK_FALSE(notHere->has_value());

  REQUIRE(inPod->setMtu((*eth0)->index, 1300).ok());
  REQUIRE(inPod->setUp((*eth0)->index).ok());
  const auto veth = host->link("vethA");
  REQUIRE(veth.ok());
  REQUIRE(veth->has_value());
  REQUIRE(host->setUp((*veth)->index).ok());

  const auto podLink = ipLink(podPath, "eth0");
  CHECK(podLink.at("mtu") == 1300);
  CHECK(hasFlag(podLink, "UP"));
  CHECK(hasFlag(ipLink(path(), "vethA"), "UP"));
  const auto after = inPod->link("eth0");
  REQUIRE(after.ok());
  CHECK((*after)->up);
  CHECK((*after)->mtu == 1300);

  REQUIRE(inPod->setDown((*eth0)->index).ok());
  CHECK_FALSE(hasFlag(ipLink(podPath, "eth0"), "UP"));

  // links() lists the namespace's links: lo and eth0 in the pod.
  const auto all = inPod->links();
  REQUIRE(all.ok());
  std::vector<std::string> names;
  for (const auto& l : *all) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"eth0", "lo"});
  CHECK(currentInode() == home);
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: errors on missing links name the link") {
  auto sock = Socket::open();
  REQUIRE(sock.ok());
  const auto up = sock->setUp(4242);
  REQUIRE_FALSE(up.ok());
  CHECK(up.error().msg.find("4242") != std::string::npos);
  CHECK(up.error().msg.find("No such device") != std::string::npos);
  const auto none = sock->link(4242);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE_FIXTURE(FreshNetns, "netlink: deleteLinkThen's work may reuse the link's route at once") {
  const std::string podPath = another();
  auto pod = Handle::open(podPath);
  REQUIRE(pod.ok());
  auto sock = Socket::open();
  auto other = Socket::open();
  REQUIRE(sock.ok());
  REQUIRE(other.ok());
  const auto route = [](int oif) {
    return podnet::netlink::Route{
        .dst = *podnet::ip::Prefix::parse("10.99.0.7/32"), .oif = oif, .scope = RT_SCOPE_LINK};
  };
  int index[2] = {};
  const char* names[2] = {"vethD", "vethF"};
  for (int i = 0; i < 2; ++i) {
    REQUIRE(sock->createVeth(VethSpec{.hostName = names[i],
                                      .peerName = std::string("eth") + std::to_string(i),
                                      .peerNetns = &*pod})
                .ok());
    const auto link = sock->link(names[i]);
    REQUIRE(link.ok());
    REQUIRE(link->has_value());
    index[i] = (*link)->index;
    REQUIRE(sock->setUp(index[i]).ok());
  }
  REQUIRE(sock->addRoute(route(index[0])).ok());
  REQUIRE_FALSE(other->addRoute(route(index[1])).ok());  // the key is taken while vethD lives

  // The plugin's DEL: the work releases the address, which the next pod's
  // route then takes. The kernel must have let go of it by then.
  int calls = 0;
  podnet::Status reused;
  const auto deleted = sock->deleteLinkThen("vethD", [&] {
    ++calls;
    reused = other->addRoute(route(index[1]));
  });
  REQUIRE(deleted.ok());
  CHECK(*deleted);
  CHECK(calls == 1);
  INFO((reused.ok() ? std::string() : reused.error().msg));
  CHECK(reused.ok());
  CHECK_FALSE(ipHasLink(path(), "vethD"));
  CHECK_FALSE(ipHasLink(pod->path(), "eth0"));

  // Nothing to delete: the work still runs, once.
  calls = 0;
  const auto none = sock->deleteLinkThen("vethD", [&] { ++calls; });
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
  CHECK(calls == 1);

  // A request that fails: the work does not run.
  calls = 0;
  const auto bad = sock->deleteLinkThen("a/b", [&] { ++calls; });
  CHECK_FALSE(bad.ok());
  CHECK(calls == 0);

  // Called from another namespace (no notifications to be had there): after the deletion.
  calls = 0;
  auto fromPod = podnet::netns::run(*pod, [&] { return sock->deleteLinkThen("vethF", [&] { ++calls; }); });
  REQUIRE(fromPod.ok());
  CHECK(*fromPod);
  CHECK(calls == 1);
  CHECK_FALSE(ipHasLink(path(), "vethF"));
}
