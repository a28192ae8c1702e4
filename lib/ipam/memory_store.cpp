#include <algorithm>

#include "podnet/ipam/store.hpp"

namespace podnet::ipam {

bool Snapshot::isTaken(const ip::Address& a) const {
  return std::binary_search(taken.begin(), taken.end(), a);
}

Snapshot MemoryStore::snapshot() const {
  Snapshot s;
  for (const auto& [address, lease] : leases_) {
    s.leases.push_back(lease);
    s.taken.push_back(address);
  }
  s.taken.insert(s.taken.end(), foreign_.begin(), foreign_.end());
  std::sort(s.taken.begin(), s.taken.end());
  return s;
}

Result<Snapshot> MemoryStore::load() {
  ++listings_;
  return snapshot();
}

Result<bool> MemoryStore::exists(const ip::Address& address) {
  ++lookups_;
  return has(address);
}

bool MemoryStore::has(const ip::Address& address) const {
  return leases_.count(address) != 0 ||
         std::find(foreign_.begin(), foreign_.end(), address) != foreign_.end();
}

Result<bool> MemoryStore::reserve(const Lease& lease) {
  if (has(lease.address)) return false;
  leases_.emplace(lease.address, lease);
  ++writes_;
  return true;
}

std::vector<Lease> leasesOf(const std::vector<Lease>& leases, const std::string& containerId,
                            const std::string& ifname) {
  std::vector<Lease> exact, idOnly;
  for (const auto& l : leases) {
    if (l.containerId != containerId) continue;
    if (l.ifname == ifname) exact.push_back(l);
    if (l.ifname.empty()) idOnly.push_back(l);
  }
  return exact.empty() ? idOnly : exact;
}

Result<std::vector<ip::Address>> MemoryStore::taken() {
  ++listings_;
  return snapshot().taken;
}

// Not a listing: DiskStore answers it from its lease index.
Result<std::vector<Lease>> MemoryStore::leasesOf(const std::string& containerId, const std::string& ifname) {
  std::vector<Lease> mine;
  for (const auto& [address, lease] : leases_) {
    if (lease.containerId == containerId) mine.push_back(lease);
  }
  return ipam::leasesOf(mine, containerId, ifname);
}

Result<bool> MemoryStore::release(const Lease& lease) {
  auto it = leases_.find(lease.address);
  if (it == leases_.end() || it->second != lease) return false;
  leases_.erase(it);
  ++writes_;
  return true;
}

Result<std::optional<ip::Address>> MemoryStore::lastReserved(std::size_t rangeSet) {
  auto it = last_.find(rangeSet);
  if (it == last_.end()) return std::optional<ip::Address>();
  return std::optional<ip::Address>(it->second);
}

Status MemoryStore::setLastReserved(std::size_t rangeSet, const ip::Address& address) {
  last_[rangeSet] = address;
  ++writes_;
  return {};
}

}  // namespace podnet::ipam
