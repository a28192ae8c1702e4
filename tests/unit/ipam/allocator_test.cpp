#include "podnet/ipam/allocator.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "helpers.hpp"

using namespace podnet;
using namespace podnet::ipam;
using podnet::ipam::test::addr;
using podnet::ipam::test::sets;

namespace {

const cni::Attachment kPodA{"ctr-a", "eth0"};
const cni::Attachment kPodB{"ctr-b", "eth0"};

std::string one(const std::vector<RangeSet>& s, const cni::Attachment& who, MemoryStore& store,
                const std::vector<ip::Address>& requested = {}) {
  auto got = allocate(s, who, requested, store);
  REQUIRE_MESSAGE(got.ok(), got.error().msg);
  REQUIRE(got->size() == 1);
  return (*got)[0].address.str();
}

}  // namespace

TEST_CASE("ipam allocator: distinct addresses in order, gateway and prefix in the result") {
  const auto s = sets(R"({"subnet":"10.0.0.0/24"})");
  MemoryStore store;
  auto first = allocate(s, kPodA, {}, store);
  REQUIRE(first.ok());
  CHECK(*first == std::vector<Allocation>{{0, *ip::Prefix::parse("10.0.0.2/24"), addr("10.0.0.1")}});
  CHECK(one(s, kPodB, store) == "10.0.0.3/24");
  CHECK(store.leases().at(addr("10.0.0.3")) == Lease{addr("10.0.0.3"), "ctr-b", "eth0"});
  CHECK(store.lastReserved(0).value() == addr("10.0.0.3"));
}

TEST_CASE("ipam allocator: ADD is idempotent per container ID and ifname") {
  const auto s = sets(R"({"subnet":"10.0.0.0/24"})");
  MemoryStore store;
  CHECK(one(s, kPodA, store) == "10.0.0.2/24");
  const auto writes = store.writes();
  CHECK(one(s, kPodA, store) == "10.0.0.2/24");
  CHECK(store.writes() == writes);                           // nothing written the second time
  CHECK(one(s, {"ctr-a", "eth1"}, store) == "10.0.0.3/24");  // another interface: another address
  // The held address may be requested again, not another one.
  CHECK(one(s, kPodA, store, {addr("10.0.0.2")}) == "10.0.0.2/24");
  auto other = allocate(s, kPodA, {addr("10.0.0.9")}, store);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == code::kInvalidConfig);
  CHECK(other.error().msg.find("already holds 10.0.0.2") != std::string::npos);
}

TEST_CASE("ipam allocator: round robin does not reuse a released address at once") {
  const auto s = sets(R"({"subnet":"10.0.0.0/29"})");
  MemoryStore store;
  CHECK(one(s, kPodA, store) == "10.0.0.2/29");
  REQUIRE(release(kPodA, store).value() == 1);
  CHECK(one(s, kPodB, store) == "10.0.0.3/29");
  // After the end of the range, wraps to the released .2.
  for (const char* id : {"c4", "c5", "c6"}) one(s, {id, "eth0"}, store);
  CHECK(one(s, {"c7", "eth0"}, store) == "10.0.0.2/29");
}

TEST_CASE("ipam allocator: exhaustion names the range set and writes nothing") {
  const auto s = sets(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.1.0/30"}]]})");
  MemoryStore store;
  auto firstPod = allocate(s, kPodA, {}, store);
  REQUIRE(firstPod.ok());
  CHECK(firstPod->size() == 2);
  const auto writes = store.writes();
  auto full = allocate(s, kPodB, {}, store);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().msg == "no IP addresses available in range set 1: 10.0.1.0/30 (10.0.1.1-10.0.1.2)");
  CHECK(store.writes() == writes);
  CHECK(store.leases().size() == 2);
}

TEST_CASE("ipam allocator: unreadable entries count as taken") {
  const auto s = sets(R"({"subnet":"10.0.0.0/29"})");
  MemoryStore store;
  store.addForeign(addr("10.0.0.2"));
  CHECK(one(s, kPodA, store) == "10.0.0.3/29");
  auto taken = allocate(s, kPodB, {addr("10.0.0.2")}, store);
  REQUIRE_FALSE(taken.ok());
  CHECK(freeCounts(s, store).value() == std::vector<ip::U128>{3});
}

