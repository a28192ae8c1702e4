#pragma once
// A podnet-only cache in the store's directory (".podnet-index/": 256 bucket
// files "00".."ff" of lines "<containerID>:<ifname> <address>", the bucket
// chosen by a hash of the attachment) so that ADD and DEL find an
// attachment's leases without reading every lease file: their cost stays
// flat as a range fills, and a Pod's ADD and DEL create no index file.
//
// Trust: the index is fresh only while the store directory's mtime equals the
// one sealed after podnet's last change. Any other writer (host-local, or a
// podnet that crashed mid-change) moves the mtime, and the next user rebuilds
// the index from a full scan. Every hit is verified against its lease file, so
// a stale index can at worst miss an attachment's lease (an address leaked
// until GC), never hand an address out twice: taken addresses always come from
// the live directory listing, not from here. A change starts with
// invalidate(), so a kill in the middle of it leaves the index stale (rebuilt
// by the next user), whatever the directory's mtime shows.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ipam/store.hpp"

namespace podnet::ipam {

inline constexpr std::string_view kIndexDir = ".podnet-index";

// The file in kIndexDir that holds (containerId, ifname)'s entries, "" when
// such names are never indexed. For tests, which build indexes by hand.
std::string indexBucket(std::string_view containerId, std::string_view ifname);

class LeaseIndex {
 public:
  // Opens (creating, 0700) the index directory under the store's `storeFd`.
  static Result<LeaseIndex> open(int storeFd);
  LeaseIndex(LeaseIndex&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LeaseIndex& operator=(LeaseIndex&&) = delete;
  ~LeaseIndex();

  // True when sealed at the store directory's current mtime.
  bool fresh(int storeFd) const;
  // Addresses recorded for (containerId, ifname); an empty ifname names
  // ID-only leases. nullopt when such names are never indexed (a newline in
  // them): only a full scan knows their leases.
  std::optional<std::vector<ip::Address>> lookup(std::string_view containerId, std::string_view ifname) const;
  Status add(const Lease& lease);
  Status remove(const Lease& lease);
  // Replaces the whole index with `leases`.
  Status rebuild(const std::vector<Lease>& leases);
  // Records the store directory's current mtime: call after the last change.
  Status seal(int storeFd);
  // Marks the index stale until the next seal(): call before the first change.
  Status invalidate();

 private:
  explicit LeaseIndex(int fd) : fd_(fd) {}
  // Adds (present) or removes the lease's entry in its bucket.
  Status change(const Lease& lease, bool present);

  int fd_ = -1;
};

}  // namespace podnet::ipam
