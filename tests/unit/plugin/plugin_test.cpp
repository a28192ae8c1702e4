#include "plugin.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "transaction.hpp"

using namespace podnet;

namespace {
cni::Request request(const std::string& conf, const std::string& cniArgs = "") {
  auto parsed = cni::parseNetConf(conf, cni::Command::kAdd);
  REQUIRE(parsed.ok());
  auto args = cni::parseCniArgs(cniArgs);
  REQUIRE(args.ok());
  return {.env = {.command = cni::Command::kAdd, .containerId = "c1", .ifname = "eth0"},
          .conf = *parsed,
          .args = *args};
}
}  // namespace

TEST_CASE("plugin: host veth names are deterministic, short, and distinct") {
  const auto a = plugin::hostVethName("net", "container1", "eth0");
  CHECK(a == plugin::hostVethName("net", "container1", "eth0"));
  CHECK(a.size() == 14);
  CHECK(a.rfind("pn", 0) == 0);
  CHECK(a != plugin::hostVethName("net", "container1", "eth1"));
  CHECK(a != plugin::hostVethName("net2", "container1", "eth0"));
  // Field boundaries matter: ("ab","c") is not ("a","bc").
  CHECK(plugin::hostVethName("n", "ab", "c") != plugin::hostVethName("n", "a", "bc"));
  std::set<std::string> names;
  for (int i = 0; i < 10000; ++i)
    names.insert(plugin::hostVethName("podnet", "ctr" + std::to_string(i), "eth0"));
  CHECK(names.size() == 10000);
}

TEST_CASE("plugin: alias marks the network, hashed when too long") {
  CHECK(plugin::hostVethAlias("podnet") == "podnet:podnet");
  const auto longAlias = plugin::hostVethAlias(std::string(256, 'n'));
  CHECK(longAlias.size() <= 255);
  CHECK(longAlias.rfind("podnet:#", 0) == 0);
}

TEST_CASE("plugin: the host veth's MAC is derived from its name and marks an unfinished ADD") {
  CHECK(plugin::hostVethMac("pn0123456789ab") == "02:01:23:45:67:89");
  for (const char* bad : {"", "pn0123456789a", "pn0123456789abc", "eth0123456789a", "pn0123456789aG"})
    CHECK(plugin::hostVethMac(bad).empty());

  const auto name = plugin::hostVethName("net", "c1", "eth0");
  const netlink::Link finished{
      .name = name, .mac = "0a:00:00:00:00:01", .kind = "veth", .alias = plugin::hostVethAlias("net")};
  const netlink::Link unfinished{.name = name, .mac = plugin::hostVethMac(name), .kind = "veth"};
  CHECK(plugin::isHostVethOf(finished, "net"));
  CHECK_FALSE(plugin::isHostVethOf(finished, "other"));
  CHECK_FALSE(plugin::isUnfinishedHostVeth(finished));
  // Killed between the create and the alias: any network's DEL or GC takes it.
  CHECK(plugin::isUnfinishedHostVeth(unfinished));
  CHECK(plugin::isHostVethOf(unfinished, "net"));
  // Not podnet's: another MAC, another kind, or another program's alias.
  auto foreign = unfinished;
  foreign.mac = "0a:00:00:00:00:02";
  CHECK_FALSE(plugin::isHostVethOf(foreign, "net"));
  foreign = unfinished;
  foreign.kind = "bridge";
  CHECK_FALSE(plugin::isHostVethOf(foreign, "net"));
  foreign = unfinished;
  foreign.alias = "someone else";
  CHECK_FALSE(plugin::isHostVethOf(foreign, "net"));
}

TEST_CASE("plugin: config keys and their errors") {
  const std::string base =
      R"({"cniVersion":"1.0.0","name":"n","type":"podnet","ipam":{"type":"podnet-ipam"})";
  auto ok = plugin::parseConfig(request(base + R"(,"mtu":1400,"ipMasq":false})"));
  REQUIRE(ok.ok());
  CHECK(ok->mtu == 1400);
  CHECK(ok->ipamType == "podnet-ipam");
  CHECK_FALSE(ok->mac.has_value());

  auto mac = plugin::parseConfig(request(base + R"(,"runtimeConfig":{"mac":"0a:58:0a:00:00:05"}})"));
  REQUIRE(mac.ok());
  CHECK(mac->mac == "0a:58:0a:00:00:05");
  auto argMac = plugin::parseConfig(request(base + "}", "MAC=0a:58:0a:00:00:06"));
  REQUIRE(argMac.ok());
  CHECK(argMac->mac == "0a:58:0a:00:00:06");

  for (const char* bad :
       {R"(,"mtu":40})", R"(,"mtu":"1500")", R"(,"mtu":70000})", R"(,"ipMasq":"yes")",
        R"(,"runtimeConfig":{"mac":"zz:58:0a:00:00:05"}})", R"(,"runtimeConfig":{"mac":5}})"}) {
    CAPTURE(bad);
    std::string conf = base + bad;
    if (conf.back() != '}') conf += "}";
    auto r = plugin::parseConfig(request(conf));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code::kInvalidConfig);
  }
  auto noIpam = plugin::parseConfig(request(R"({"cniVersion":"1.0.0","name":"n","type":"podnet"})"));
  REQUIRE_FALSE(noIpam.ok());
  CHECK(noIpam.error().msg.find("ipam.type") != std::string::npos);
}

TEST_CASE("plugin: a transaction undoes in reverse unless committed") {
  std::string trail;
  {
    plugin::Transaction tx;
    tx.onFailure([&] { trail += "a"; });
    tx.onFailure([&] { trail += "b"; });
  }
  CHECK(trail == "ba");
  trail.clear();
  {
    plugin::Transaction tx;
    tx.onFailure([&] { trail += "a"; });
    tx.commit();
  }
  CHECK(trail.empty());
}
