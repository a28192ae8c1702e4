#include "podnet/cni/result.hpp"

#include <doctest/doctest.h>

#include <string>

#include "podnet/cni/version.hpp"

using namespace podnet;
using nlohmann::json;

namespace {
cni::CniResult sample() {
  cni::CniResult r;
  r.interfaces = {{.name = "pn1234abcd", .mac = "aa:bb:cc:dd:ee:01", .sandbox = ""},
                  {.name = "eth0", .mac = "aa:bb:cc:dd:ee:02", .sandbox = "/run/netns/p", .mtu = 1450}};
  r.ips = {{.address = *ip::Prefix::parse("10.1.0.5/24"),
            .gateway = ip::Address::parse("10.1.0.1"),
            .interface = 1},
           {.address = *ip::Prefix::parse("fd00::5/64"),
            .gateway = ip::Address::parse("fd00::1"),
            .interface = 1}};
  r.routes = {{.dst = *ip::Prefix::parse("0.0.0.0/0"), .gw = ip::Address::parse("10.1.0.1"), .mtu = 1400}};
  r.dns.nameservers = {"10.96.0.10"};
  r.dns.search = {"svc.cluster.local"};
  return r;
}
}  // namespace

TEST_CASE("cni result: exact JSON of every supported version") {
  const json ifaces = json::parse(R"([{"name":"pn1234abcd","mac":"aa:bb:cc:dd:ee:01"},
      {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/run/netns/p"}])");
  const json dns = json::parse(R"({"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]})");
  for (auto version : cni::kSupportedVersions) {
    const std::string v(version);
    CAPTURE(v);
    json want = {{"cniVersion", v}, {"interfaces", ifaces}, {"dns", dns}};
    const bool old = v < "1.0.0";
    const bool v11 = v == "1.1.0";
    if (v11) want["interfaces"][1]["mtu"] = 1450;
    want["ips"] = json::array();
    want["ips"].push_back({{"address", "10.1.0.5/24"}, {"gateway", "10.1.0.1"}, {"interface", 1}});
    want["ips"].push_back({{"address", "fd00::5/64"}, {"gateway", "fd00::1"}, {"interface", 1}});
    if (old) {
      want["ips"][0]["version"] = "4";
      want["ips"][1]["version"] = "6";
    }
    want["routes"] = json::array({{{"dst", "0.0.0.0/0"}, {"gw", "10.1.0.1"}}});
    if (v11) want["routes"][0]["mtu"] = 1400;
    CHECK(cni::toJson(sample(), v) == want);

    // Round trip: what we emit in a version parses back to the same model,
    // less the fields that version cannot carry.
    auto back = cni::resultFromJson(cni::toJson(sample(), v));
    REQUIRE(back.ok());
    auto expected = sample();
    expected.cniVersion = v;
    if (!v11) {
      expected.interfaces[1].mtu.reset();
      expected.routes[0].mtu.reset();
    }
    CHECK(*back == expected);
  }
}

TEST_CASE("cni result: parses real-shaped results of older versions") {
  // As the reference ptp plugin prints for a 0.3.1 config.
  const auto doc =
      json::parse(R"({"cniVersion":"0.3.1","interfaces":[{"name":"veth1","mac":"0a:58:0a:01:00:01"},
    {"name":"eth0","mac":"0a:58:0a:01:00:05","sandbox":"/var/run/netns/x"}],
    "ips":[{"version":"4","interface":1,"address":"10.1.0.5/24","gateway":"10.1.0.1"}],
    "routes":[{"dst":"0.0.0.0/0"}],"dns":{}})");
  auto r = cni::resultFromJson(doc);
  REQUIRE(r.ok());
  CHECK(r->ips.at(0).address.str() == "10.1.0.5/24");
  CHECK(r->ips.at(0).interface == 1);
  CHECK_FALSE(r->routes.at(0).gw.has_value());
  CHECK(r->dns.empty());
}

TEST_CASE("cni result: malformed results are decode errors, old versions incompatible") {
  struct Case {
    const char* json;
    int code;
  };
  for (const Case& c :
       {Case{R"({"ips":[]})", podnet::code::kDecode},
        Case{R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.1/24"}})", podnet::code::kIncompatibleVersion},
        Case{R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1"}]})", podnet::code::kDecode},
        Case{R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","interface":3}]})",
             podnet::code::kDecode},
        Case{R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","gateway":"fd00::1"}]})",
             podnet::code::kDecode},
        Case{R"({"cniVersion":"1.0.0","routes":[{"gw":"10.0.0.1"}]})", podnet::code::kDecode},
        Case{R"({"cniVersion":"1.0.0","routes":{}})", podnet::code::kDecode},
        Case{R"({"cniVersion":"1.0.0","dns":{"nameservers":[1]}})", podnet::code::kDecode},
        Case{R"([1,2])", podnet::code::kDecode}}) {
    CAPTURE(c.json);
    auto r = cni::resultFromJson(json::parse(c.json));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
  }
}

TEST_CASE("cni result: error JSON carries code, msg and details only when set") {
  CHECK(cni::errorJson(podnet::fail(7, "bad"), "1.0.0") ==
        json::parse(R"({"cniVersion":"1.0.0","code":7,"msg":"bad"})"));
  CHECK(cni::errorJson(podnet::fail(11, "busy", "later"), "0.4.0")["details"] == "later");
}

TEST_CASE("cni version: ordering and support") {
  CHECK(cni::isSupported("0.3.1"));
  CHECK_FALSE(cni::isSupported("0.2.0"));
  CHECK_FALSE(cni::isSupported("1.2.0"));
  CHECK(cni::compareVersions("0.10.0", "0.4.0") == 1);
  CHECK(cni::compareVersions("1.0.0", "1.0.0") == 0);
  CHECK_FALSE(cni::compareVersions("1.0", "1.0.0").has_value());
  CHECK_FALSE(cni::compareVersions("a.b.c", "1.0.0").has_value());
  CHECK(cni::atLeast("1.1.0", "0.4.0"));
  CHECK_FALSE(cni::atLeast("0.3.1", "0.4.0"));
}

TEST_CASE("cni result: error JSON is valid UTF-8 whatever the message quotes") {
  const auto j = cni::errorJson(podnet::fail(7, "bad name \"\xff\xfe\"", "cut \xc3"), "1.0.0");
  const auto text = j.dump();  // throws on invalid UTF-8
  CHECK(text.find("\xef\xbf\xbd") != std::string::npos);
  CHECK(j["code"] == 7);
}
