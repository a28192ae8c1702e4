// The etcd source's pure side: base64, key layout, lease values, free subnets.
#include "subnet_lease.hpp"

#include <doctest/doctest.h>

#include <set>

namespace podnet::daemon {
namespace {

ip::Prefix P(const char* text) { return *ip::Prefix::parse(text); }
ip::Address A(const char* text) { return *ip::Address::parse(text); }

TEST_CASE("subnet lease: base64 round trip and RFC 4648 vectors") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"},
                                                         {"/p/a", "L3AvYQ=="}};
  for (const auto& [plain, coded] : vectors) {
    CHECK(etcd::base64Encode(plain) == coded);
    CHECK(etcd::base64Decode(coded) == std::optional<std::string>(plain));
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  CHECK(etcd::base64Decode(etcd::base64Encode(all)) == all);
  CHECK(etcd::base64Encode("\xff\xfe") == "//4=");
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zm9", "Zm=v"}) {
    INFO(bad);
    CHECK_FALSE(etcd::base64Decode(bad));
  }
}

TEST_CASE("subnet lease: a prefix's range end") {
  CHECK(prefixRangeEnd("/podnet/subnets/") == "/podnet/subnets0");
  CHECK(prefixRangeEnd("a\xff") == "b");
  CHECK(prefixRangeEnd("\xff\xff") == std::string(1, '\0'));
}

TEST_CASE("subnet lease: keys name the subnet, both families") {
  CHECK(subnetKey("/podnet/subnets/", P("10.244.3.0/24")) == "/podnet/subnets/10.244.3.0-24");
  CHECK(subnetKey("/p/", P("fd00:10:244:3::/64")) == "/p/fd00:10:244:3::-64");
  CHECK(parseSubnetKey("/p/", "/p/10.244.3.0-24") == P("10.244.3.0/24"));
  CHECK(parseSubnetKey("/p/", "/p/fd00:10:244:3::-64") == P("fd00:10:244:3::/64"));
  CHECK_FALSE(parseSubnetKey("/p/", "/q/10.244.3.0-24"));  // other prefix
  CHECK_FALSE(parseSubnetKey("/p/", "/p/"));
  CHECK_FALSE(parseSubnetKey("/p/", "/p/10.244.3.1-24"));  // host bits
  CHECK_FALSE(parseSubnetKey("/p/", "/p/10.244.3.0/24"));  // not our layout
  CHECK_FALSE(parseSubnetKey("/p/", "/p/10.244.3.0-33"));
  CHECK_FALSE(parseSubnetKey("/p/", "/p/node1"));
}

TEST_CASE("subnet lease: values round trip and are validated") {
  const Node node{
      .name = "node3", .addresses = {A("192.168.77.13"), A("fd77::13")}, .podCidrs = {P("10.244.3.0/24")}};
  const auto text = encodeLeaseValue(node);
  CHECK(text == R"({"name":"node3","addresses":["192.168.77.13","fd77::13"],"podCIDRs":["10.244.3.0/24"]})");
  const auto back = decodeLeaseValue(text);
  REQUIRE(back.ok());
  CHECK(*back == node);
  struct Case {
    const char* value;
    int code;
  };
  const Case bad[] = {{"{", code::kDecode},
                      {"[]", code::kInvalidConfig},
                      {R"({"addresses": []})", code::kInvalidConfig},
                      {R"({"name": ""})", code::kInvalidConfig},
                      {R"({"name": "n", "addresses": "1.2.3.4"})", code::kInvalidConfig},
                      {R"({"name": "n", "addresses": ["1.2.3"]})", code::kInvalidConfig},
                      {R"({"name": "n", "podCIDRs": [7]})", code::kInvalidConfig},
                      {R"({"name": "n", "podCIDRs": ["10.0.0.1/24"]})", code::kInvalidConfig}};
  for (const auto& c : bad) {
    INFO(c.value);
    const auto r = decodeLeaseValue(c.value);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
  }
}

