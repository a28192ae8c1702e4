#pragma once
// podnet-ipam: a host-local compatible IPAM, as a library (podnet calls it
// in-process when ipam.type is "podnet-ipam") and behind the podnet-ipam
// binary. Every verb takes the Request of the calling plugin: conf.ipam is
// the IPAM section, conf.name the network name.

#include "podnet/cni/plugin.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/error/result.hpp"
#include "podnet/ipam/disk_store.hpp"

namespace podnet::ipam {

// One address per range set (ips without an interface index), the configured
// routes, DNS from resolvConf; cniVersion = conf.cniVersion. Idempotent for
// an attachment that already holds addresses.
Result<cni::CniResult> add(const cni::Request& request);
// The same, but the new leases' fsyncs, which run after the store's lock is
// released, are left in `durable` for the caller to run (e.g. while it sets
// up the interface) before it hands out the Result.
Result<cni::CniResult> add(const cni::Request& request, PendingSync& durable);
// Releases the attachment's addresses; success when it held none.
Status del(const cni::Request& request);
// Fails when the attachment holds no address.
Status check(const cni::Request& request);
// Releases every lease of this network not in cni.dev/valid-attachments.
Status gc(const cni::Request& request);
// Code 50 when some range set has no free address left.
Status status(const cni::Request& request);

cni::Handlers handlers();

}  // namespace podnet::ipam
