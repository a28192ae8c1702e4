#pragma once
// The pure side of the etcd node source: how a node's subnet lease is laid
// out in etcd, and how a free subnet of a cluster CIDR is chosen.
//
// One key per node and family, bound to the node's etcd lease:
//   <prefix><subnet with '/' as '-'>   e.g. /podnet/subnets/10.244.3.0-24
//   value {"name": "node3", "addresses": ["192.168.77.13"], "podCIDRs": ["10.244.3.0/24"]}
// The key names the subnet, so that a create-if-absent transaction on it
// (compare create_revision == 0) gives one subnet to one node only.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node.hpp"

namespace podnet::daemon {

namespace etcd {
// RFC 4648 base64 with padding, as etcd's JSON gateway carries keys and values.
std::string base64Encode(std::string_view bytes);
// nullopt on characters outside the alphabet or a bad length/padding.
std::optional<std::string> base64Decode(std::string_view text);
}  // namespace etcd

// The smallest key after every key that starts with `prefix` (etcd's
// range_end for a prefix); "\0" (every key) if no byte can be incremented.
std::string prefixRangeEnd(std::string_view prefix);

// "<prefix>10.244.3.0-24", "<prefix>fd00:10:244:3::-64".
std::string subnetKey(std::string_view prefix, const ip::Prefix& subnet);
// The subnet a key names; nullopt for a key outside the prefix, bad text or
// a subnet with host bits set.
std::optional<ip::Prefix> parseSubnetKey(std::string_view prefix, std::string_view key);

// A lease's value: the node's name, its underlay addresses and its pod CIDR
// (the one the key names).
std::string encodeLeaseValue(const Node& node);
// Validates as the cluster file does: a non-empty name, addresses and CIDRs
// that parse, no host bits. Errors are code::kDecode or code::kInvalidConfig.
Result<Node> decodeLeaseValue(std::string_view value);

// Up to `limit` subnets of length `len` inside `cidr` that overlap none of
// `used` (any family; others are ignored), in address order. Empty when
// `len` does not fit the CIDR's family or is shorter than the CIDR.
std::vector<ip::Prefix> freeSubnets(const ip::Prefix& cidr, int len, const std::vector<ip::Prefix>& used,
                                    std::size_t limit);

// The settings of the etcd source, checked (sources.cpp passes Options).
struct LeaseSpec {
  std::string nodeName;
  std::vector<ip::Address> addresses;
  std::vector<ip::Prefix> clusterCidrs;  // at most one per family, no host bits
  int subnetLenV4 = 24;
  int subnetLenV6 = 64;

  int subnetLen(const ip::Prefix& cidr) const { return cidr.addr.isV4() ? subnetLenV4 : subnetLenV6; }
};
// code::kInvalidConfig naming the flag at fault.
Result<LeaseSpec> makeLeaseSpec(const std::string& nodeName, const std::vector<std::string>& addresses,
                                const std::vector<std::string>& clusterCidrs, int subnetLenV4,
                                int subnetLenV6);

// Merges per-key leases into nodes, one per name, sorted by name: pod CIDRs
// IPv4 first then IPv6, each in address order; addresses of the first lease
// (every lease of a node carries the same).
std::vector<Node> mergeLeases(const std::vector<Node>& leases);

}  // namespace podnet::daemon
