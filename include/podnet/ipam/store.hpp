#pragma once
// What the allocator needs from lease storage, so it can run against the
// on-disk store (disk_store.hpp) or an in-memory one (tests, STATUS before the
// directory exists). Callers hold the store's lock for the store's lifetime.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"

namespace podnet::ipam {

struct Lease {
  ip::Address address;
  std::string containerId;
  std::string ifname;  // empty for a lease written by host-local before 0.7 (ID only)
  bool operator==(const Lease&) const = default;
};

struct Snapshot {
  std::vector<Lease> leases;       // every readable lease
  std::vector<ip::Address> taken;  // sorted: every address with an entry, readable or not
  bool isTaken(const ip::Address& a) const;
};

// Leases of (containerId, ifname) among `leases`: exact matches, else the
// container's ID-only leases.
std::vector<Lease> leasesOf(const std::vector<Lease>& leases, const std::string& containerId,
                            const std::string& ifname);

class Store {
 public:
  virtual ~Store() = default;

  // Every entry and every readable lease: O(leases) reads (GC).
  virtual Result<Snapshot> load() = 0;
  // Only the sorted addresses with an entry: one directory listing (STATUS,
  // and ADD when probing finds nothing free).
  virtual Result<std::vector<ip::Address>> taken() = 0;
  // True when `address` has an entry of any kind (a lease, an unreadable or
  // foreign file, a symlink, a FIFO): one lookup, no listing (ADD's probes).
  virtual Result<bool> exists(const ip::Address& address) = 0;
  // The leases of one attachment: exact (containerID, ifname) matches, else,
  // as host-local, ID-only leases of that container.
  virtual Result<std::vector<Lease>> leasesOf(const std::string& containerId, const std::string& ifname) = 0;
  // Records the lease; false (and nothing changed) when the address already
  // has an entry of any kind.
  virtual Result<bool> reserve(const Lease& lease) = 0;
  // Removes the lease; false when there was none.
  virtual Result<bool> release(const Lease& lease) = 0;
  // nullopt when never written or unreadable (round robin just restarts).
  virtual Result<std::optional<ip::Address>> lastReserved(std::size_t rangeSet) = 0;
  virtual Status setLastReserved(std::size_t rangeSet, const ip::Address& address) = 0;
  // Ends a batch of changes (e.g. seals an index). Durability is the
  // concrete store's business: DiskStore::finish() after the lock.
  virtual Status flush() = 0;
};

// The in-memory Store: the fake for unit tests, and an empty store for a
// network whose directory does not exist yet.
class MemoryStore final : public Store {
 public:
  Result<Snapshot> load() override;
  Result<std::vector<ip::Address>> taken() override;
  Result<bool> exists(const ip::Address& address) override;
  Result<std::vector<Lease>> leasesOf(const std::string& containerId, const std::string& ifname) override;
  Result<bool> reserve(const Lease& lease) override;
  Result<bool> release(const Lease& lease) override;
  Result<std::optional<ip::Address>> lastReserved(std::size_t rangeSet) override;
  Status setLastReserved(std::size_t rangeSet, const ip::Address& address) override;
  Status flush() override { return {}; }

  // Test hooks: an unreadable entry (taken, no lease); counts of writes, of
  // full listings (load() and taken()) and of exists() lookups.
  void addForeign(const ip::Address& address) { foreign_.push_back(address); }
  std::size_t writes() const { return writes_; }
  std::size_t listings() const { return listings_; }
  std::size_t lookups() const { return lookups_; }
  const std::map<ip::Address, Lease>& leases() const { return leases_; }

 private:
  Snapshot snapshot() const;
  bool has(const ip::Address& address) const;

  std::map<ip::Address, Lease> leases_;
  std::vector<ip::Address> foreign_;
  std::map<std::size_t, ip::Address> last_;
  std::size_t writes_ = 0;
  std::size_t listings_ = 0;
  std::size_t lookups_ = 0;
};

}  // namespace podnet::ipam
