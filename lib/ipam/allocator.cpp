#include "podnet/ipam/allocator.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace podnet::ipam {
namespace {

// What one range set will give: a lease already held, a requested address,
// or (neither) the next free one in round-robin order: `walk` from
// last_reserved_ip, positioned just after `next`, the first address probing
// found free (nullopt when none of the probed ones was).
struct Plan {
  std::optional<ip::Address> held;
  std::optional<ip::Address> requested;
  std::optional<RangeIterator> walk;
  std::optional<ip::Address> next;
};

std::optional<std::size_t> setFor(const std::vector<RangeSet>& sets, const ip::Address& a) {
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (rangeFor(sets[i], a)) return i;
  }
  return std::nullopt;
}

ip::U128 freeIn(const RangeSet& set, const Snapshot& snapshot) {
  const ip::U128 total = capacity(set);
  ip::U128 used = 0;
  for (std::size_t i = 0; i < snapshot.taken.size(); ++i) {
    const auto& a = snapshot.taken[i];
    const bool again = i > 0 && snapshot.taken[i - 1] == a;  // two spellings of one IPv6 address
    used += !again && allocatable(set, a) ? 1 : 0;
  }
  return total - std::min(total, used);
}

Error exhausted(std::size_t index, const RangeSet& set) {
  return fail(code::kInternal,
              fmt::format("no IP addresses available in range set {}: {}", index, describe(set)),
              "every allocatable address of the range set is leased; release some or add a range");
}

// Validates requested addresses and fills plans.
Status planRequested(const std::vector<RangeSet>& sets, const std::vector<ip::Address>& requested,
                     Store& store, std::vector<Plan>& plans) {
  for (const auto& r : requested) {
    const auto s = setFor(sets, r);
    if (!s) {
      std::string all;
      for (std::size_t i = 0; i < sets.size(); ++i)
        all += fmt::format("{}[{}] {}", i ? "; " : "", i, describe(sets[i]));
      return fail(code::kInvalidConfig,
                  fmt::format("requested IP address {} is outside every range", r.str()), all);
    }
    Plan& plan = plans[*s];
    if (plan.requested)
      return fail(code::kInvalidConfig,
                  fmt::format("requested IP addresses {} and {} are in the same range set {}",
                              plan.requested->str(), r.str(), *s),
                  "one address per range set");
    plan.requested = r;
    if (plan.held) {
      if (*plan.held == r) continue;
      return fail(code::kInvalidConfig,
                  fmt::format("requested IP address {} but the attachment already holds {} in range set {}",
                              r.str(), plan.held->str(), *s));
    }
    if (!allocatable(sets[*s], r))
      return fail(
          code::kInvalidConfig,
          fmt::format(
              "requested IP address {} is a gateway, network or broadcast address of range set {}: {}",
              r.str(), *s, describe(sets[*s])));
    PODNET_TRY(bool taken, store.exists(r));
    if (taken)
      return fail(code::kInvalidConfig,
                  fmt::format("requested IP address {} is not available in range set {}: {}", r.str(), *s,
                              describe(sets[*s])),
                  "it is already leased");
  }
  return {};
}

// The directory listing: taken at most once per call, and only when probing
// finds nothing free.
Status list(std::optional<Snapshot>& listing, Store& store) {
  if (listing) return {};
  Snapshot snapshot;
  PODNET_TRY(snapshot.taken, store.taken());
  listing = std::move(snapshot);
  return {};
}

// Looks up at most kProbes addresses of set `index` after its
// last_reserved_ip: a set filled by round robin has its free addresses there.
Status probe(const RangeSet& set, std::size_t index, Store& store, Plan& plan) {
  PODNET_TRY(auto last, store.lastReserved(index));
  plan.walk.emplace(set, last);
  for (std::size_t k = 0; k < kProbes; ++k) {
    const auto candidate = plan.walk->next();
    if (!candidate) break;
    PODNET_TRY(bool taken, store.exists(candidate->second));
    if (!taken) {
      plan.next = candidate->second;
      break;
    }
  }
  return {};
}

