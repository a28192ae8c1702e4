#pragma once
// An in-memory kernel for the reconcile: a main table keyed as the kernel
// keys routes (destination, metric), and a log of every change made to it.

#include <algorithm>
#include <string>
#include <vector>

#include "kernel.hpp"

namespace podnet::daemon::test {

inline netlink::Route v4(const char* dst, const char* via, int oif, int protocol = kRouteProtocol) {
  return netlink::Route{.dst = *ip::Prefix::parse(dst),
                        .gateway = via != nullptr ? ip::Address::parse(via) : std::nullopt,
                        .oif = oif,
                        .protocol = protocol};
}

inline netlink::Route v6(const char* dst, const char* via, int oif, int protocol = kRouteProtocol) {
  return netlink::Route{.dst = *ip::Prefix::parse(dst),
                        .gateway = via != nullptr ? ip::Address::parse(via) : std::nullopt,
                        .oif = oif,
                        .protocol = protocol,
                        .metric = kIpv6DefaultMetric};
}

class FakeKernel final : public RouteKernel {
 public:
  std::vector<Connected> links;
  std::vector<netlink::Route> table;
  std::vector<std::string> changes;  // "replace <route>", "remove <route>"
  bool failDump = false;

  Result<std::vector<Connected>> connected() override { return links; }
  Result<std::vector<netlink::Route>> routes() override {
    if (failDump) return fail(code::kIo, "dump failed");
    return table;
  }
  Status replace(const netlink::Route& r) override {
    changes.push_back("replace " + describe(r));
    const auto same = std::find_if(table.begin(), table.end(), [&](const netlink::Route& k) {
      return k.dst == r.dst && k.table == r.table && k.metric == r.metric;
    });
    if (same != table.end()) {
      *same = r;
    } else {
      table.push_back(r);
    }
    return {};
  }
  Result<bool> remove(const netlink::Route& r) override {
    changes.push_back("remove " + describe(r));
    const auto it = std::find(table.begin(), table.end(), r);
    if (it == table.end()) return false;
    table.erase(it);
    return true;
  }
};

}  // namespace podnet::daemon::test
