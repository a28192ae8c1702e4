#include "podnet/ipam/range.hpp"

#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace podnet;
using namespace podnet::ipam;
using podnet::ipam::test::addr;
using podnet::ipam::test::sets;

namespace {

// Every candidate of one full cycle, as text.
std::vector<std::string> cycle(const RangeSet& set, std::optional<ip::Address> last = std::nullopt) {
  std::vector<std::string> out;
  RangeIterator it(set, last);
  while (auto c = it.next()) out.push_back(c->second.str());
  return out;
}

}  // namespace

TEST_CASE("ipam range: IPv4 /29 yields .2-.6, never network, gateway or broadcast") {
  const auto set = sets(R"({"subnet":"10.0.0.0/29"})")[0];
  CHECK(cycle(set) == std::vector<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"});
  CHECK(capacity(set) == 5);
  CHECK_FALSE(allocatable(set, addr("10.0.0.0")));
  CHECK_FALSE(allocatable(set, addr("10.0.0.1")));
  CHECK_FALSE(allocatable(set, addr("10.0.0.7")));
  CHECK_FALSE(allocatable(set, addr("10.0.0.8")));
  CHECK(allocatable(set, addr("10.0.0.6")));
}

TEST_CASE("ipam range: /30 holds exactly one address; /126 two") {
  CHECK(cycle(sets(R"({"subnet":"10.0.0.4/30"})")[0]) == std::vector<std::string>{"10.0.0.6"});
  const auto v6 = sets(R"({"subnet":"fd00::/126"})")[0];
  CHECK(cycle(v6) == std::vector<std::string>{"fd00::2", "fd00::3"});
  CHECK(capacity(v6) == 2);
}

TEST_CASE("ipam range: explicit network/broadcast bounds and a mid-range gateway are skipped") {
  const auto set = sets(
      R"({"subnet":"10.0.0.0/29","rangeStart":"10.0.0.0","rangeEnd":"10.0.0.7","gateway":"10.0.0.4"})")[0];
  CHECK(cycle(set) == std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"});
  CHECK(capacity(set) == 5);
}

TEST_CASE("ipam range: round robin starts after the last reserved address and wraps across ranges") {
  const auto set =
      sets(R"({"ranges":[[{"subnet":"10.0.0.0/29"},{"subnet":"10.0.1.0/29","rangeEnd":"10.0.1.3"}]]})")[0];
  CHECK(cycle(set, addr("10.0.0.5")) == std::vector<std::string>{"10.0.0.6", "10.0.1.2", "10.0.1.3",
                                                                 "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                                                 "10.0.0.5"});
  // The last range's end wraps to the first range.
  CHECK(cycle(set, addr("10.0.1.3")).front() == "10.0.0.2");
  // A last address outside the set (ranges changed) restarts at the first start.
  CHECK(cycle(set, addr("192.168.0.1")).front() == "10.0.0.2");
  CHECK(capacity(set) == 7);
  CHECK(rangeFor(set, addr("10.0.1.3")) == 1u);
  CHECK_FALSE(rangeFor(set, addr("10.0.1.4")).has_value());
}

TEST_CASE("ipam range: an exhausted iterator stays exhausted") {
  RangeIterator it(sets(R"({"subnet":"10.0.0.4/30"})")[0], std::nullopt);
  CHECK(it.next().has_value());
  CHECK_FALSE(it.next().has_value());
  CHECK_FALSE(it.next().has_value());
}

TEST_CASE("ipam range: huge IPv6 ranges iterate lazily and count without overflow") {
  const auto set = sets(R"({"ranges":[[{"subnet":"fd00::/8"}]]})")[0];
  // 2^120 addresses minus network and gateway.
  CHECK(capacity(set) == (ip::U128{1} << 120) - 2);
  // Lazy: an iterator that listed the range first would never get here.
  RangeIterator it(set, addr("fdff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
  CHECK(it.next()->second == addr("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  CHECK(it.next()->second == addr("fd00::2"));  // wrapped, skipping network and gateway

  const auto all = sets(R"({"ranges":[[{"subnet":"::/0"}]]})")[0];
  CHECK(capacity(all) == ~ip::U128{0} - 1);  // ::1 to the last address, minus the gateway ::1
}
