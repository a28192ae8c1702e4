#pragma once
// An in-memory kernel for the reconcile: a main table keyed as the kernel
// keys routes (destination, metric), and a log of every change made to it.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel.hpp"

namespace podnet::daemon::test {

// Written out, not taken from the code under test: podnet's route protocol
// (docs/podnetd.md: `ip route show proto 152`) and the kernel's default IPv6 metric.
inline constexpr int kProto = 152;
inline constexpr int kV6Metric = 1024;

inline netlink::Route v4(const char* dst, const char* via, int oif, int protocol = kProto) {
  return netlink::Route{.dst = *ip::Prefix::parse(dst),
                        .gateway = via != nullptr ? ip::Address::parse(via) : std::nullopt,
                        .oif = oif,
                        .protocol = protocol};
}

inline netlink::Route v6(const char* dst, const char* via, int oif, int protocol = kProto) {
  return netlink::Route{.dst = *ip::Prefix::parse(dst),
                        .gateway = via != nullptr ? ip::Address::parse(via) : std::nullopt,
                        .oif = oif,
                        .protocol = protocol,
                        .metric = kV6Metric};
}

// One change made to the fake kernel: the route as the reconcile passed it.
struct Change {
  enum class Op : std::uint8_t { kReplace, kRemove };
  Op op;
  netlink::Route route;
  bool operator==(const Change&) const = default;
};
inline Change replaced(const netlink::Route& r) { return {.op = Change::Op::kReplace, .route = r}; }
inline Change removed(const netlink::Route& r) { return {.op = Change::Op::kRemove, .route = r}; }

class FakeKernel final : public RouteKernel {
 public:
  std::vector<Connected> links;
  std::vector<netlink::Route> table;
  std::vector<Change> changes;
  bool failDump = false;

  Result<std::vector<Connected>> connected() override { return links; }
  Result<std::vector<netlink::Route>> routes() override {
    if (failDump) return fail(code::kIo, "dump failed");
    return table;
  }
  Status replace(const netlink::Route& r) override {
    changes.push_back(replaced(r));
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
    changes.push_back(removed(r));
    const auto it = std::find(table.begin(), table.end(), r);
    if (it == table.end()) return false;
    table.erase(it);
    return true;
  }
};

}  // namespace podnet::daemon::test
