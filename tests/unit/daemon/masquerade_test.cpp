// The masquerade table's nft script (pure text; applied by the daemon).
#include "masquerade.hpp"

#include <doctest/doctest.h>

namespace podnet::daemon {
namespace {

TEST_CASE("masquerade: this node's CIDRs to outside every pod CIDR (and multicast), one transaction") {
  const std::vector<Node> nodes{
      {.name = "n1",
       .podCidrs = {*ip::Prefix::parse("10.244.1.0/24"), *ip::Prefix::parse("fd00:10:244:1::/64")}},
      {.name = "n2", .podCidrs = {*ip::Prefix::parse("10.244.2.0/24")}},
  };
  auto script = renderMasquerade(nodes, "n1");
  const auto marker = masqueradeMarker(script);
  REQUIRE(marker.size() == std::string("podnetd:").size() + 16);
  CHECK(marker.rfind("podnetd:", 0) == 0);
  const std::string commentLine = "  comment \"" + marker + "\"\n";
  REQUIRE(script.find(commentLine) != std::string::npos);
  script.erase(script.find(commentLine), commentLine.size());
  CHECK(script == R"(add table inet podnetd
delete table inet podnetd
table inet podnetd {
  set local4 {
    type ipv4_addr
    flags interval
    elements = { 10.244.1.0/24 }
  }
  set nomasq4 {
    type ipv4_addr
    flags interval
    elements = { 10.244.1.0/24, 10.244.2.0/24, 224.0.0.0/4 }
  }
  set local6 {
    type ipv6_addr
    flags interval
    elements = { fd00:10:244:1::/64 }
  }
  set nomasq6 {
    type ipv6_addr
    flags interval
    elements = { fd00:10:244:1::/64, ff00::/8 }
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr @local4 ip daddr != @nomasq4 counter masquerade
    ip6 saddr @local6 ip6 daddr != @nomasq6 counter masquerade
  }
}
)");
  // An IPv4-only node: its local6 set stays empty (no elements line, which nft rejects).
  CHECK(renderMasquerade(nodes, "n2").find("  set local6 {\n    type ipv6_addr\n    flags interval\n  }\n") !=
        std::string::npos);
}

TEST_CASE("masquerade: the marker comment names the content, in a script and in nft's listing") {
  const std::vector<Node> one{{.name = "n1", .podCidrs = {*ip::Prefix::parse("10.244.1.0/24")}}};
  auto two = one;
  two.push_back({.name = "n2", .podCidrs = {*ip::Prefix::parse("10.244.2.0/24")}});
  // The same content from other inputs (nodes in another order, addresses,
  // which the script does not hold): the same marker, so no needless reload.
  std::vector<Node> same{two[1], two[0]};
  same[1].addresses = {*ip::Address::parse("192.168.77.11")};
  CHECK(masqueradeMarker(renderMasquerade(same, "n1")) == masqueradeMarker(renderMasquerade(two, "n1")));
  CHECK(masqueradeMarker(renderMasquerade(one, "n1")) != masqueradeMarker(renderMasquerade(two, "n1")));
  CHECK(masqueradeMarker("table inet podnetd {\n\tcomment \"podnetd:0123456789abcdef\"\n\tset local4 {") ==
        "podnetd:0123456789abcdef");
  CHECK(masqueradeMarker("table inet podnetd {\n\tset local4 {").empty());
  CHECK(masqueradeMarker("comment \"other\"").empty());
}

TEST_CASE("masquerade: no table for a node without pod CIDRs, removal is idempotent") {
  CHECK(renderMasquerade({{.name = "n1"}}, "n1").empty());
  CHECK(renderMasquerade({}, "n1").empty());
  CHECK(renderMasqueradeRemoval() == "add table inet podnetd\ndelete table inet podnetd\n");
}

}  // namespace
}  // namespace podnet::daemon
