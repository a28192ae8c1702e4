#include "podnet/ip/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace podnet::ip {

std::optional<Address> Address::parse(std::string_view text) {
  // inet_pton() stops at a NUL: "10.0.0.1\0junk" must not pass as 10.0.0.1.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  Address a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kV6;
    return a;
  }
  return std::nullopt;
}

Address Address::fromInt(Family family, U128 value) {
  Address a;
  a.family_ = family;
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i) {
    a.bytes_[n - 1 - i] = static_cast<std::uint8_t>(value & 0xff);
    value >>= 8;
  }
  return a;
}

Address Address::fromBytes(Family family, const std::uint8_t* bytes) {
  Address a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, a.size());
  return a;
}

U128 Address::toInt() const {
  U128 v = 0;
  for (std::size_t i = 0; i < size(); ++i) v = (v << 8) | bytes_[i];
  return v;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

Address Address::plus(U128 n) const { return fromInt(family_, toInt() + n); }

namespace {
U128 hostMask(int bits, int len) {
  const int host = bits - len;
  if (host <= 0) return 0;
  if (host >= 128) return ~U128{0};
  return (U128{1} << host) - 1;
}
}  // namespace

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const auto lenText = text.substr(slash + 1);
  int len = -1;
  auto [ptr, ec] = std::from_chars(lenText.data(), lenText.data() + lenText.size(), len);
  if (ec != std::errc{} || ptr != lenText.data() + lenText.size() || lenText.empty()) return std::nullopt;
  if (len < 0 || len > addr->bits()) return std::nullopt;
  return Prefix{*addr, len};
}

Prefix Prefix::network() const {
  const U128 mask = hostMask(addr.bits(), len);
  return Prefix{Address::fromInt(addr.family(), addr.toInt() & ~mask), len};
}

Address Prefix::last() const {
  const U128 mask = hostMask(addr.bits(), len);
  return Address::fromInt(addr.family(), addr.toInt() | mask);
}

bool Prefix::contains(const Address& a) const {
  if (a.family() != family()) return false;
  const U128 mask = hostMask(addr.bits(), len);
  return (a.toInt() & ~mask) == (addr.toInt() & ~mask);
}

bool Prefix::overlaps(const Prefix& other) const { return contains(other.addr) || other.contains(addr); }

U128 Prefix::size() const {
  const int host = addr.bits() - len;
  if (host >= 127) return U128{1} << 127;
  return U128{1} << host;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

}  // namespace podnet::ip
