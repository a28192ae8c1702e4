// Links: veth pairs, lookups, up/down/MTU, deletion.
#include <linux/if.h>
#include <netlink/route/link/veth.h>

#include <cerrno>

#include "detail.hpp"
#include "podnet/netlink/socket.hpp"
#include "podnet/netns/netns.hpp"

namespace podnet::netlink {
namespace {

using detail::LinkPtr;
using detail::NlAddrPtr;
using detail::SocketState;

Status checkName(const std::string& name, const std::string& what) {
  const bool ok = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != ".." &&
                  name.find_first_of("/: \t\n") == std::string::npos;
  if (ok) return {};
  return fail(code::kInvalidConfig, what + ": invalid interface name \"" + name + "\"");
}

// Link-layer address bytes as "aa:bb:..", whatever their number.
std::string hwText(nl_addr* addr) {
  if (addr == nullptr) return {};
  const auto* bytes = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(addr));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < nl_addr_get_len(addr); ++i) {
    if (i > 0) out += ':';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

Link toLink(rtnl_link* l) {
  const char* name = rtnl_link_get_name(l);
  const char* kind = rtnl_link_get_type(l);
  const char* alias = rtnl_link_get_ifalias(l);
  return Link{
      .index = rtnl_link_get_ifindex(l),
      .name = name != nullptr ? name : "",
      .mac = hwText(rtnl_link_get_addr(l)),
      .mtu = static_cast<int>(rtnl_link_get_mtu(l)),
      .up = (rtnl_link_get_flags(l) & IFF_UP) != 0,
      .running = rtnl_link_get_operstate(l) == IF_OPER_UP,
      .kind = kind != nullptr ? kind : "",
      .masterIndex = rtnl_link_get_master(l),
      .alias = alias != nullptr ? alias : "",
  };
}

Result<NlAddrPtr> macAddr(const std::string& text, const std::string& what) {
  const auto mac = parseMac(text);
  if (!mac) return fail(code::kInvalidConfig, what + ": invalid MAC address \"" + text + "\"");
  NlAddrPtr addr(nl_addr_build(AF_LLC, mac->data(), mac->size()));
  if (!addr) return fail(code::kInternal, what + ": out of memory");
  return addr;
}

Result<std::optional<Link>> getLink(SocketState& st, int index, const char* name, const std::string& what) {
  st.clear();
  rtnl_link* raw = nullptr;
  const int err = rtnl_link_get_kernel(st.sock, index, name, &raw);
  const LinkPtr found(raw);
  // rtnl_link_get_kernel installs an error callback of its own, so only
  // libnl's code tells "no such link" here.
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return std::optional<Link>{};
  if (err < 0) return st.error(err, what);
  return std::optional<Link>(toLink(found.get()));
}

// RTM_NEWLINK on link `index` with the attributes set in `changes`.
Status change(SocketState& st, int index, rtnl_link* changes, const std::string& what) {
  const LinkPtr orig(rtnl_link_alloc());
  if (!orig) return fail(code::kInternal, what + ": out of memory");
  rtnl_link_set_ifindex(orig.get(), index);
  st.clear();
  const int err = rtnl_link_change(st.sock, orig.get(), changes, 0);
  if (err < 0) return st.error(err, what);
  return {};
}

Status setFlag(SocketState& st, int index, bool up) {
  const LinkPtr changes(rtnl_link_alloc());
  if (!changes) return fail(code::kInternal, "set link up: out of memory");
  if (up) {
    rtnl_link_set_flags(changes.get(), IFF_UP);
  } else {
    rtnl_link_unset_flags(changes.get(), IFF_UP);
  }
  return change(st, index, changes.get(), "set link " + std::to_string(index) + (up ? " up" : " down"));
}

}  // namespace

Status Socket::createVeth(const VethSpec& spec) {
  const std::string what = "create veth " + spec.hostName + " (peer " + spec.peerName + ")";
  PODNET_CHECK(checkName(spec.hostName, what));
  PODNET_CHECK(checkName(spec.peerName, what));
  const LinkPtr host(rtnl_link_veth_alloc());
  if (!host) return fail(code::kInternal, what + ": out of memory");
  // The peer lives inside `host`; get_peer hands out a reference of its own.
  const LinkPtr peer(rtnl_link_veth_get_peer(host.get()));
  rtnl_link_set_name(host.get(), spec.hostName.c_str());
  rtnl_link_set_name(peer.get(), spec.peerName.c_str());
  if (spec.mtu > 0) {
    rtnl_link_set_mtu(host.get(), static_cast<unsigned>(spec.mtu));
    rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(spec.mtu));
  }
  if (spec.queues > 0) {
    for (rtnl_link* end : {host.get(), peer.get()}) {
      rtnl_link_set_num_tx_queues(end, spec.queues);
      rtnl_link_set_num_rx_queues(end, spec.queues);
    }
  }
  if (spec.hostMac) {
    PODNET_TRY(const auto mac, macAddr(*spec.hostMac, what));
    rtnl_link_set_addr(host.get(), mac.get());
  }
  if (spec.peerMac) {
    PODNET_TRY(const auto mac, macAddr(*spec.peerMac, what));
    rtnl_link_set_addr(peer.get(), mac.get());
  }
  // IFLA_NET_NS_FD inside VETH_INFO_PEER: the kernel creates the peer there.
  if (spec.peerNetns != nullptr) rtnl_link_set_ns_fd(peer.get(), spec.peerNetns->fd());
  state_->clear();
  const int err = rtnl_link_add(state_->sock, host.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) return state_->error(err, what);
  return {};
}

