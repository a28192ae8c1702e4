#pragma once
// The node's masquerade: traffic from this node's pod CIDRs to anywhere
// outside the cluster's pod CIDRs (every node's) leaves with the node's
// address. It lives in a table podnetd owns, replaced as a whole in one
// nftables transaction (so there is never a moment without the rule, and
// existing flows keep their conntrack NAT mappings):
//
//   table inet podnetd {
//     comment "podnetd:<hash of the content>"
//     set local4   { type ipv4_addr; flags interval; elements = { <this node's CIDRs> } }
//     set nomasq4  { type ipv4_addr; flags interval; elements = { <all pod CIDRs>, 224.0.0.0/4 } }
//     set local6 / nomasq6 likewise (ff00::/8)
//     chain postrouting {
//       type nat hook postrouting priority srcnat; policy accept;
//       ip saddr @local4 ip daddr != @nomasq4 counter masquerade
//       ip6 saddr @local6 ip6 daddr != @nomasq6 counter masquerade
//     }
//   }
//
// The comment lets a restarted podnetd see that the table is already right
// and leave it alone. The plugin's per-pod ipMasq uses table inet podnet; the two never meet.

#include <string>
#include <string_view>
#include <vector>

#include "node.hpp"

namespace podnet::daemon {

inline constexpr std::string_view kMasqueradeTable = "podnetd";

// The nft script that creates or replaces the table for `self` in `nodes`;
// empty if `self` has no pod CIDR (then the table should not exist).
std::string renderMasquerade(const std::vector<Node>& nodes, std::string_view self);

// The "podnetd:<hash>" comment of a script from renderMasquerade or of nft's
// text listing of the table; empty if there is none.
std::string masqueradeMarker(std::string_view text);

// The nft script that deletes the table if it exists (and succeeds if not).
std::string renderMasqueradeRemoval();

// False when podnetd was built without libnftables (the podnet_nft module).
bool masqueradeSupported();

}  // namespace podnet::daemon
