#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace podnet;
using namespace podnet::ipam;
using podnet::ipam::test::addr;
using podnet::ipam::test::netConf;

namespace {

// Parses and expects code 7 with `needle` in the message.
void expectConfigError(const std::string& ipam, const std::string& needle, const std::string& extra = "") {
  auto c = parseConfig(netConf(ipam, extra));
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == code::kInvalidConfig);
  CHECK_MESSAGE(c.error().msg.find(needle) != std::string::npos, c.error().msg);
}

}  // namespace

TEST_CASE("ipam config: IPv4 defaults as host-local") {
  auto c = test::config(R"({"type":"podnet-ipam","subnet":"10.1.2.77/24"})");
  REQUIRE(c.rangeSets.size() == 1);
  const Range& r = c.rangeSets[0][0];
  CHECK(r.subnet.str() == "10.1.2.0/24");
  CHECK(r.gateway == addr("10.1.2.1"));
  CHECK(r.start == addr("10.1.2.1"));
  CHECK(r.end == addr("10.1.2.254"));
  CHECK(c.storeDir == "/var/lib/cni/networks/net1");
  CHECK(c.network == "net1");
  CHECK_FALSE(c.syncLeases);  // as host-local: no fsync unless asked
}

TEST_CASE("ipam config: syncLeases is a boolean") {
  CHECK(test::config(R"({"subnet":"10.1.2.0/24","syncLeases":true})").syncLeases);
  CHECK_FALSE(test::config(R"({"subnet":"10.1.2.0/24","syncLeases":false})").syncLeases);
  expectConfigError(R"({"subnet":"10.1.2.0/24","syncLeases":"yes"})",
                    "ipam.syncLeases must be true or false");
}

TEST_CASE("ipam config: IPv6 defaults end at the last address") {
  auto c = test::config(R"({"ranges":[[{"subnet":"fd00:1::/64"}]]})");
  const Range& r = c.rangeSets[0][0];
  CHECK(r.gateway == addr("fd00:1::1"));
  CHECK(r.start == addr("fd00:1::1"));
  CHECK(r.end == addr("fd00:1::ffff:ffff:ffff:ffff"));
}

TEST_CASE("ipam config: explicit fields, legacy range first, ipRanges capability before both") {
  auto c = test::config(R"({"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.20",
      "gateway":"10.0.0.254","dataDir":"/tmp/pn/","resolvConf":"/etc/x.conf",
      "routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.0.0.254"}],
      "ranges":[[{"subnet":"fd00::/120"}]]})");
  REQUIRE(c.rangeSets.size() == 2);
  CHECK(c.rangeSets[0][0].start == addr("10.0.0.10"));
  CHECK(c.rangeSets[0][0].end == addr("10.0.0.20"));
  CHECK(c.rangeSets[0][0].gateway == addr("10.0.0.254"));
  CHECK(c.rangeSets[1][0].subnet.str() == "fd00::/120");
  CHECK(c.storeDir == "/tmp/pn/net1");
  CHECK(c.resolvConf == "/etc/x.conf");
  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[0].dst.str() == "0.0.0.0/0");
  CHECK_FALSE(c.routes[0].gw.has_value());
  CHECK(c.routes[1].gw == addr("10.0.0.254"));

  auto withCap = parseConfig(netConf(R"({"ranges":[[{"subnet":"10.0.0.0/24"}]]})",
                                     R"(,"runtimeConfig":{"ipRanges":[[{"subnet":"10.9.0.0/24"}]]})"));
  REQUIRE(withCap.ok());
  REQUIRE(withCap->rangeSets.size() == 2);
  CHECK(withCap->rangeSets[0][0].subnet.str() == "10.9.0.0/24");
}

