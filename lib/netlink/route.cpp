// Routes: add, replace, delete, dump.
#include <netlink/route/nexthop.h>

#include <cerrno>

#include "detail.hpp"
#include "podnet/netlink/socket.hpp"

namespace podnet::netlink {
namespace detail {

std::optional<Route> toRoute(rtnl_route* r) {
  const int af = rtnl_route_get_family(r);
  if (af != AF_INET && af != AF_INET6) return std::nullopt;
  nl_addr* dstAddr = rtnl_route_get_dst(r);
  const auto dst = fromNlAddr(dstAddr);
  if (!dst) return std::nullopt;
  Route route{
      .dst = ip::Prefix{*dst, static_cast<int>(nl_addr_get_prefixlen(dstAddr))},
      .table = static_cast<int>(rtnl_route_get_table(r)),
      .protocol = rtnl_route_get_protocol(r),
      .scope = rtnl_route_get_scope(r),
      .type = rtnl_route_get_type(r),
  };
  if (const auto prio = rtnl_route_get_priority(r); prio != 0) route.metric = static_cast<int>(prio);
  const int hops = rtnl_route_get_nnexthops(r);
  if (hops > 1) return std::nullopt;
  if (hops == 1) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
    route.oif = rtnl_route_nh_get_ifindex(nh);
    route.gateway = fromNlAddr(rtnl_route_nh_get_gateway(nh));
    route.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
  }
  return route;
}

}  // namespace detail

std::string describe(const Route& r) {
  std::string s = r.dst.str();
  if (r.gateway) s += " via " + r.gateway->str();
  if (r.oif != 0) s += " dev " + std::to_string(r.oif);
  if (r.table != RT_TABLE_MAIN) s += " table " + std::to_string(r.table);
  if (r.metric) s += " metric " + std::to_string(*r.metric);
  if (r.protocol != RTPROT_BOOT) s += " proto " + std::to_string(r.protocol);
  return s;
}

Result<detail::RoutePtr> detail::toRtnl(const Route& r, const std::string& what) {
  if (r.dst.network() != r.dst) return fail(code::kInvalidConfig, what + ": destination has host bits set");
  if (r.gateway && r.gateway->family() != r.dst.family()) {
    return fail(code::kInvalidConfig, what + ": gateway and destination families differ");
  }
  detail::RoutePtr route(rtnl_route_alloc());
  const auto dst = detail::toNlAddr(r.dst.addr, r.dst.len);
  if (!route || !dst) return fail(code::kInternal, what + ": out of memory");
  rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(detail::toAf(r.dst.family())));
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_route_set_table(route.get(), static_cast<std::uint32_t>(r.table));
  rtnl_route_set_protocol(route.get(), static_cast<std::uint8_t>(r.protocol));
  rtnl_route_set_scope(route.get(), static_cast<std::uint8_t>(r.scope));
  rtnl_route_set_type(route.get(), static_cast<std::uint8_t>(r.type));
  if (r.metric) rtnl_route_set_priority(route.get(), static_cast<std::uint32_t>(*r.metric));
  if (r.gateway || r.oif != 0) {
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (nh == nullptr) return fail(code::kInternal, what + ": out of memory");
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns it from here
    if (r.oif != 0) rtnl_route_nh_set_ifindex(nh, r.oif);
    if (r.gateway) {
      const auto gw = detail::toNlAddr(*r.gateway, r.gateway->bits());
      if (!gw) return fail(code::kInternal, what + ": out of memory");
      rtnl_route_nh_set_gateway(nh, gw.get());
    }
    // With one next hop, libnl sends its flags in rtm_flags, where the kernel reads them.
    if (r.onlink) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  }
  return route;
}

namespace {

Status addOrReplace(detail::SocketState& st, const Route& r, int flags, const std::string& verb) {
  const std::string what = verb + " route " + describe(r);
  PODNET_TRY(const auto route, detail::toRtnl(r, what));
  st.clear();
  // rtnl_route_add adds NLM_F_CREATE itself.
  const int err = rtnl_route_add(st.sock, route.get(), flags);
  if (err < 0) return st.error(err, what);
  return {};
}

}  // namespace

Status Socket::addRoute(const Route& route) { return addOrReplace(*state_, route, NLM_F_EXCL, "add"); }

Status Socket::replaceRoute(const Route& route) {
  return addOrReplace(*state_, route, NLM_F_REPLACE, "replace");
}

Result<bool> Socket::deleteRoute(const Route& r) {
  const std::string what = "delete route " + describe(r);
  PODNET_TRY(const auto route, detail::toRtnl(r, what));
  state_->clear();
  const int err = rtnl_route_delete(state_->sock, route.get(), 0);
  if (err < 0) {
    if (state_->last.errnum == ESRCH || state_->last.errnum == ENOENT) return false;
    return state_->error(err, what);
  }
  return true;
}

Result<std::optional<int>> Socket::outputLink(const ip::Address& dst) {
  const std::string what = "look up route to " + dst.str();
  const auto addr = detail::toNlAddr(dst, dst.bits());
  if (!addr) return fail(code::kInternal, what + ": out of memory");
  state_->clear();
  rtnl_route* raw = nullptr;
  const int err = rtnl_route_lookup(state_->sock, addr.get(), &raw);
  const detail::RoutePtr found(raw);
  if (err < 0) {
    const int e = state_->last.errnum;
    // No route, or a route that sends nowhere: unreachable (EHOSTUNREACH),
    // prohibit (EACCES), blackhole (EINVAL).
    if (e == ENETUNREACH || e == EHOSTUNREACH || e == ENETDOWN || e == EINVAL || e == EACCES)
      return std::optional<int>{};
    return state_->error(err, what);
  }
  if (!found || rtnl_route_get_nnexthops(found.get()) < 1) return std::optional<int>{};
  const int oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(found.get(), 0));
  return oif > 0 ? std::optional<int>(oif) : std::optional<int>{};
}

Result<std::vector<Route>> Socket::routes(ip::Family family, const RouteFilter& filter) {
  std::vector<Route> out;
  const auto keep = [&](const Route& r) {
    return (!filter.table || r.table == *filter.table) &&
           (!filter.protocol || r.protocol == *filter.protocol) && (!filter.oif || r.oif == *filter.oif);
  };
  PODNET_CHECK(detail::dump(
      *state_, RTM_GETROUTE, detail::toAf(family), "list routes", [&] { out.clear(); },
      [&](nl_object* obj) {
        auto route = detail::toRoute(reinterpret_cast<rtnl_route*>(obj));
        if (route && route->dst.family() == family && keep(*route)) out.push_back(std::move(*route));
      }));
  return out;
}

}  // namespace podnet::netlink