TEST_CASE("subnet lease: free subnets skip every used one, in address order") {
  const auto cidr = P("10.244.0.0/16");
  auto free = freeSubnets(cidr, 24, {}, 3);
  CHECK(free == std::vector{P("10.244.0.0/24"), P("10.244.1.0/24"), P("10.244.2.0/24")});
  free = freeSubnets(cidr, 24, {P("10.244.0.0/24"), P("10.244.2.0/24"), P("fd00::/64")}, 3);
  CHECK(free == std::vector{P("10.244.1.0/24"), P("10.244.3.0/24"), P("10.244.4.0/24")});
  // A used range of another length blocks every subnet it overlaps.
  free = freeSubnets(cidr, 24, {P("10.244.0.0/23"), P("10.244.2.128/25"), P("10.244.3.7/32")}, 2);
  CHECK(free == std::vector{P("10.244.4.0/24"), P("10.244.5.0/24")});
  // Used ranges outside the CIDR and a covering one.
  CHECK(freeSubnets(cidr, 24, {P("10.0.0.0/8")}, 5).empty());
  CHECK(freeSubnets(cidr, 24, {P("10.243.0.0/16"), P("10.245.0.0/16")}, 1) ==
        std::vector{P("10.244.0.0/24")});
  // Full: every subnet but the last used.
  std::vector<ip::Prefix> used;
  for (int i = 0; i < 255; ++i) used.push_back(*ip::Prefix::parse("10.244." + std::to_string(i) + ".0/24"));
  CHECK(freeSubnets(cidr, 24, used, 10) == std::vector{P("10.244.255.0/24")});
  used.push_back(P("10.244.255.0/24"));
  CHECK(freeSubnets(cidr, 24, used, 10).empty());
  // Lengths that do not fit.
  CHECK(freeSubnets(cidr, 15, {}, 1).empty());
  CHECK(freeSubnets(cidr, 33, {}, 1).empty());
  CHECK(freeSubnets(cidr, 16, {}, 5) == std::vector{P("10.244.0.0/16")});
  // IPv6, including a huge space.
  CHECK(freeSubnets(P("fd00:10:244::/48"), 64, {P("fd00:10:244::/64")}, 2) ==
        std::vector{P("fd00:10:244:1::/64"), P("fd00:10:244:2::/64")});
  CHECK(freeSubnets(P("::/0"), 126, {P("::/1")}, 1) == std::vector{P("8000::/126")});
}

TEST_CASE("subnet lease: settings are checked, naming the flag") {
  auto ok = makeLeaseSpec("n1", {"192.168.77.11", "fd77::11"}, {"10.244.0.0/16", "fd00:10:244::/48"}, 24, 64);
  REQUIRE(ok.ok());
  CHECK(ok->clusterCidrs == std::vector{P("10.244.0.0/16"), P("fd00:10:244::/48")});
  CHECK(ok->subnetLen(P("fd00:10:244::/48")) == 64);
  struct Case {
    std::string name;
    std::vector<std::string> addresses, cidrs;
    int v4, v6;
    const char* flag;
  };
  const Case bad[] = {
      {"", {"1.2.3.4"}, {"10.0.0.0/8"}, 24, 64, "--node-name"},
      {"n", {}, {"10.0.0.0/8"}, 24, 64, "--node-address"},
      {"n", {"1.2.3"}, {"10.0.0.0/8"}, 24, 64, "--node-address 1.2.3"},
      {"n", {"1.2.3.4"}, {}, 24, 64, "--cluster-cidr"},
      {"n", {"1.2.3.4"}, {"10.0.0.1/8"}, 24, 64, "host bits"},
      {"n", {"1.2.3.4"}, {"10.0.0.0/8", "11.0.0.0/8"}, 24, 64, "one CIDR per family"},
      {"n", {"1.2.3.4"}, {"10.244.0.0/16"}, 12, 64, "--subnet-len-v4 12"},
      {"n", {"1.2.3.4"}, {"fd00::/64"}, 24, 48, "--subnet-len-v6 48"},
  };
  for (const auto& c : bad) {
    const auto r = makeLeaseSpec(c.name, c.addresses, c.cidrs, c.v4, c.v6);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().msg);
    CHECK(r.error().code == code::kInvalidConfig);
    CHECK(r.error().msg.find(c.flag) != std::string::npos);
  }
}

TEST_CASE("subnet lease: leases merge into one node per name") {
  const std::vector<Node> leases = {
      {.name = "b", .addresses = {A("192.168.77.12")}, .podCidrs = {P("fd00:10:244:2::/64")}},
      {.name = "a", .addresses = {A("192.168.77.11")}, .podCidrs = {P("10.244.1.0/24")}},
      {.name = "b", .addresses = {A("192.168.77.12")}, .podCidrs = {P("10.244.2.0/24")}},
      {.name = "b", .addresses = {A("192.168.77.12")}, .podCidrs = {P("10.244.2.0/24")}},
  };
  const auto nodes = mergeLeases(leases);
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0] == leases[1]);
  CHECK(nodes[1] == Node{.name = "b",
                         .addresses = {A("192.168.77.12")},
                         .podCidrs = {P("10.244.2.0/24"), P("fd00:10:244:2::/64")}});
  CHECK(mergeLeases({}).empty());
}

}  // namespace
}  // namespace podnet::daemon
