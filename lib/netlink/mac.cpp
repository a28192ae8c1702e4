// MAC address text <-> bytes. Pure logic, no libnl.
#include <cstdio>

#include "podnet/netlink/types.hpp"

namespace podnet::netlink {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::array<std::uint8_t, 6>> parseMac(std::string_view text) {
  constexpr std::size_t kLen = 6 * 3 - 1;  // "xx:xx:xx:xx:xx:xx"
  if (text.size() != kLen) return std::nullopt;
  std::array<std::uint8_t, 6> mac{};
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const std::size_t at = i * 3;
    const int hi = hexDigit(text[at]);
    const int lo = hexDigit(text[at + 1]);
    if (hi < 0 || lo < 0 || (i + 1 < mac.size() && text[at + 2] != ':')) return std::nullopt;
    mac[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string formatMac(const std::array<std::uint8_t, 6>& mac) {
  char buf[6 * 3] = {};
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                mac[5]);
  return buf;
}

}  // namespace podnet::netlink
