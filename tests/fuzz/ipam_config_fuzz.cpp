// The IPAM section: ipam::parseConfig on a NetConf from the input (a whole
// network config, or else the input as the "ipam" object), then the range
// walk the allocator does on what it accepted.

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "podnet/cni/config.hpp"
#include "podnet/ipam/config.hpp"
#include "podnet/ipam/range.hpp"

namespace podnet::fuzz {
namespace {

using nlohmann::json;

void checkRangeSet(const ipam::RangeSet& set) {
  PODNET_FUZZ_CHECK(!set.empty());
  for (const auto& r : set) {
    PODNET_FUZZ_CHECK(r.subnet == r.subnet.network());
    PODNET_FUZZ_CHECK(r.subnet.len <= r.subnet.addr.bits() - 2);
    PODNET_FUZZ_CHECK(r.start.family() == set.front().start.family());
    PODNET_FUZZ_CHECK(r.subnet.contains(r.start) && r.subnet.contains(r.end) && r.subnet.contains(r.gateway));
    PODNET_FUZZ_CHECK(!(r.end < r.start));
  }
  // The walk yields allocatable addresses of their own range, and something
  // whenever the set has capacity.
  ipam::RangeIterator it(set, std::nullopt);
  std::size_t yielded = 0;
  for (; yielded < 8; ++yielded) {
    const auto next = it.next();
    if (!next) break;
    PODNET_FUZZ_CHECK(next->first < set.size() && set[next->first].contains(next->second));
    PODNET_FUZZ_CHECK(ipam::allocatable(set, next->second));
  }
  PODNET_FUZZ_CHECK((yielded > 0) == (ipam::capacity(set) > 0));
  // Restarting after the last address of the last range wraps to the first.
  ipam::RangeIterator wrapped(set, set.back().end);
  if (const auto next = wrapped.next()) PODNET_FUZZ_CHECK(ipam::allocatable(set, next->second));
}

bool disjoint(const ipam::Range& a, const ipam::Range& b) {
  return a.start.family() != b.start.family() || a.end < b.start || b.end < a.start;
}

}  // namespace
}  // namespace podnet::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  const auto text = fuzz::asText(data, size);
  auto parsed = cni::parseNetConf(text, cni::Command::kAdd);
  cni::NetConf conf;
  if (parsed) {
    conf = std::move(parsed).value();
  } else {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (!doc.is_object()) return 0;
    conf.cniVersion = "1.1.0";
    conf.name = "fuzznet";
    conf.type = "podnet-ipam";
    if (const auto* rc = cni::findKey(doc, "runtimeConfig"); rc != nullptr && rc->is_object())
      conf.runtimeConfig = *rc;
    conf.ipam = std::move(doc);
  }

  auto config = ipam::parseConfig(conf);
  auto storeDir = ipam::parseStoreDir(conf);
  if (!config) {
    fuzz::checkError(config.error(), {code::kInvalidConfig});
  } else {
    PODNET_FUZZ_CHECK(storeDir.ok() && *storeDir == config->storeDir);
    PODNET_FUZZ_CHECK(config->storeDir.front() == '/' && config->storeDir.ends_with("/" + conf.name));
    PODNET_FUZZ_CHECK(!config->rangeSets.empty());
    std::vector<const ipam::Range*> all;
    for (const auto& set : config->rangeSets) {
      podnet::fuzz::checkRangeSet(set);
      for (const auto& r : set) all.push_back(&r);
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
      for (std::size_t j = i + 1; j < all.size(); ++j)
        PODNET_FUZZ_CHECK(podnet::fuzz::disjoint(*all[i], *all[j]));
    }
    for (const auto& route : config->routes)
      PODNET_FUZZ_CHECK(!route.gw || route.gw->family() == route.dst.family());
  }
  if (!storeDir) fuzz::checkError(storeDir.error(), {code::kInvalidConfig});

  auto requested = ipam::requestedAddresses(conf, cni::CniArgs{});
  if (!requested) fuzz::checkError(requested.error(), {code::kInvalidConfig});
  return 0;
}
