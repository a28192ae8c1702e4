#pragma once
// Allocation policy over any Store: idempotent ADD, requested addresses,
// round robin, release, GC and capacity. The caller holds the store's lock.

#include <cstddef>
#include <optional>
#include <vector>

#include "podnet/cni/plugin.hpp"
#include "podnet/error/result.hpp"
#include "podnet/ipam/config.hpp"
#include "podnet/ipam/store.hpp"

namespace podnet::ipam {

struct Allocation {
  std::size_t rangeSet = 0;
  ip::Prefix address;  // host bits kept, subnet's length: "10.0.0.5/24"
  ip::Address gateway;
  bool operator==(const Allocation&) const = default;
};

// Addresses ADD looks up one by one after last_reserved_ip.<set> before it
// lists the whole directory to find a free one or to know the set is full.
// A lookup costs ~1 us, listing a /16's 65k leases 20-40 ms: 1024 lookups
// add at most a few percent to a listing, and keep a range with even 1% of
// its addresses free, scattered, off the listing.
inline constexpr std::size_t kProbes = 1024;

// One address from every range set for `who`, in range set order.
// - Range sets where `who` already holds a lease give that lease (idempotent
//   ADD); nothing is written when every set does.
// - A requested address goes to the set containing it; it must be allocatable
//   and free (else code 7, nothing written); a requested address in no set,
//   or a second one for the same set, is code 7.
// - Otherwise the first free address after last_reserved_ip.<set>: found by
//   at most kProbes Store::exists() lookups, else by Store::taken().
// - A full range set fails with code 999 naming its ranges, before anything
//   is written. On any failure, leases written by this call are removed.
Result<std::vector<Allocation>> allocate(const std::vector<RangeSet>& sets, const cni::Attachment& who,
                                         const std::vector<ip::Address>& requested, Store& store);

// Releases what Store::leasesOf() names. Returns the number of leases released.
Result<std::size_t> release(const cni::Attachment& who, Store& store);

// Releases every lease not held by one of `valid` (an ID-only lease stays
// when its container has any valid attachment). Returns the number released.
Result<std::size_t> collect(const std::vector<cni::Attachment>& valid, Store& store);

// Free addresses per range set (allocatable minus taken), saturating.
Result<std::vector<ip::U128>> freeCounts(const std::vector<RangeSet>& sets, Store& store);

}  // namespace podnet::ipam