TEST_CASE("ipam config: every error is code 7 and names its field") {
  expectConfigError(R"({})", "no IP ranges");
  expectConfigError(R"({"ranges":[]})", "no IP ranges");
  expectConfigError(R"({"ranges":[[]]})", "ipam.ranges[0] is an empty range set");
  expectConfigError(R"({"ranges":{}})", "ipam.ranges must be a list");
  expectConfigError(R"({"ranges":[[{"gateway":"10.0.0.1"}]]})", "ipam.ranges[0][0].subnet is required");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0"}]]})",
                    "ipam.ranges[0][0].subnet \"10.0.0.0\" is not a CIDR");
  expectConfigError(R"({"ranges":[[{"subnet":42}]]})", "ipam.ranges[0][0].subnet must be a string");
  expectConfigError(R"({"subnet":"10.0.0.0/24","gateway":"10.0.1.1"})",
                    "ipam.gateway 10.0.1.1 is outside subnet 10.0.0.0/24");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24","gateway":"fd00::1"}]]})",
                    "ipam.ranges[0][0].gateway fd00::1 is outside subnet");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.5"}]]})",
                    "ipam.ranges[0][0].rangeStart 10.0.1.5 is outside subnet 10.0.0.0/24");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.2.5"}]]})",
                    "ipam.ranges[0][0].rangeEnd 10.0.2.5 is outside subnet");
  expectConfigError(
      R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50","rangeEnd":"10.0.0.40"}]]})",
      "ipam.ranges[0][0].rangeStart 10.0.0.50 is after ipam.ranges[0][0].rangeEnd 10.0.0.40");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"banana"}]]})",
                    "ipam.ranges[0][0].rangeStart \"banana\" is not an IP address");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]})",
                    "ipam.ranges[0][1].subnet fd00::/64 mixes address families");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.0.128/25"}]]})",
                    "ipam.ranges[0][1] overlaps ipam.ranges[0][0]");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/16"}]]})",
                    "ipam.ranges[1] overlaps ipam.ranges[0]");
  expectConfigError(R"({"subnet":"10.0.0.0/24","ranges":[[{"subnet":"10.0.0.0/25"}]]})",
                    "ipam.ranges[0] overlaps ipam");
  expectConfigError(R"({"rangeStart":"10.0.0.5"})", "ipam.rangeStart is set but ipam.subnet is missing");
  expectConfigError(R"({"subnet":"10.0.0.0/24","dataDir":"relative/dir"})",
                    "ipam.dataDir \"relative/dir\" must be");
  expectConfigError(R"({"subnet":"10.0.0.0/24","routes":[{"gw":"10.0.0.1"}]})",
                    "ipam.routes[0].dst is required");
  expectConfigError(R"({"subnet":"10.0.0.0/24","routes":[{"dst":"fd00::/8","gw":"10.0.0.1"}]})",
                    "ipam.routes[0].gw 10.0.0.1 is not of the family");
  expectConfigError(R"({"ranges":[[{"subnet":"10.0.0.0/24"}]]})",
                    "runtimeConfig.ipRanges[0][0].subnet is required",
                    R"(,"runtimeConfig":{"ipRanges":[[{}]]})");
}

TEST_CASE("ipam config: /31, /32, /127 and /128 are too small; /30 and /126 are not") {
  for (const char* subnet : {"10.0.0.0/31", "10.0.0.4/32", "fd00::/127", "fd00::/128"}) {
    CAPTURE(subnet);
    expectConfigError(std::string(R"({"ranges":[[{"subnet":")") + subnet + R"("}]]})",
                      "ipam.ranges[0][0].subnet");
    auto c = parseConfig(netConf(std::string(R"({"ranges":[[{"subnet":")") + subnet + R"("}]]})"));
    CHECK(c.error().msg.find("too small to allocate from") != std::string::npos);
  }
  CHECK(parseConfig(netConf(R"({"subnet":"10.0.0.0/30"})")).ok());
  CHECK(parseConfig(netConf(R"({"subnet":"fd00::/126"})")).ok());
}

TEST_CASE("ipam config: ranges sharing a subnet without overlapping are fine") {
  auto c = test::config(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.99"},
      {"subnet":"10.0.0.0/24","rangeStart":"10.0.0.100"}]]})");
  CHECK(c.rangeSets[0].size() == 2);
}

TEST_CASE("ipam config: requested addresses from CNI_ARGS, args and the ips capability") {
  auto conf =
      netConf(R"({"subnet":"10.0.0.0/24"})",
              R"(,"args":{"cni":{"ips":["10.0.0.7"]}},"runtimeConfig":{"ips":["10.0.0.5/24","fd00::9"]})");
  auto args = cni::parseCniArgs("IgnoreUnknown=1;IP=10.0.0.3, 10.0.0.4;K8S_POD_NAME=x");
  REQUIRE(args.ok());
  auto got = requestedAddresses(conf, *args);
  REQUIRE(got.ok());
  CHECK(*got == std::vector<ip::Address>{addr("10.0.0.3"), addr("10.0.0.4"), addr("10.0.0.7"),
                                         addr("10.0.0.5"), addr("fd00::9")});

  auto bad = requestedAddresses(
      netConf(R"({"subnet":"10.0.0.0/24"})", R"(,"runtimeConfig":{"ips":["10.0.0.x"]})"), cni::CniArgs{});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == code::kInvalidConfig);
  CHECK(bad.error().msg.find("runtimeConfig.ips[0]") != std::string::npos);

  auto badArg = requestedAddresses(conf, *cni::parseCniArgs("IP=300.1.1.1"));
  REQUIRE_FALSE(badArg.ok());
  CHECK(badArg.error().msg.find("CNI_ARGS IP") != std::string::npos);
}

TEST_CASE("ipam config: resolv.conf as host-local reads it") {
  auto dns = parseResolvConfText(
      "# comment\n; other\nnameserver 10.0.0.10\nnameserver fd00::10\ndomain example.org\n"
      "search a.example b.example\noptions ndots:5 rotate\nbogus\n");
  CHECK(dns.nameservers == std::vector<std::string>{"10.0.0.10", "fd00::10"});
  CHECK(dns.domain == "example.org");
  CHECK(dns.search == std::vector<std::string>{"a.example", "b.example"});
  CHECK(dns.options == std::vector<std::string>{"ndots:5", "rotate"});
  auto missing = parseResolvConf("/nonexistent/resolv.conf");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == code::kIo);
}
