#include "podnet/ipam/ipam.hpp"

#include <fmt/format.h>

#include "podnet/ipam/allocator.hpp"
#include "podnet/ipam/config.hpp"
#include "podnet/ipam/disk_store.hpp"
#include "podnet/log/log.hpp"

namespace podnet::ipam {
namespace {

cni::Attachment attachmentOf(const cni::Request& request) {
  return {request.env.containerId, request.env.ifname};
}

// The attachment's identity is what names a lease: check it even when the
// library is called without the CNI dispatcher's validation.
Status validateAttachment(const cni::Attachment& who) {
  PODNET_CHECK(cni::validateContainerId(who.containerId));
  return cni::validateIfname(who.ifname);
}

}  // namespace

Result<cni::CniResult> add(const cni::Request& request) {
  PendingSync durable;
  PODNET_TRY(auto result, add(request, durable));
  PODNET_CHECK(durable.run());
  return result;
}

Result<cni::CniResult> add(const cni::Request& request, PendingSync& durable) {
  const auto who = attachmentOf(request);
  PODNET_CHECK(validateAttachment(who));
  PODNET_TRY(Config config, parseConfig(request.conf));
  PODNET_TRY(auto requested, requestedAddresses(request.conf, request.args));
  cni::CniResult result;
  result.cniVersion = request.conf.cniVersion;
  if (!config.resolvConf.empty()) {
    PODNET_TRY(result.dns, parseResolvConf(config.resolvConf));
  }

  PODNET_TRY(auto store, DiskStore::open(config.storeDir, DiskStore::Mode::kCreate));
  store->syncLeases(config.syncLeases);
  PODNET_TRY(auto allocations, allocate(config.rangeSets, who, requested, *store));
  durable = store->finish();
  for (const auto& a : allocations) {
    result.ips.push_back(
        cni::IpConfig{.address = a.address, .gateway = a.gateway, .interface = std::nullopt});
    if (log::enabled(log::Level::kDebug))
      log::debug("address leased", {{"address", a.address.str()}, {"rangeSet", a.rangeSet}});
  }
  result.routes = config.routes;
  return result;
}

Status del(const cni::Request& request) {
  const auto who = attachmentOf(request);
  PODNET_CHECK(validateAttachment(who));
  PODNET_TRY(auto dir, parseStoreDir(request.conf));
  PODNET_TRY(auto store, DiskStore::open(dir, DiskStore::Mode::kExisting));
  if (!store) return {};  // nothing was ever leased on this network
  PODNET_TRY(auto released, release(who, *store));
  if (released > 0 && log::enabled(log::Level::kDebug))
    log::debug("addresses released", {{"count", released}});
  return {};
}

Status check(const cni::Request& request) {
  const auto who = attachmentOf(request);
  PODNET_CHECK(validateAttachment(who));
  PODNET_TRY(Config config, parseConfig(request.conf));
  PODNET_TRY(auto store, DiskStore::open(config.storeDir, DiskStore::Mode::kExisting));
  std::vector<Lease> held;
  if (store) {
    PODNET_TRY(held, store->leasesOf(who.containerId, who.ifname));
  }
  if (held.empty())
    return fail(code::kInternal,
                fmt::format("podnet-ipam: failed to find address added by container {} ifname {}",
                            who.containerId, who.ifname),
                config.storeDir);
  return {};
}

Status gc(const cni::Request& request) {
  PODNET_TRY(auto valid, cni::validAttachments(request.conf));
  PODNET_TRY(auto dir, parseStoreDir(request.conf));
  PODNET_TRY(auto store, DiskStore::open(dir, DiskStore::Mode::kExisting));
  if (!store) return {};
  PODNET_TRY(auto released, collect(valid, *store));
  if (released > 0 && log::enabled(log::Level::kDebug))
    log::debug("stale leases collected", {{"count", released}});
  return {};
}

Status status(const cni::Request& request) {
  PODNET_TRY(Config config, parseConfig(request.conf));
  PODNET_TRY(auto disk, DiskStore::open(config.storeDir, DiskStore::Mode::kExisting));
  MemoryStore empty;
  Store& store = disk ? static_cast<Store&>(*disk) : empty;
  PODNET_TRY(auto free, freeCounts(config.rangeSets, store));
  for (std::size_t i = 0; i < free.size(); ++i) {
    if (free[i] == 0)
      return fail(code::kNotAvailable, fmt::format("no IP addresses available in range set {}: {}", i,
                                                   describe(config.rangeSets[i])));
  }
  return {};
}

cni::Handlers handlers() {
  return cni::Handlers{[](const cni::Request& r) { return add(r); }, del, check, gc, status};
}

}  // namespace podnet::ipam