Result<std::optional<Link>> Socket::link(std::string_view name) {
  const std::string n(name);
  const std::string what = "get link " + n;
  PODNET_CHECK(checkName(n, what));
  return getLink(*state_, 0, n.c_str(), what);
}

Result<std::optional<Link>> Socket::link(int index) {
  if (index <= 0) return std::optional<Link>{};
  return getLink(*state_, index, nullptr, "get link " + std::to_string(index));
}

Result<std::vector<Link>> Socket::links() {
  std::vector<Link> out;
  PODNET_CHECK(detail::dump(
      *state_, RTM_GETLINK, AF_UNSPEC, "list links", [&] { out.clear(); },
      [&](nl_object* obj) { out.push_back(toLink(reinterpret_cast<rtnl_link*>(obj))); }));
  return out;
}

Status Socket::setUp(int index) { return setFlag(*state_, index, true); }

Status Socket::setDown(int index) { return setFlag(*state_, index, false); }

Status Socket::setMtu(int index, int mtu) {
  const std::string what = "set mtu " + std::to_string(mtu) + " on link " + std::to_string(index);
  if (mtu <= 0) return fail(code::kInvalidConfig, what + ": invalid MTU");
  const LinkPtr changes(rtnl_link_alloc());
  if (!changes) return fail(code::kInternal, what + ": out of memory");
  rtnl_link_set_mtu(changes.get(), static_cast<unsigned>(mtu));
  return change(*state_, index, changes.get(), what);
}

Status Socket::setAlias(int index, const std::string& alias) {
  const std::string what = "set alias of link " + std::to_string(index);
  const LinkPtr changes(rtnl_link_alloc());
  if (!changes) return fail(code::kInternal, what + ": out of memory");
  rtnl_link_set_ifalias(changes.get(), alias.c_str());
  return change(*state_, index, changes.get(), what);
}

Result<bool> Socket::deleteLink(std::string_view name) {
  const std::string n(name);
  const std::string what = "delete link " + n;
  PODNET_CHECK(checkName(n, what));
  const LinkPtr target(rtnl_link_alloc());
  if (!target) return fail(code::kInternal, what + ": out of memory");
  rtnl_link_set_name(target.get(), n.c_str());
  state_->clear();
  const int err = rtnl_link_delete(state_->sock, target.get());
  if (err < 0) {
    if (state_->last.errnum == ENODEV) return false;
    return state_->error(err, what);
  }
  return true;
}

}  // namespace podnet::netlink
