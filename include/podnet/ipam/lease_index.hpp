#pragma once
// A podnet-only cache in the store's directory (".podnet-index/", one file per
// attachment "<containerID>:<ifname>" listing its addresses) so that ADD and
// DEL find an attachment's leases without reading every lease file: their
// cost stays flat as a range fills.
//
// Trust: the index is fresh only while the store directory's mtime equals the
// one sealed after podnet's last change. Any other writer (host-local, or a
// podnet that crashed mid-change) moves the mtime, and the next user rebuilds
// the index from a full scan. Every hit is verified against its lease file, so
// a stale index can at worst miss an attachment's lease (an address leaked
// until GC), never hand an address out twice: taken addresses always come from
// the live directory listing, not from here.

#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ipam/store.hpp"

namespace podnet::ipam {

inline constexpr std::string_view kIndexDir = ".podnet-index";

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
  // ID-only leases.
  std::vector<ip::Address> lookup(std::string_view containerId, std::string_view ifname) const;
  Status add(const Lease& lease);
  Status remove(const Lease& lease);
  // Replaces the whole index with `leases`.
  Status rebuild(const std::vector<Lease>& leases);
  // Records the store directory's current mtime: call after the last change.
  Status seal(int storeFd);

 private:
  explicit LeaseIndex(int fd) : fd_(fd) {}
  Status write(const std::string& name, const std::vector<ip::Address>& addresses);

  int fd_ = -1;
};

}  // namespace podnet::ipam
