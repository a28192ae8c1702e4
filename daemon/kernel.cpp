#include "kernel.hpp"

namespace podnet::daemon {

Result<std::vector<Connected>> NetlinkKernel::connected() {
  std::vector<Connected> out;
  const auto linkLocal = *ip::Prefix::parse("fe80::/10");
  for (const auto family : {ip::Family::kV4, ip::Family::kV6}) {
    PODNET_TRY(const auto routes, socket_.routes(family, {.protocol = RTPROT_KERNEL}));
    for (const auto& r : routes) {
      // The prefix route of an address: no gateway, one link, not a host route.
      if (r.gateway || r.oif == 0 || r.type != RTN_UNICAST || r.dst.len == r.dst.addr.bits()) continue;
      if (family == ip::Family::kV6 && linkLocal.contains(r.dst.addr)) continue;
      out.push_back(Connected{.subnet = r.dst, .oif = r.oif});
    }
  }
  return out;
}

Result<std::vector<netlink::Route>> NetlinkKernel::routes() {
  PODNET_TRY(auto all, socket_.routes(ip::Family::kV4));
  PODNET_TRY(const auto v6, socket_.routes(ip::Family::kV6));
  all.insert(all.end(), v6.begin(), v6.end());
  return all;
}

}  // namespace podnet::daemon
