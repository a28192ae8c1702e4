// MAC text <-> bytes (pure logic, no kernel).
#include <doctest/doctest.h>

#include "podnet/netlink/types.hpp"

using podnet::netlink::formatMac;
using podnet::netlink::parseMac;

TEST_CASE("netlink: parseMac accepts six hex pairs, any case") {
  const auto mac = parseMac("0A:58:0a:F4:01:ff");
  REQUIRE(mac.has_value());
  CHECK(*mac == std::array<std::uint8_t, 6>{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0xff});
  CHECK(formatMac(*mac) == "0a:58:0a:f4:01:ff");
}

TEST_CASE("netlink: parseMac rejects anything else") {
  for (const char* bad :
       {"", "0a:58:0a:f4:01", "0a:58:0a:f4:01:ff:00", "0a-58-0a-f4-01-ff", "0g:58:0a:f4:01:ff",
        "0a:58:0a:f4:01:f", " 0a:58:0a:f4:01:f", "0a:58:0a:f4:01:ff "}) {
    INFO(bad);
    CHECK_FALSE(parseMac(bad).has_value());
  }
}
