#pragma once
// IP masquerading for pods ("ipMasq": true), in nftables state owned by podnet.
//
// Traffic from a pod's address to a destination outside the pod's subnet (the
// prefix of the address IPAM gave it) leaves with the node's address, like the
// reference ptp plugin's ipMasq. Multicast destinations are never masqueraded.
// Everything lives in one table of the node's network namespace:
//
//   table inet podnet {
//     # the pod addresses; each element's comment is its attachment's owner key
//     set pods4_<id>  { type ipv4_addr; }
//     set pods6_<id>  { type ipv6_addr; }
//     # never masqueraded to: the pod subnets, and 224.0.0.0/4 or ff00::/8
//     set local4_<id> { type ipv4_addr; flags interval; auto-merge; }
//     set local6_<id> { type ipv6_addr; flags interval; auto-merge; }
//     chain masq_<id> {
//       type nat hook postrouting priority srcnat; policy accept;
//       ip saddr @pods4_<id> ip daddr != @local4_<id> masquerade
//       ip6 saddr @pods6_<id> ip6 daddr != @local6_<id> masquerade
//     }
//   }
//
// one group of sets and one chain per CNI network; <id> is networkId(name).
// - ADD (addPod) reads the table and writes, in one nftables transaction, only
//   what is missing: the table, the network's sets, its chain with exactly its
//   two rules, the pod's subnets in local<4|6>, and its addresses in
//   pods<4|6> with the owner key as comment (an element of the same address
//   left by another owner is replaced). Repeating it changes nothing. Once the
//   network exists, a pod's ADD is only "add element" commands: no rule or
//   element is deleted, so the kernel has no RCU-deferred cleanup to wait for
//   when the nftables socket is closed (nft_rcv_nl_event() in
//   net/netfilter/nf_tables_api.c flushes that work on NETLINK_URELEASE: one
//   RCU grace period, 10+ ms on a busy node). DEL pays it; ADD does not.
// - DEL and GC (removePods) read the table, delete the elements whose owner
//   matches, and when the network's pod sets are then empty, delete its chain
//   and sets; the table goes with the last network. Nothing survives the last
//   DEL. A missing table, set or element is not an error. Subnets in local<4|6>
//   stay until the network's last pod is gone (they only ever mean "do not
//   masquerade to this subnet").
// Each read-then-write holds an exclusive flock on kLockPath (directory 0700,
// file 0600; one lock for every network namespace of the host), so concurrent
// plugin processes never act on a stale read; waiting more than 10 s for it is
// code 11 (try again later).
// Only this module calls libnftables; nothing execs nft(8).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"

namespace podnet::nft {

inline constexpr std::string_view kTable = "podnet";  // family inet
inline constexpr const char* kLockDir = "/run/podnet";
inline constexpr const char* kLockPath = "/run/podnet/nft.lock";

// A network name as a safe nft identifier: the name with every character
// outside [A-Za-z0-9_] replaced by '_', cut at 32 characters, then '_' and 8
// hex digits of a hash of the whole name (so "a.b" and "a_b" differ).
std::string networkId(std::string_view network);

// The names of one network's objects in table inet podnet.
struct Names {
  std::string chain;   // masq_<id>
  std::string pods4;   // pods4_<id>
  std::string pods6;   // pods6_<id>
  std::string local4;  // local4_<id>
  std::string local6;  // local6_<id>
};
Names namesFor(std::string_view network);

// One pod's masquerade state: its addresses with their subnet's length
// ("10.22.0.5/24"), keyed by an owner string unique to the attachment.
struct Pod {
  std::string network;
  std::string owner;  // [A-Za-z0-9_.:-]{1,64}, e.g. the host veth name
  std::vector<ip::Prefix> addresses;
};

// What table inet podnet holds, as far as podnet cares.
struct Element {
  ip::Address addr;
  std::string comment;
  bool operator==(const Element&) const = default;
};
struct NamedSet {
  std::string name;
  std::vector<Element> elements;     // single addresses (pod sets)
  std::vector<ip::Prefix> prefixes;  // prefixes (local sets); ranges are left out
};
struct TableState {
  std::vector<std::string> chains;
  std::vector<NamedSet> sets;
  std::vector<std::string> rules;  // per rule, the name of its chain
};

// The nft commands (one a line) that bring `table` (nullopt: no table yet) to
// hold `pod`; empty when it already does. Code 7 on a bad owner or an empty
// address list.
Result<std::string> renderAdd(const Pod& pod, const std::optional<TableState>& table);
// Parses `nft -j list table inet podnet` output.
Result<TableState> parseTable(std::string_view json);
// The commands that remove the elements of `network` whose comment satisfies
// `matches`, then the network's objects if its pod sets end up empty, and the
// table if nothing else is left. `commands` is empty when there is nothing to do.
struct RemovePlan {
  std::string commands;
  int removed = 0;  // pod elements that match
};
RemovePlan renderRemove(const TableState& table, std::string_view network,
                        const std::function<bool(std::string_view owner)>& matches);

// Reads the table and applies renderAdd under the lock.
Status addPod(const Pod& pod);
// The addresses of `network`'s pod elements owned by `owner` (for CHECK).
Result<std::vector<ip::Address>> podAddresses(std::string_view network, std::string_view owner);
// Applies renderRemove under the lock; returns how many pod elements were
// removed. A missing table is 0, not an error.
Result<int> removePods(std::string_view network, const std::function<bool(std::string_view owner)>& matches);

}  // namespace podnet::nft
