// Interface addresses.
#include <linux/if_addr.h>

#include "detail.hpp"
#include "podnet/netlink/socket.hpp"

namespace podnet::netlink {

Result<detail::AddrPtr> detail::toRtnlAddr(int index, const ip::Prefix& prefix, AddrOptions options,
                                           const std::string& what) {
  detail::AddrPtr addr(rtnl_addr_alloc());
  const auto local = detail::toNlAddr(prefix.addr, prefix.len);
  if (!addr || !local) return fail(code::kInternal, what + ": out of memory");
  rtnl_addr_set_ifindex(addr.get(), index);
  // Sets the prefix length from `local` too.
  if (const int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0)
    return fail(code::kIo, what + ": " + nl_geterror(err));
  unsigned flags = 0;
  if (options.nodad) flags |= IFA_F_NODAD;
  // Above 8 bits: libnl sends the flags in IFA_FLAGS as well as ifa_flags.
  if (options.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  if (flags != 0) rtnl_addr_set_flags(addr.get(), flags);
  return addr;
}

std::string detail::describeAddAddress(int index, const ip::Prefix& prefix) {
  return "add address " + prefix.str() + " to link " + std::to_string(index);
}

Status Socket::addAddress(int index, const ip::Prefix& prefix, AddrOptions options) {
  const std::string what = detail::describeAddAddress(index, prefix);
  PODNET_TRY(const auto addr, detail::toRtnlAddr(index, prefix, options, what));
  state_->clear();
  const int err = rtnl_addr_add(state_->sock, addr.get(), NLM_F_EXCL);
  if (err < 0) return state_->error(err, what);
  return {};
}

Result<std::vector<ip::Prefix>> Socket::addresses(int index, ip::Family family) {
  std::vector<ip::Prefix> out;
  PODNET_CHECK(detail::dump(
      *state_, RTM_GETADDR, detail::toAf(family), "list addresses of link " + std::to_string(index),
      [&] { out.clear(); },
      [&](nl_object* obj) {
        auto* a = reinterpret_cast<rtnl_addr*>(obj);
        if (rtnl_addr_get_ifindex(a) != index || rtnl_addr_get_family(a) != detail::toAf(family)) return;
        if (auto local = detail::fromNlAddr(rtnl_addr_get_local(a))) {
          out.push_back(ip::Prefix{*local, rtnl_addr_get_prefixlen(a)});
        }
      }));
  return out;
}

}  // namespace podnet::netlink
