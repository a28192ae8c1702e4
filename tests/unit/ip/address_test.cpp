#include "podnet/ip/address.hpp"

#include <doctest/doctest.h>

using podnet::ip::Address;
using podnet::ip::Family;
using podnet::ip::Prefix;

TEST_CASE("ip: addresses parse and print in both families") {
  CHECK(Address::parse("10.1.2.3")->str() == "10.1.2.3");
  CHECK(Address::parse("10.1.2.3")->isV4());
  CHECK(Address::parse("fd00::1")->str() == "fd00::1");
  CHECK(Address::parse("FD00:0:0::01")->str() == "fd00::1");
  CHECK(Address::parse("::ffff:10.0.0.1")->family() == Family::kV6);
  for (const char* bad : {"", "10.1.2", "10.1.2.256", "fd00:::1", "10.0.0.1/24", "abc", " 10.0.0.1"})
    CHECK_MESSAGE(!Address::parse(bad), bad);
  CHECK_FALSE(Address::parse(std::string_view("10.0.0.1\0junk", 13)));
  CHECK_FALSE(Prefix::parse(std::string_view("10.0.0.1\0/24", 12)));
}

TEST_CASE("ip: arithmetic wraps within the family") {
  CHECK(Address::parse("10.0.0.255")->plus(1).str() == "10.0.1.0");
  CHECK(Address::parse("255.255.255.255")->plus(1).str() == "0.0.0.0");
  CHECK(Address::parse("fd00::ffff")->plus(1).str() == "fd00::1:0");
  CHECK(Address::parse("10.0.0.1") < Address::parse("10.0.0.2"));
}

TEST_CASE("ip: prefixes keep host bits and know their bounds") {
  const auto p = *Prefix::parse("10.1.0.5/24");
  CHECK(p.str() == "10.1.0.5/24");
  CHECK(p.network().str() == "10.1.0.0/24");
  CHECK(p.last().str() == "10.1.0.255");
  CHECK(p.contains(*Address::parse("10.1.0.200")));
  CHECK_FALSE(p.contains(*Address::parse("10.1.1.0")));
  CHECK_FALSE(p.contains(*Address::parse("fd00::1")));
  CHECK(p.size() == 256);
  CHECK(Prefix::parse("fd00::/64")->last().str() == "fd00::ffff:ffff:ffff:ffff");
  CHECK(Prefix::parse("::/0")->size() == (podnet::ip::U128{1} << 127));
  CHECK(Prefix::parse("10.0.0.0/8")->overlaps(*Prefix::parse("10.2.0.0/16")));
  CHECK_FALSE(Prefix::parse("10.0.0.0/16")->overlaps(*Prefix::parse("10.1.0.0/16")));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x"})
    CHECK_MESSAGE(!Prefix::parse(bad), bad);
}
