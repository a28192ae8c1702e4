// DEL, CHECK, GC and STATUS, and the handler table.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "ipam_client.hpp"
#include "plugin.hpp"
#include "podnet/fault/fault.hpp"
#include "podnet/log/log.hpp"
#include "podnet/netlink/socket.hpp"
#include "podnet/netns/netns.hpp"
#include "podnet/nft/masquerade.hpp"

namespace podnet::plugin {
namespace {

Error checkError(std::string msg, std::string details = {}) {
  return fail(code::kInternal, std::move(msg), std::move(details));
}

bool hasRoute(const std::vector<netlink::Route>& routes, const ip::Prefix& dst,
              const std::optional<ip::Address>& gw) {
  return std::any_of(routes.begin(), routes.end(), [&](const netlink::Route& r) {
    return r.dst == dst.network() && (!gw || r.gateway == gw);
  });
}

// Compares the pod's interface, addresses and routes, and the host veth and
// its host routes, with prevResult; the first difference is the error.
Status checkAttachment(const cni::Request& request, const cni::CniResult& prev) {
  const auto& env = request.env;
  PODNET_TRY(netns::Handle podNs, netns::Handle::open(env.netns));
  PODNET_TRY(netlink::Socket pod, netlink::Socket::openIn(podNs));
  PODNET_TRY(netlink::Socket host, netlink::Socket::open());

  PODNET_TRY(const auto podLink, pod.link(env.ifname));
  if (!podLink) return checkError(fmt::format("interface {} is missing in the pod", env.ifname), env.netns);
  if (!podLink->up) return checkError(fmt::format("interface {} in the pod is down", env.ifname));
  const std::string hostName = hostVethName(request.conf.name, env.containerId, env.ifname);
  PODNET_TRY(const auto hostLink, host.link(hostName));
  if (!hostLink) return checkError(fmt::format("host veth {} is missing", hostName));

  int podIndex = -1;
  for (std::size_t i = 0; i < prev.interfaces.size(); ++i) {
    if (prev.interfaces[i].name == env.ifname && !prev.interfaces[i].sandbox.empty())
      podIndex = static_cast<int>(i);
  }
  if (podIndex < 0) return checkError(fmt::format("prevResult has no sandbox interface {}", env.ifname));
  const auto& want = prev.interfaces[static_cast<std::size_t>(podIndex)];
  if (!want.mac.empty() && want.mac != podLink->mac)
    return checkError(
        fmt::format("interface {} has MAC {}, prevResult says {}", env.ifname, podLink->mac, want.mac));

  for (const auto& c : prev.ips) {
    if (c.interface && *c.interface != podIndex) continue;
    PODNET_TRY(const auto addrs, pod.addresses(podLink->index, c.address.family()));
    if (std::find(addrs.begin(), addrs.end(), c.address) == addrs.end())
      return checkError(fmt::format("address {} is missing on {} in the pod", c.address.str(), env.ifname));
    PODNET_TRY(const auto hostRoutes, host.routes(c.address.family(), {.oif = hostLink->index}));
    const ip::Prefix podHost{c.address.addr, c.address.addr.bits()};
    if (!hasRoute(hostRoutes, podHost, std::nullopt))
      return checkError(fmt::format("host route {} dev {} is missing", podHost.str(), hostName));
  }
  for (const auto& r : prev.routes) {
    PODNET_TRY(const auto podRoutes, pod.routes(r.dst.family(), {.oif = podLink->index}));
    if (!hasRoute(podRoutes, r.dst, r.gw))
      return checkError(
          fmt::format("route {}{} is missing in the pod", r.dst.str(), r.gw ? " via " + r.gw->str() : ""));
  }
  return {};
}

}  // namespace

Status removeMasquerade(std::string_view network, std::string_view hostName) {
  PODNET_TRY(const int removed,
             nft::removePods(network, [&](std::string_view owner) { return owner == hostName; }));
  if (removed > 0) log::info("masquerade removed", {{"hostVeth", hostName}, {"elements", removed}});
  return {};
}

Status del(const cni::Request& request) {
  PODNET_TRY(const Config config, parseConfig(request));
  const std::string hostName = hostVethName(request.conf.name, request.env.containerId, request.env.ifname);
  // Masquerade state first: the lease, released last, is what lets the
  // address go to another pod.
  if (config.ipMasq) {
    PODNET_CHECK(removeMasquerade(request.conf.name, hostName));
    PODNET_FAULT_POINT("del.after_masquerade");
  }
  // The host end's name is derived, so DEL needs no netns: deleting it removes
  // the pod end, the addresses and routes of both. The lease is released as
  // soon as the link is down (its routes gone, so the address can go to another
  // pod), while the kernel finishes the deletion.
  PODNET_TRY(netlink::Socket host, netlink::Socket::open());
  // A link that carries the derived name but is not podnet's veth of this
  // network (made by someone else, e.g. to make ADD fail) is left alone.
  PODNET_TRY(const auto existing, host.link(hostName));
  if (existing && !isHostVethOf(*existing, request.conf.name)) {
    log::warn("DEL: leaving a link that is not podnet's", {{"link", hostName}, {"kind", existing->kind}});
    return ipamRun(request, config.ipamType, cni::Command::kDel);
  }
  Status released;
  PODNET_TRY(const bool deleted, host.deleteLinkThen(hostName, [&] {
    released = ipamRun(request, config.ipamType, cni::Command::kDel);
  }));
  PODNET_FAULT_POINT("del.after_link");
  PODNET_CHECK(released);
  PODNET_FAULT_POINT("del.after_ipam");
  if (log::enabled(log::Level::kInfo))
    log::info("deleted", {{"hostVeth", hostName}, {"linkExisted", deleted}});
  return {};
}

Status check(const cni::Request& request) {
  if (!request.conf.prevResult)
    return fail(code::kInvalidConfig, "CHECK needs prevResult", "the runtime passes the Result of ADD");
  PODNET_TRY(const Config config, parseConfig(request));
  PODNET_CHECK(checkAttachment(request, *request.conf.prevResult));
  if (config.ipMasq) {
    const std::string hostName = hostVethName(request.conf.name, request.env.containerId, request.env.ifname);
    PODNET_TRY(const auto masq, nft::podAddresses(request.conf.name, hostName));
    for (const auto& c : request.conf.prevResult->ips) {
      if (std::find(masq.begin(), masq.end(), c.address.addr) == masq.end())
        return checkError(fmt::format("masquerade element for {} is missing", c.address.addr.str()),
                          fmt::format("table inet {}, set of network {}", nft::kTable, request.conf.name));
    }
  }
  return ipamRun(request, config.ipamType, cni::Command::kCheck);
}

Status gc(const cni::Request& request) {
  PODNET_TRY(const Config config, parseConfig(request));
  PODNET_TRY(const auto valid, cni::validAttachments(request.conf));
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(hostVethName(request.conf.name, a.containerId, a.ifname));

  PODNET_TRY(netlink::Socket host, netlink::Socket::open());
  PODNET_TRY(const auto links, host.links());
  for (const auto& link : links) {
    // Ours, or any network's veth whose ADD was killed before it set the alias.
    if (!isHostVethOf(link, request.conf.name) || keep.count(link.name) != 0) continue;
    PODNET_TRY(const bool deleted, host.deleteLink(link.name));
    if (deleted) log::info("gc: deleted host veth", {{"link", link.name}});
    PODNET_FAULT_POINT("gc.after_link");
  }
  if (config.ipMasq) {
    PODNET_TRY(const int removed, nft::removePods(request.conf.name, [&](std::string_view owner) {
                 return keep.count(std::string(owner)) == 0;
               }));
    if (removed > 0) log::info("gc: removed masquerade elements", {{"elements", removed}});
    PODNET_FAULT_POINT("gc.after_masquerade");
  }
  return ipamRun(request, config.ipamType, cni::Command::kGc);
}

Status status(const cni::Request& request) {
  PODNET_TRY(const Config config, parseConfig(request));
  return ipamRun(request, config.ipamType, cni::Command::kStatus);
}

cni::Handlers handlers() { return {.add = add, .del = del, .check = check, .gc = gc, .status = status}; }

}  // namespace podnet::plugin
