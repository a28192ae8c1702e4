#pragma once
// The node's CNI network configuration, written by podnetd with the node's
// pod CIDRs so that runtimes pick it up without a restart.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"

namespace podnet::daemon {

inline constexpr std::string_view kConflistName = "10-podnet.conflist";

struct ConflistSpec {
  std::string network = "podnet";
  std::vector<ip::Prefix> podCidrs;  // one IPAM range set each
  std::string dataDir;               // empty: podnet-ipam's default
  std::optional<int> mtu;
  // Chain the reference `portmap` plugin after podnet (hostPort, `podman -p`).
  bool portmap = false;

  bool operator==(const ConflistSpec&) const = default;
};

// A conflist (cniVersion 1.0.0, which every libcni in use parses) with the
// plugin `podnet` delegating to `podnet-ipam`, then, with `portmap`, the
// reference portmap plugin taking the runtime's portMappings capability (with
// snat: connections to a hostPort from the node's 127.0.0.1 and hairpin ones
// from the Pod itself are masqueraded; others keep their client address).
// Stable byte for byte for equal specs.
std::string renderConflist(const ConflistSpec& spec);

// Writes `content` to `path` atomically (temp file in the same directory,
// fsync, rename, fsync of the directory) unless the file already holds exactly
// that. Returns whether it wrote.
Result<bool> writeFileIfChanged(const std::string& path, std::string_view content);

}  // namespace podnet::daemon
