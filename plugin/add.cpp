// ADD: one veth pair per attachment, addressed and routed as plugin.hpp says.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>

#include "ipam_client.hpp"
#include "plugin.hpp"
#include "podnet/fault/fault.hpp"
#include "podnet/log/log.hpp"
#include "podnet/netlink/socket.hpp"
#include "podnet/netns/netns.hpp"
#include "podnet/netns/sysctl.hpp"
#include "podnet/nft/masquerade.hpp"
#include "transaction.hpp"

namespace podnet::plugin {
namespace {

constexpr int kDefaultMtu = 1500;

ip::Prefix hostPrefix(const ip::Address& a) { return ip::Prefix{a, a.bits()}; }

// The MTU of the link the node sends outside traffic through: the route the
// kernel picks for a public address, IPv4 first, as "ip route get" does. A
// lookup, not a dump of the routing tables, which grow with the Pods and the
// nodes. 1500 when the node routes neither outside.
int detectMtu(netlink::Socket& host) {
  for (const char* outside : {"8.8.8.8", "2001:4860:4860::8888"}) {
    auto oif = host.outputLink(*ip::Address::parse(outside));
    if (!oif || !*oif) continue;
    auto link = host.link(**oif);
    if (link && *link && (*link)->mtu > 0) return (*link)->mtu;
  }
  return kDefaultMtu;
}

// Every address needs a gateway of its own family: it is the pod's next hop
// and the host veth's address.
Status requireGateways(const cni::CniResult& r) {
  if (r.ips.empty()) return fail(code::kInvalidConfig, "IPAM returned no address");
  for (const auto& c : r.ips) {
    if (!c.gateway)
      return fail(code::kInvalidConfig, fmt::format("IPAM returned {} without a gateway", c.address.str()),
                  "podnet routes each pod through its gateway address; set ipam gateway");
  }
  return {};
}

// The routes the pod gets: IPAM's, else a default route per address family.
std::vector<cni::Route> podRoutes(const cni::CniResult& r) {
  std::vector<cni::Route> out;
  for (const auto& route : r.routes) {
    for (const auto& c : r.ips) {
      if (c.address.family() == route.dst.family()) {
        out.push_back(route);
        break;
      }
    }
  }
  if (!out.empty()) return out;
  bool v4 = false, v6 = false;
  for (const auto& c : r.ips) (c.address.addr.isV4() ? v4 : v6) = true;
  if (v4) out.push_back({.dst = *ip::Prefix::parse("0.0.0.0/0")});
  if (v6) out.push_back({.dst = *ip::Prefix::parse("::/0")});
  return out;
}

const ip::Address& gatewayFor(const cni::CniResult& r, ip::Family family) {
  for (const auto& c : r.ips) {
    if (c.address.family() == family) return *c.gateway;
  }
  return *r.ips.front().gateway;  // unreachable: podRoutes keeps only families we have
}

bool hasV6(const cni::CniResult& r) {
  return std::any_of(r.ips.begin(), r.ips.end(),
                     [](const cni::IpConfig& c) { return !c.address.addr.isV4(); });
}

// No IPv6 duplicate address detection on a veth end, set before it goes up:
// its link-local address is then usable at once. The kernel sends neighbour
// solicitations for forwarded packets only from a non-tentative link-local
// address, so with DAD the first packets wait a second or two.
Status disableDad(std::string_view ifname) {
  return netns::writeSysctl(fmt::format("net/ipv6/conf/{}/accept_dad", ifname), "0");
}

// The kernel's loopback is always ifindex 1 (LOOPBACK_IFINDEX), in every namespace.
constexpr int kLoopbackIndex = 1;

// The pod side in one netlink round trip: the link and lo up, the addresses,
// the gateway routes, then the default (or IPAM's) routes.
Status configurePod(const netns::Handle& podNs, netlink::Socket& pod, const netlink::Link& podLink,
                    const cni::CniResult& ipamResult, const std::vector<cni::Route>& routes) {
  if (hasV6(ipamResult)) {
    PODNET_CHECK(netns::run(podNs, [&] { return disableDad(podLink.name); }));
    PODNET_FAULT_POINT("add.after_pod_sysctl");
  }
  // The link goes up first: the host end is up already, so the kernel starts
  // bringing the carrier up while it adds the addresses and routes.
  netlink::Batch batch(pod);
  batch.setUp(podLink.index);
  batch.setUp(kLoopbackIndex);
  for (const auto& c : ipamResult.ips)
    batch.addAddress(podLink.index, c.address, {.nodad = true, .noprefixroute = true});
  for (const auto& c : ipamResult.ips) {
    batch.addRoute({.dst = hostPrefix(*c.gateway),
                    .oif = podLink.index,
                    .scope = c.gateway->isV4() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE});
  }
  for (const auto& r : routes) {
    batch.addRoute({.dst = r.dst.network(),
                    .gateway = r.gw ? *r.gw : gatewayFor(ipamResult, r.dst.family()),
                    .oif = podLink.index,
                    .metric = r.priority});
  }
  PODNET_CHECK(batch.send());
  PODNET_FAULT_POINT("add.after_pod_batch");
  return {};
}

// The host side in one round trip: the gateway addresses, link up, the
// routes to the pod.
Status configureHost(netlink::Socket& host, const netlink::Link& hostLink, const cni::CniResult& ipamResult) {
  const bool v6 = hasV6(ipamResult);
  PODNET_CHECK(netns::writeSysctl("net.ipv4.ip_forward", "1"));
  if (v6) {
    PODNET_CHECK(netns::writeSysctl("net.ipv6.conf.all.forwarding", "1"));
    PODNET_CHECK(disableDad(hostLink.name));
  }
  PODNET_FAULT_POINT("add.after_host_sysctl");
  netlink::Batch batch(host);
  for (const auto& c : ipamResult.ips)
    batch.addAddress(hostLink.index, hostPrefix(*c.gateway), {.nodad = true, .noprefixroute = true});
  batch.setUp(hostLink.index);
  for (const auto& c : ipamResult.ips) {
    batch.addRoute({.dst = hostPrefix(c.address.addr),
                    .oif = hostLink.index,
                    .scope = c.address.addr.isV4() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE});
  }
  PODNET_CHECK(batch.send());
  PODNET_FAULT_POINT("add.after_host_batch");
  return {};
}

// Waits until both veth ends pass packets. Usually at once; up to a second
// when the kernel's linkwatch defers the carrier event (both ends with the
// same ifindex, each in its own namespace). Returning earlier would hand the
// runtime a Pod whose first packets are dropped.
Status waitRunning(netlink::Socket& host, int hostIndex, netlink::Socket& pod, int podIndex) {
  using namespace std::chrono;
  constexpr auto kLimit = milliseconds(3000);
  const auto start = steady_clock::now();
  for (auto pause = microseconds(200);; pause = std::min(pause * 2, microseconds(20000))) {
    PODNET_TRY(const auto h, host.link(hostIndex));
    PODNET_TRY(const auto p, pod.link(podIndex));
    if (h && p && h->running && p->running) return {};
    if (steady_clock::now() - start > kLimit)
      return fail(code::kTryAgainLater, "veth did not come up", fmt::format("waited {} ms", kLimit.count()));
    std::this_thread::sleep_for(pause);
  }
}

// Runs the new leases' fsyncs on a thread of their own while ADD sets up the
// veth: the disk's latency overlaps the kernel's work instead of adding to it.
class BackgroundSync {
 public:
  explicit BackgroundSync(ipam::PendingSync sync) : sync_(std::move(sync)) {
    if (sync_.files() == 0) return;
    try {
      thread_ = std::thread([this] { status_ = sync_.run(); });
    } catch (const std::system_error&) {
      status_ = sync_.run();  // no thread to be had: sync here
    }
  }
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;
  ~BackgroundSync() {
    if (thread_.joinable()) thread_.join();
  }
  // The sync's outcome, once it is done.
  Status wait() {
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  ipam::PendingSync sync_;
  Status status_;
  std::thread thread_;
};

// Why a veth create failed, when it is a name already taken: the precise
// error (code 4) instead of the kernel's "File exists". Looked up only after
// a failure, so that ADD spends no round trips on it.
std::optional<Error> nameTaken(netlink::Socket& host, netlink::Socket& pod, const std::string& hostName,
                               const cni::Env& env) {
  if (auto taken = pod.link(env.ifname); taken && *taken)
    return fail(code::kInvalidEnvironment, fmt::format("interface {} already exists in the pod", env.ifname),
                env.netns);
  if (auto stale = host.link(hostName); stale && *stale)
    return fail(code::kInvalidEnvironment, fmt::format("host interface {} already exists", hostName),
                "an earlier ADD of this attachment was not deleted: run DEL first");
  return std::nullopt;
}

}  // namespace

Result<cni::CniResult> add(const cni::Request& request) {
  const auto& env = request.env;
  PODNET_TRY(const Config config, parseConfig(request));
  PODNET_TRY(netns::Handle podNs, netns::Handle::open(env.netns));
  PODNET_TRY(const netns::Handle nodeNs, netns::Handle::current());
  if (podNs.sameAs(nodeNs))
    return fail(code::kInvalidNetns, "CNI_NETNS is the plugin's own network namespace", env.netns);
  PODNET_TRY(netlink::Socket host, netlink::Socket::open());
  PODNET_TRY(netlink::Socket pod, netlink::Socket::openIn(podNs));

  // The veth first: its create refuses names that are taken, in the node or
  // in the pod, before anything is leased.
  const std::string hostName = hostVethName(request.conf.name, env.containerId, env.ifname);
  Transaction tx;
  if (auto created = host.createVeth({.hostName = hostName,
                                      .peerName = env.ifname,
                                      .peerNetns = &podNs,
                                      // Not value_or(): that would look the MTU up even when mtu is set.
                                      .mtu = config.mtu ? *config.mtu : detectMtu(host),
                                      .hostMac = hostVethMac(hostName),
                                      .peerMac = config.mac});
      !created) {
    return nameTaken(host, pod, hostName, env).value_or(created.error());
  }
  PODNET_FAULT_POINT("add.after_veth_created");
  tx.onFailure([&] {
    if (auto gone = host.deleteLink(hostName); !gone)
      log::error("undo: deleting host veth failed", {{"link", hostName}, {"error", gone.error().msg}});
  });
  PODNET_TRY(const auto hostLink, host.link(hostName));
  PODNET_TRY(const auto podLink, pod.link(env.ifname));
  if (!hostLink || !podLink)
    return fail(code::kInternal, fmt::format("veth {} vanished after creation", hostName));
  // At once, before IPAM waits for its lock or an exec: until the alias names
  // the network, a GC of any network takes the veth for an unfinished ADD's.
  PODNET_CHECK(host.setAlias(hostLink->index, hostVethAlias(request.conf.name)));
  PODNET_FAULT_POINT("add.after_alias");

  ipam::PendingSync durable;
  PODNET_TRY(cni::CniResult ipamResult, ipamAdd(request, config.ipamType, durable));
  PODNET_FAULT_POINT("add.after_ipam");
  tx.onFailure([&] {
    if (auto st = ipamRun(request, config.ipamType, cni::Command::kDel); !st)
      log::error("undo: IPAM release failed", {{"error", st.error().msg}});
  });
  BackgroundSync leasesDurable(std::move(durable));
  PODNET_CHECK(requireGateways(ipamResult));

  const auto routes = podRoutes(ipamResult);
  PODNET_CHECK(configureHost(host, *hostLink, ipamResult));
  PODNET_CHECK(configurePod(podNs, pod, *podLink, ipamResult, routes));
  if (config.ipMasq) {
    nft::Pod masq{.network = request.conf.name, .owner = hostName};
    for (const auto& c : ipamResult.ips) masq.addresses.push_back(c.address);
    PODNET_CHECK(nft::addPod(masq));
    PODNET_FAULT_POINT("add.after_masquerade");
    tx.onFailure([&] {
      if (auto st = removeMasquerade(request.conf.name, hostName); !st)
        log::error("undo: removing masquerade failed", {{"error", st.error().msg}});
    });
  }
  PODNET_CHECK(waitRunning(host, hostLink->index, pod, podLink->index));
  PODNET_FAULT_POINT("add.after_running");
  PODNET_CHECK(leasesDurable.wait());

  cni::CniResult result;
  result.cniVersion = request.conf.cniVersion;
  result.interfaces = {
      {.name = hostLink->name, .mac = hostLink->mac},
      {.name = podLink->name, .mac = podLink->mac, .sandbox = env.netns, .mtu = podLink->mtu}};
  for (auto c : ipamResult.ips) {
    c.interface = 1;
    result.ips.push_back(c);
  }
  result.routes = routes;
  result.dns = request.conf.dns.empty() ? ipamResult.dns : request.conf.dns;
  tx.commit();
  if (log::enabled(log::Level::kInfo))
    log::info("added", {{"hostVeth", hostName}, {"ips", toJson(result, "1.1.0")["ips"]}});
  return result;
}

}  // namespace podnet::plugin
