#pragma once
// The IPAM section, parsed and validated as host-local reads it: `ranges`
// (range sets), the legacy single range (`subnet`, `rangeStart`, `rangeEnd`,
// `gateway`), `routes`, `dataDir`, `resolvConf`, plus the `ipRanges` and
// `ips` capabilities and CNI_ARGS `IP=`.

#include <string>
#include <string_view>
#include <vector>

#include "podnet/cni/args.hpp"
#include "podnet/cni/config.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/error/result.hpp"
#include "podnet/ipam/range.hpp"

namespace podnet::ipam {

// host-local's default parent of every network's directory.
inline constexpr std::string_view kDefaultDataDir = "/var/lib/cni/networks";

struct Config {
  std::string network;              // conf.name
  std::vector<RangeSet> rangeSets;  // runtimeConfig.ipRanges, then legacy range, then ranges
  std::vector<cni::Route> routes;
  std::string storeDir;  // <dataDir or kDefaultDataDir>/<network>, as host-local joins them
  std::string resolvConf;
  // fsync each new lease before ADD returns (default off, as host-local).
  // Only a power failure or kernel crash can lose an unsynced lease, and
  // those end every Pod the lease could belong to (see disk_store.hpp).
  bool syncLeases = false;
  bool operator==(const Config&) const = default;
};

// Every error is code 7 and names the offending field, e.g.
// "ipam.ranges[0][1].rangeStart 10.0.1.9 is outside subnet 10.0.0.0/24".
// Defaults as host-local: gateway = network + 1, rangeStart = network + 1,
// rangeEnd = last address (IPv4: broadcast - 1). Rejects subnets smaller than
// /30 (/126), overlapping ranges within or across range sets, mixed families
// in one set, gateway/rangeStart/rangeEnd outside the subnet, start > end.
Result<Config> parseConfig(const cni::NetConf& conf);

// Only the store's directory (DEL and GC must work even when the ranges no
// longer parse). Code 7 on a relative dataDir or a bad network name.
Result<std::string> parseStoreDir(const cni::NetConf& conf);

// Requested addresses, in host-local's order: CNI_ARGS IP= (comma-separated),
// args.cni.ips, runtimeConfig.ips; each "10.1.0.5" or "10.1.0.5/24" (the
// prefix is ignored). Code 7 on text that is not an address.
Result<std::vector<ip::Address>> requestedAddresses(const cni::NetConf& conf, const cni::CniArgs& args);

// resolv.conf as host-local reads it: nameserver, domain, search, options.
// Code 5 when the file cannot be read.
Result<cni::Dns> parseResolvConf(const std::string& path);
cni::Dns parseResolvConfText(std::string_view text);

}  // namespace podnet::ipam
