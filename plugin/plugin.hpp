#pragma once
// podnet: the routed-veth CNI plugin (no bridge). Every pod gets a veth pair:
// the host end in the node's namespace, the pod end created directly in the
// pod's namespace. Addressing follows the reference ptp plugin's scheme,
// for both families:
//   pod:  <ip>/<len> (no prefix route), "<gw> dev <if> scope link", then
//         "default via <gw>" (or IPAM's routes via <gw>)
//   host: <gw>/32 (/128) on the host veth (no prefix route, no DAD),
//         "<ip>/32 (/128) dev <host veth>", forwarding on.
// The host veth's alias "podnet:<network>" marks it as ours for GC.
// "ipMasq": true adds the pod's addresses to podnet's nftables masquerade
// sets (podnet/nft/masquerade.hpp), keyed by the host veth name, after the
// host routes; CHECK verifies them; DEL and GC remove them, and the network's
// rules with its last pod.

#include <optional>
#include <string>
#include <string_view>

#include "podnet/cni/plugin.hpp"
#include "podnet/error/result.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::plugin {

// Plugin-specific keys of the network configuration.
struct Config {
  std::optional<int> mtu;  // unset: the MTU of the node's default-route link, else 1500
  bool ipMasq = false;
  std::string ipamType;            // ipam.type
  std::optional<std::string> mac;  // runtimeConfig.mac or CNI_ARGS MAC=
};

// Code 7 naming the key on bad values (mtu outside 68..65535, bad mac, ...).
Result<Config> parseConfig(const cni::Request& request);

// "pn" + 12 hex digits of a hash of network, container ID and interface name:
// 14 bytes, under IFNAMSIZ, the same on every call so DEL and GC find it.
std::string hostVethName(std::string_view network, std::string_view containerId, std::string_view ifname);
// The alias that marks a host veth as podnet's for `network` (at most 255 bytes).
std::string hostVethAlias(std::string_view network);
// The host veth's MAC, set in the create request itself: 02: (locally
// administered) + the first 10 hex digits of its name. The alias can only be
// set by a second request, so a veth left by an ADD killed in between is
// known as podnet's by this. Empty for a name hostVethName() cannot produce.
std::string hostVethMac(std::string_view hostName);
// Whether `link` is podnet's host veth of `network`: its alias, or, without an
// alias, its derived MAC (an ADD killed before it set the alias).
bool isHostVethOf(const netlink::Link& link, std::string_view network);
// Whether `link` is a podnet host veth an ADD left without an alias (any network).
bool isUnfinishedHostVeth(const netlink::Link& link);

// Removes the masquerade elements of the attachment whose host veth is
// `hostName` (nothing to remove is success).
Status removeMasquerade(std::string_view network, std::string_view hostName);

Result<cni::CniResult> add(const cni::Request& request);
Status del(const cni::Request& request);
Status check(const cni::Request& request);
Status gc(const cni::Request& request);
Status status(const cni::Request& request);

cni::Handlers handlers();

}  // namespace podnet::plugin
