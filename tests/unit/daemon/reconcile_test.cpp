// reconcile() against the in-memory fake kernel.
#include "reconcile.hpp"

#include <doctest/doctest.h>

#include "fake_kernel.hpp"

namespace podnet::daemon {
namespace {

using test::FakeKernel;
using test::removed;
using test::replaced;
using test::v4;
using test::v6;

std::vector<Node> cluster() {
  const auto n = [](const char* name, const char* a4, const char* a6, const char* c4, const char* c6) {
    return Node{.name = name,
                .addresses = {*ip::Address::parse(a4), *ip::Address::parse(a6)},
                .podCidrs = {*ip::Prefix::parse(c4), *ip::Prefix::parse(c6)}};
  };
  return {n("n1", "192.168.77.11", "fd77::11", "10.244.1.0/24", "fd00:10:244:1::/64"),
          n("n2", "192.168.77.12", "fd77::12", "10.244.2.0/24", "fd00:10:244:2::/64"),
          n("n3", "192.168.77.13", "fd77::13", "10.244.3.0/24", "fd00:10:244:3::/64")};
}

FakeKernel underlay() {
  FakeKernel k;
  k.links = {{.subnet = *ip::Prefix::parse("192.168.77.0/24"), .oif = 3},
             {.subnet = *ip::Prefix::parse("fd77::/64"), .oif = 3}};
  k.table = {v4("192.168.77.0/24", nullptr, 3, RTPROT_KERNEL), v4("10.244.1.5/32", nullptr, 9, RTPROT_BOOT)};
  return k;
}

TEST_CASE("reconcile: programs every remote pod CIDR, then a second pass changes nothing") {
  auto k = underlay();
  const auto first = reconcile(k, cluster(), "n1");
  REQUIRE(first.ok());
  CHECK(first->replaced == 4);
  CHECK(first->programmed.size() == 4);
  const std::vector wanted{
      replaced(v4("10.244.2.0/24", "192.168.77.12", 3)), replaced(v4("10.244.3.0/24", "192.168.77.13", 3)),
      replaced(v6("fd00:10:244:2::/64", "fd77::12", 3)), replaced(v6("fd00:10:244:3::/64", "fd77::13", 3))};
  CHECK(k.changes.size() == wanted.size());
  CHECK(std::is_permutation(k.changes.begin(), k.changes.end(), wanted.begin(), wanted.end()));
  CHECK(k.table.size() == 6);
  k.changes.clear();
  const auto second = reconcile(k, cluster(), "n1");
  REQUIRE(second.ok());
  CHECK(k.changes.empty());
  CHECK(second->programmed.size() == 4);
}

TEST_CASE("reconcile: a node removed from the list loses its routes, other routes stay") {
  auto k = underlay();
  REQUIRE(reconcile(k, cluster(), "n1").ok());
  auto nodes = cluster();
  nodes.pop_back();
  k.changes.clear();
  const auto r = reconcile(k, nodes, "n1");
  REQUIRE(r.ok());
  CHECK(r->removed == 2);
  CHECK(k.changes == std::vector{removed(v4("10.244.3.0/24", "192.168.77.13", 3)),
                                 removed(v6("fd00:10:244:3::/64", "fd77::13", 3))});
  CHECK(k.table.size() == 4);  // the two non-podnet routes and n2's
}

TEST_CASE("reconcile: a route deleted by hand is restored, and only it") {
  auto k = underlay();
  REQUIRE(reconcile(k, cluster(), "n1").ok());
  std::erase(k.table, v6("fd00:10:244:2::/64", "fd77::12", 3));
  k.changes.clear();
  REQUIRE(reconcile(k, cluster(), "n1").ok());
  CHECK(k.changes == std::vector{replaced(v6("fd00:10:244:2::/64", "fd77::12", 3))});
}

TEST_CASE("reconcile: stale podnet routes left by an earlier run are deleted at start") {
  auto k = underlay();
  k.table.push_back(v4("10.244.99.0/24", "192.168.77.99", 3));
  const auto r = reconcile(k, cluster(), "n1");
  REQUIRE(r.ok());
  CHECK(r->removed == 1);
  CHECK(std::find(k.table.begin(), k.table.end(), v4("10.244.99.0/24", "192.168.77.99", 3)) == k.table.end());
}

TEST_CASE("reconcile: an unreadable kernel is an error and changes nothing") {
  auto k = underlay();
  k.failDump = true;
  CHECK_FALSE(reconcile(k, cluster(), "n1").ok());
  CHECK(k.changes.empty());
}

}  // namespace
}  // namespace podnet::daemon
