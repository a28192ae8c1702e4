#pragma once
// IP addresses and prefixes as value types, IPv4 and IPv6 alike.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace podnet::ip {

__extension__ typedef unsigned __int128 U128;

enum class Family : std::uint8_t { kV4 = 4, kV6 = 6 };

class Address {
 public:
  Address() = default;
  // Accepts dotted IPv4 or any RFC 4291 IPv6 text; an IPv4-mapped IPv6
  // address stays IPv6. Returns nullopt on anything else.
  static std::optional<Address> parse(std::string_view text);
  static Address fromInt(Family family, U128 value);
  static Address fromBytes(Family family, const std::uint8_t* bytes);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  int bits() const { return isV4() ? 32 : 128; }
  U128 toInt() const;
  // Network-order bytes: 4 for IPv4, 16 for IPv6.
  const std::uint8_t* bytes() const { return bytes_.data(); }
  std::size_t size() const { return isV4() ? 4 : 16; }
  std::string str() const;

  // Wraps within the family.
  Address plus(U128 n) const;

  auto operator<=>(const Address&) const = default;
  bool operator==(const Address&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<std::uint8_t, 16> bytes_{};
};

// An address with a prefix length. Host bits are kept ("10.0.0.5/24"), as
// CNI results carry them; network() drops them.
struct Prefix {
  Address addr;
  int len = 0;

  // "10.0.0.5/24", "fd00::/64". Returns nullopt on bad text or length.
  static std::optional<Prefix> parse(std::string_view text);

  Family family() const { return addr.family(); }
  Prefix network() const;
  Address first() const { return network().addr; }
  Address last() const;
  bool contains(const Address& a) const;
  bool overlaps(const Prefix& other) const;
  // Number of addresses, saturating at 2^127 for huge IPv6 prefixes.
  U128 size() const;
  std::string str() const;

  auto operator<=>(const Prefix&) const = default;
  bool operator==(const Prefix&) const = default;
};

}  // namespace podnet::ip
