#include "podnet/ipam/allocator.hpp"

#include <doctest/doctest.h>

#include <random>

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
  REQUIRE_MESSAGE(got.ok(), test::why(got));
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
  CHECK(store.listings() == 1);  // probing found nothing: the listing decided
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

TEST_CASE("ipam allocator: a nearly full /16 finds its last free address with one listing") {
  const auto s = sets(R"({"subnet":"10.1.0.0/16"})");
  MemoryStore store;
  const ip::Address hole = addr("10.1.77.7");
  for (auto a = addr("10.1.0.2"); a <= addr("10.1.255.254"); a = a.plus(1)) {
    if (a != hole) REQUIRE(store.reserve({a, "c" + a.str(), "eth0"}).value());
  }
  REQUIRE(store.setLastReserved(0, addr("10.1.77.8")).ok());  // the hole is one full cycle away
  const auto lookupsBefore = store.lookups();
  CHECK(one(s, kPodA, store) == "10.1.77.7/16");
  // kProbes lookups, then the whole cycle walked in memory over one listing: not
  // a lookup per address.
  CHECK(store.listings() == 1);
  CHECK(store.lookups() - lookupsBefore <= kProbes);
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

TEST_CASE("ipam allocator: a free address after last_reserved_ip is found by lookups, never a listing") {
  const auto s = sets(R"({"ranges":[[{"subnet":"10.1.0.0/16"}],[{"subnet":"fd00::/64"}]]})");
  MemoryStore store;
  for (int i = 0; i < 300; ++i) {
    auto got = allocate(s, {"c" + std::to_string(i), "eth0"}, {}, store);
    REQUIRE(got.ok());
  }
  CHECK(store.leases().size() == 600);
  CHECK(store.listings() == 0);
  CHECK(store.lookups() == 600);  // one per range set and ADD: the first candidate was free
  // Requested addresses are looked up too.
  auto got = allocate(s, kPodA, {addr("10.1.200.9")}, store);
  REQUIRE(got.ok());
  CHECK((*got)[0].address.str() == "10.1.200.9/16");
  CHECK(store.listings() == 0);
}

TEST_CASE("ipam allocator: kProbes taken candidates fall back to the listing") {
  const auto s = sets(R"({"subnet":"10.0.0.0/16"})");
  // .0.2 onwards: n addresses taken, foreign entries among them.
  auto fill = [](MemoryStore& store, std::size_t n) {
    auto a = addr("10.0.0.2");
    for (std::size_t i = 0; i < n; ++i, a = a.plus(1)) {
      if (i % 3 == 0) {
        store.addForeign(a);
      } else {
        REQUIRE(store.reserve({a, "other" + a.str(), "eth0"}).value());
      }
    }
  };
  SUBCASE("the last probe is free: no listing") {
    MemoryStore store;
    fill(store, kProbes - 1);
    CHECK(one(s, kPodA, store) == addr("10.0.0.2").plus(kProbes - 1).str() + "/16");
    CHECK(store.lookups() == kProbes);
    CHECK(store.listings() == 0);
  }
  SUBCASE("every probe taken: one listing, the next free address after them") {
    MemoryStore store;
    fill(store, kProbes + 5);
    CHECK(one(s, kPodA, store) == addr("10.0.0.2").plus(kProbes + 5).str() + "/16");
    CHECK(store.lookups() == kProbes);
    CHECK(store.listings() == 1);
  }
  SUBCASE("a small set is walked whole: wraps around to the only free address, then is full") {
    const auto small = sets(R"({"subnet":"10.0.0.0/24"})");
    MemoryStore store;
    fill(store, 253);  // .2 .. .254
    REQUIRE(store.release({addr("10.0.0.7"), "other10.0.0.7", "eth0"}).value());
    REQUIRE(store.setLastReserved(0, addr("10.0.0.9")).ok());
    CHECK(one(small, kPodA, store) == "10.0.0.7/24");
    CHECK(store.listings() == 0);
    const auto writes = store.writes();
    auto full = allocate(small, kPodB, {}, store);
    REQUIRE_FALSE(full.ok());
    CHECK(full.error().code == code::kInternal);
    CHECK(full.error().msg == "no IP addresses available in range set 0: 10.0.0.0/24 (10.0.0.1-10.0.0.254)");
    CHECK(store.writes() == writes);
    CHECK(store.listings() == 1);
  }
}

TEST_CASE("ipam allocator: nothing is written unless every range set has an address") {
  // Set 0 is found by a probe, set 1 is full: set 0 must not be leased.
  const auto s = sets(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.1.0/30"}]]})");
  MemoryStore store;
  store.addForeign(addr("10.0.1.1"));
  store.addForeign(addr("10.0.1.2"));
  auto got = allocate(s, kPodA, {}, store);
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().msg.find("range set 1") != std::string::npos);
  CHECK(store.writes() == 0);
  CHECK(store.leases().empty());
}

