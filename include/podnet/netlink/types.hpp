#pragma once
// Kernel networking state as plain values (after Open/R's openr/nl/NetlinkTypes.h).
// Build them with designated initializers; compare them with ==, e.g. a route
// the daemon wants against one the kernel dumped.

#include <linux/rtnetlink.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "podnet/ip/address.hpp"

namespace podnet::netns {
class Handle;
}

namespace podnet::netlink {

struct Link {
  int index = 0;
  std::string name;
  std::string mac;  // "0a:58:0a:f4:01:05" (lower case); empty for links without one
  int mtu = 0;
  bool up = false;  // administratively up (IFF_UP), whatever the carrier
  // Operationally up (IF_OPER_UP): the kernel passes packets. It lags `up` by
  // up to a second when the kernel's linkwatch treats the event as not urgent
  // (e.g. a veth whose peer has the same ifindex in its own namespace).
  bool running = false;
  std::string kind;     // "veth", "bridge", "vxlan", ...; empty for lo and physical links
  int masterIndex = 0;  // the bridge/bond it is enslaved to; 0 if none
  std::string alias;    // IFLA_IFALIAS ("ip link set X alias ..."); empty if none

  bool operator==(const Link&) const = default;
};

// Both ends of a veth pair, created by one RTM_NEWLINK request.
struct VethSpec {
  std::string hostName;                      // created in the socket's namespace
  std::string peerName;                      // created directly in *peerNetns under this name
  const netns::Handle* peerNetns = nullptr;  // nullptr: the socket's namespace too
  int mtu = 0;                               // 0: the kernel's default (1500)
  std::optional<std::string> hostMac;        // nullopt: random
  std::optional<std::string> peerMac;
  // Transmit and receive queues of each end (IFLA_NUM_TX_QUEUES and
  // IFLA_NUM_RX_QUEUES); 0 leaves them to the kernel. Left to it, veth
  // allocates one queue per possible CPU and then cuts the real count to one
  // (the data path runs the same either way); cutting the transmit queues
  // waits for an expedited RCU grace period under the RTNL lock, once per end.
  // Asking for one queue skips both waits: about half of a veth's creation
  // time on a 2-vCPU VM (kernel 6.18).
  unsigned queues = 1;
};

struct AddrOptions {
  bool nodad = false;          // IFA_F_NODAD: no IPv6 duplicate detection, usable at once
  bool noprefixroute = false;  // IFA_F_NOPREFIXROUTE: no route for the prefix
};

// A unicast-family route with at most one next hop. Defaults are those of
// `ip route add`, except scope: it is never guessed, so set RT_SCOPE_LINK for a
// gateway-less IPv4 route that an on-link gateway must be reachable through
// ("169.254.1.1/32 dev eth0 scope link"). Kernel facts to know when
// comparing with routes():
//   - IPv4 routes without a metric dump as metric nullopt (0 is the same);
//     IPv6 routes always dump a metric (the default is 1024).
//   - IPv6 routes always dump scope RT_SCOPE_UNIVERSE.
struct Route {
  ip::Prefix dst;  // host bits must be zero ("10.244.1.0/24", "0.0.0.0/0")
  std::optional<ip::Address> gateway;
  int oif = 0;  // output interface index; 0 = none
  int table = RT_TABLE_MAIN;
  int protocol = RTPROT_BOOT;
  int scope = RT_SCOPE_UNIVERSE;
  int type = RTN_UNICAST;
  std::optional<int> metric;
  bool onlink = false;  // RTNH_F_ONLINK: the gateway is on this link, no route to it needed

  bool operator==(const Route&) const = default;
};

// Which routes routes() returns; each unset field matches everything.
struct RouteFilter {
  std::optional<int> table = RT_TABLE_MAIN;
  std::optional<int> protocol;
  std::optional<int> oif;
};

struct RouteEvent {
  enum class Kind : std::uint8_t { kAdded, kDeleted };
  Kind kind = Kind::kAdded;
  Route route;

  bool operator==(const RouteEvent&) const = default;
};

// "10.244.1.0/24 via 192.168.77.11 dev 3 proto 152", for messages and logs
// (table and metric when set; proto unless it is RTPROT_BOOT, ip(8)'s default).
std::string describe(const Route& route);

// "0A:58:0a:f4:01:05" -> bytes; nullopt unless six ':'-separated hex pairs.
std::optional<std::array<std::uint8_t, 6>> parseMac(std::string_view text);
// Six bytes -> "0a:58:0a:f4:01:05".
std::string formatMac(const std::array<std::uint8_t, 6>& mac);

}  // namespace podnet::netlink