// Reserves the probed address, else the next free one the listing shows.
Result<ip::Address> reserveNext(const RangeSet& set, std::size_t index, const cni::Attachment& who,
                                Plan& plan, std::optional<Snapshot>& listing, Store& store) {
  if (plan.next) {
    PODNET_TRY(bool reserved, store.reserve({*plan.next, who.containerId, who.ifname}));
    if (reserved) return *plan.next;  // else someone outside the lock took it: go on
  }
  PODNET_CHECK(list(listing, store));
  while (auto candidate = plan.walk->next()) {
    const auto& a = candidate->second;
    if (listing->isTaken(a)) continue;
    PODNET_TRY(bool reserved, store.reserve({a, who.containerId, who.ifname}));
    if (reserved) return a;
  }
  return exhausted(index, set);
}

Allocation allocationFor(const RangeSet& set, std::size_t index, const ip::Address& a) {
  const Range& r = set[*rangeFor(set, a)];
  return Allocation{index, ip::Prefix{a, r.subnet.len}, r.gateway};
}

}  // namespace

Result<std::vector<Allocation>> allocate(const std::vector<RangeSet>& sets, const cni::Attachment& who,
                                         const std::vector<ip::Address>& requested, Store& store) {
  PODNET_TRY(auto held, store.leasesOf(who.containerId, who.ifname));
  std::vector<Plan> plans(sets.size());
  for (const auto& lease : held) {
    if (auto s = setFor(sets, lease.address); s && !plans[*s].held) plans[*s].held = lease.address;
  }
  PODNET_CHECK(planRequested(sets, requested, store, plans));
  std::optional<Snapshot> listing;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (plans[i].held || plans[i].requested) continue;
    PODNET_CHECK(probe(sets[i], i, store, plans[i]));
    if (plans[i].next) continue;
    PODNET_CHECK(list(listing, store));
    if (freeIn(sets[i], *listing) == 0) return exhausted(i, sets[i]);
  }

  // Every check passed: write. On failure, undo what this call wrote.
  std::vector<ip::Address> written;
  auto undo = [&](Error error) -> Error {
    for (const auto& a : written) (void)store.release({a, who.containerId, who.ifname});
    (void)store.flush();
    return error;
  };
  std::vector<Allocation> out;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (plans[i].held) {
      out.push_back(allocationFor(sets[i], i, *plans[i].held));
      continue;
    }
    ip::Address chosen;
    if (plans[i].requested) {
      auto reserved = store.reserve({*plans[i].requested, who.containerId, who.ifname});
      if (!reserved) return undo(reserved.error());
      if (!*reserved)
        return undo(fail(code::kInvalidConfig,
                         fmt::format("requested IP address {} is not available in range set {}: {}",
                                     plans[i].requested->str(), i, describe(sets[i]))));
      chosen = *plans[i].requested;
    } else {
      auto next = reserveNext(sets[i], i, who, plans[i], listing, store);
      if (!next) return undo(next.error());
      chosen = *next;
    }
    written.push_back(chosen);
    if (auto st = store.setLastReserved(i, chosen); !st) return undo(st.error());
    out.push_back(allocationFor(sets[i], i, chosen));
  }
  if (!written.empty()) {
    if (auto st = store.flush(); !st) return undo(st.error());
  }
  return out;
}

Result<std::size_t> release(const cni::Attachment& who, Store& store) {
  PODNET_TRY(auto held, store.leasesOf(who.containerId, who.ifname));
  std::size_t count = 0;
  for (const auto& lease : held) {
    PODNET_TRY(bool released, store.release(lease));
    count += released ? 1 : 0;
  }
  if (count > 0) PODNET_CHECK(store.flush());
  return count;
}

Result<std::size_t> collect(const std::vector<cni::Attachment>& valid, Store& store) {
  PODNET_TRY(Snapshot snapshot, store.load());
  std::size_t count = 0;
  for (const auto& lease : snapshot.leases) {
    const bool keep = std::any_of(valid.begin(), valid.end(), [&](const cni::Attachment& a) {
      return a.containerId == lease.containerId && (lease.ifname.empty() || a.ifname == lease.ifname);
    });
    if (keep) continue;
    PODNET_TRY(bool released, store.release(lease));
    count += released ? 1 : 0;
  }
  if (count > 0) PODNET_CHECK(store.flush());
  return count;
}

Result<std::vector<ip::U128>> freeCounts(const std::vector<RangeSet>& sets, Store& store) {
  Snapshot snapshot;
  PODNET_TRY(snapshot.taken, store.taken());
  std::vector<ip::U128> out;
  for (const auto& set : sets) out.push_back(freeIn(set, snapshot));
  return out;
}

}  // namespace podnet::ipam