TEST_CASE("ipam allocator: round robin order is host-local's under random churn near full") {
  // Two ranges, together larger than kProbes: the first 1500 addresses after
  // last_reserved_ip leased, the rest 90%.
  const auto s = sets(R"({"ranges":[[{"subnet":"10.0.0.0/21","rangeStart":"10.0.0.10"},)"
                      R"({"subnet":"10.0.8.0/26"}]]})");
  REQUIRE(capacity(s[0]) > 1500 + 500);
  REQUIRE(kProbes < 1500);
  // The model: the first address after last_reserved_ip that the full listing
  // does not show, walking the whole range set (the allocator before probing).
  auto expected = [&](MemoryStore& store) -> std::optional<ip::Address> {
    const auto taken = store.load().value();
    RangeIterator it(s[0], store.lastReserved(0).value());
    while (auto c = it.next()) {
      if (!taken.isTaken(c->second)) return c->second;
    }
    return std::nullopt;
  };
  MemoryStore store;
  std::mt19937 rng(42);
  std::vector<cni::Attachment> live;
  {
    RangeIterator all(s[0], std::nullopt);
    std::size_t i = 0;
    std::optional<ip::Address> last;
    for (; auto c = all.next(); ++i) {
      last = c->second;
      if (i >= 1500 && rng() % 10 == 0) continue;
      live.push_back({"p" + c->second.str(), "eth0"});
      REQUIRE(store.reserve({c->second, live.back().containerId, "eth0"}).value());
    }
    REQUIRE(store.setLastReserved(0, *last).ok());  // the set's last address: the walk wraps to its start
  }
  std::size_t fast = 0, fallbacks = 0;
  for (int step = 0; step < 300; ++step) {
    if (step % 50 == 7) store.addForeign(addr("10.0.8.40").plus(step / 50));
    if (step >= 5 && rng() % 5 < 2) {
      const auto victim = rng() % live.size();
      REQUIRE(release(live[victim], store).value() == 1);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
      continue;
    }
    const cni::Attachment who{"c" + std::to_string(step), "eth0"};
    const auto want = expected(store);
    const auto listings = store.listings();
    auto got = allocate(s, who, {}, store);
    const bool listed = store.listings() > listings;
    if (!want) {
      REQUIRE_FALSE(got.ok());
      continue;
    }
    REQUIRE_MESSAGE(got.ok(), test::why(got));
    REQUIRE((*got)[0].address.addr == *want);
    live.push_back(who);
    ++(listed ? fallbacks : fast);
  }
  CHECK(fast > 0);
  CHECK(fallbacks > 0);
}

TEST_CASE("ipam allocator: an address listed twice (two spellings) is counted once") {
  const auto s = sets(R"({"subnet":"10.0.0.0/29"})");
  MemoryStore store;
  REQUIRE(store.reserve({addr("10.0.0.2"), "ctr-a", "eth0"}).value());
  store.addForeign(addr("10.0.0.2"));
  CHECK(freeCounts(s, store).value() == std::vector<ip::U128>{4});
  for (const char* id : {"c1", "c2", "c3"}) one(s, {id, "eth0"}, store);
  CHECK(one(s, kPodB, store) == "10.0.0.6/29");  // the last free address, found
}