TEST_CASE("ipam allocator: requested addresses") {
  const auto s = sets(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/64"}]]})");
  MemoryStore store;
  SUBCASE("granted in its own range set, the other set allocates") {
    auto got = allocate(s, kPodA, {addr("10.0.0.50")}, store);
    REQUIRE(got.ok());
    CHECK((*got)[0].address.str() == "10.0.0.50/24");
    CHECK((*got)[1].address.str() == "fd00::2/64");
    CHECK(store.lastReserved(0).value() == addr("10.0.0.50"));
  }
  SUBCASE("taken: code 7, nothing written") {
    REQUIRE(allocate(s, kPodA, {addr("10.0.0.50")}, store).ok());
    const auto writes = store.writes();
    auto got = allocate(s, kPodB, {addr("10.0.0.50")}, store);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == code::kInvalidConfig);
    CHECK(got.error().msg.find("requested IP address 10.0.0.50 is not available in range set 0") == 0);
    CHECK(store.writes() == writes);
  }
  SUBCASE("outside every range: code 7, never another address") {
    auto got = allocate(s, kPodA, {addr("10.9.9.9")}, store);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == code::kInvalidConfig);
    CHECK(got.error().msg == "requested IP address 10.9.9.9 is outside every range");
    CHECK(store.writes() == 0);
  }
  SUBCASE("the gateway, the network and broadcast are refused") {
    for (const char* a : {"10.0.0.1", "10.0.0.255", "fd00::1"}) {
      auto got = allocate(s, kPodA, {addr(a)}, store);
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().code == code::kInvalidConfig);
    }
    CHECK(store.writes() == 0);
  }
  SUBCASE("two in one range set are refused") {
    auto got = allocate(s, kPodA, {addr("10.0.0.5"), addr("10.0.0.6")}, store);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().msg.find("same range set 0") != std::string::npos);
  }
  SUBCASE("one per family") {
    auto got = allocate(s, kPodA, {addr("fd00::77"), addr("10.0.0.77")}, store);
    REQUIRE(got.ok());
    CHECK((*got)[0].address.str() == "10.0.0.77/24");
    CHECK((*got)[1].address.str() == "fd00::77/64");
  }
}

TEST_CASE("ipam allocator: release is exact, tolerant, and knows ID-only leases") {
  const auto s = sets(R"({"subnet":"10.0.0.0/24"})");
  MemoryStore store;
  one(s, kPodA, store);
  one(s, {"ctr-a", "eth1"}, store);
  one(s, kPodB, store);
  CHECK(release(kPodA, store).value() == 1);
  CHECK(store.leases().size() == 2);
  CHECK(release(kPodA, store).value() == 0);  // nothing left: still success
  // A lease written by an old host-local (ID only) is released by its ID.
  REQUIRE(store.reserve({addr("10.0.0.100"), "old-ctr", ""}).value());
  CHECK(release({"old-ctr", "eth0"}, store).value() == 1);
  CHECK(store.leases().count(addr("10.0.0.100")) == 0);
}

TEST_CASE("ipam allocator: GC releases exactly the leases of invalid attachments") {
  const auto s = sets(R"({"subnet":"10.0.0.0/24"})");
  MemoryStore store;
  one(s, kPodA, store);
  one(s, kPodB, store);
  one(s, {"ctr-a", "eth1"}, store);
  REQUIRE(store.reserve({addr("10.0.0.100"), "ctr-b", ""}).value());  // ID-only, container still valid
  REQUIRE(store.reserve({addr("10.0.0.101"), "gone", ""}).value());
  store.addForeign(addr("10.0.0.102"));
  CHECK(collect({kPodA, kPodB}, store).value() == 2);
  std::vector<ip::Address> left;
  for (const auto& [a, l] : store.leases()) left.push_back(a);
  CHECK(left == std::vector<ip::Address>{addr("10.0.0.2"), addr("10.0.0.3"), addr("10.0.0.100")});
}

TEST_CASE("ipam allocator: free counts reach zero when full") {
  const auto s = sets(R"({"subnet":"10.0.0.0/29"})");
  MemoryStore store;
  for (int i = 0; i < 5; ++i) one(s, {"c" + std::to_string(i), "eth0"}, store);
  CHECK(freeCounts(s, store).value() == std::vector<ip::U128>{0});
}

TEST_CASE("ipam allocator: a nearly full /16 finds its last free address fast") {
  const auto s = sets(R"({"subnet":"10.1.0.0/16"})");
  MemoryStore store;
  const ip::Address hole = addr("10.1.77.7");
  for (auto a = addr("10.1.0.2"); a <= addr("10.1.255.254"); a = a.plus(1)) {
    if (a != hole) REQUIRE(store.reserve({a, "c" + a.str(), "eth0"}).value());
  }
  REQUIRE(store.setLastReserved(0, addr("10.1.77.8")).ok());  // the hole is one full cycle away
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(one(s, kPodA, store) == "10.1.77.7/16");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  auto full = allocate(s, kPodB, {}, store);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().msg.find("10.1.0.0/16") != std::string::npos);
}

TEST_CASE("ipam allocator: huge IPv6 range with many leases allocates after the last one") {
  const auto s = sets(R"({"ranges":[[{"subnet":"fd00::/16"}]]})");
  MemoryStore store;
  for (int i = 0; i < 1000; ++i) one(s, {"c" + std::to_string(i), "eth0"}, store);
  CHECK(one(s, kPodA, store) == "fd00::3ea/16");  // ::2 .. ::3e9 are the first 1000
}
