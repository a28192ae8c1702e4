#pragma once
// Crash-at-every-step fault injection for tests. PODNET_FAULT_POINT("add.after_ipam")
// marks the instant right after the step it names. In a build with the CMake
// option PODNET_FAULT_INJECTION (test builds only; default OFF) it raises
// SIGKILL on the process when the environment arms that point:
//   PODNET_FAULT=<point>          the first time the point is reached
//   PODNET_FAULT_AFTER=<n>        ... or the n-th time (1-based)
//   PODNET_FAULT=list             kill nothing; print every known point once
//                                 ("podnet-fault: known <point>") and each one
//                                 reached ("podnet-fault: reached <point> <n>") on stderr
// Without the option the macro compiles to nothing. In both builds a name
// missing from kPoints is a compile error, so every point is in the list the
// crash test loops over (tests/integration/plugin_crash.sh).

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace podnet::fault {

// Every point, in the order the verbs reach them.
inline constexpr std::array<std::string_view, 18> kPoints = {
    // podnet-ipam's store (in-process in the plugin, or its own binary).
    "ipam.store.before_rename",  // a lease in its temporary file, not renamed
    "ipam.store.after_rename",   // a lease in place, the lease index not updated yet
    "ipam.store.after_unlink",   // one lease file removed (DEL, GC), the lease index not updated yet
    "ipam.index.before_seal",    // every change in the lease index, which still says "changing"
    // ADD
    "add.after_veth_created",  // the veth pair exists, the pod end in the pod; no alias, no lease yet
    "add.after_alias",         // the host end has its alias; no lease yet
    "add.after_ipam",          // the IPAM result is in hand: leases written
    // One netlink batch per side, so one point each: the kernel applies the
    // batch's requests in order, and a kill can only come before or after it.
    "add.after_host_sysctl",  // forwarding and accept_dad on the node
    "add.after_host_batch",   // the host end: gateway addresses, link up, the pod's host routes
    "add.after_pod_sysctl",   // accept_dad=0 on the pod end (IPv6 only)
    "add.after_pod_batch",    // the pod end: link and lo up, addresses, gateway and default routes
    "add.after_masquerade",   // the pod's nftables masquerade elements
    "add.after_running",      // both ends pass packets; the Result is not printed yet
    // DEL
    "del.after_masquerade",  // the attachment's masquerade elements removed
    "del.after_link",        // the host veth (and with it the pod end) deleted
    "del.after_ipam",        // the leases released
    // GC
    "gc.after_link",        // one stale host veth deleted
    "gc.after_masquerade",  // stale masquerade elements removed
};

// The index of `name` in kPoints; evaluated at compile time, so an unknown
// name does not compile.
consteval std::size_t indexOf(std::string_view name) {
  for (std::size_t i = 0; i < kPoints.size(); ++i) {
    if (kPoints[i] == name) return i;
  }
  throw "unknown fault point: add it to podnet::fault::kPoints";
}

// Whether the `hit`-th reach (1-based) of `point` fires when PODNET_FAULT is
// `armed` and PODNET_FAULT_AFTER is `after` (empty: 1). Pure, for unit tests.
bool fires(std::string_view point, int hit, std::string_view armed, std::string_view after);

// Called by PODNET_FAULT_POINT: counts the reach of kPoints[point] (per
// process; the plugin and podnet-ipam are single-threaded) and kills the
// process with SIGKILL if the environment arms it.
void reached(std::size_t point);

}  // namespace podnet::fault

#ifdef PODNET_FAULT_INJECTION
#define PODNET_FAULT_POINT(name) ::podnet::fault::reached(::podnet::fault::indexOf(name))
#else
#define PODNET_FAULT_POINT(name) \
  static_cast<void>(std::integral_constant<std::size_t, ::podnet::fault::indexOf(name)>{})
#endif
