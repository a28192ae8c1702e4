#pragma once
// host-local's on-disk store, byte for byte: in the network's directory one
// file per address, named by the address (IPv6 as Go prints it, e.g.
// "fd00::5"), holding "<containerID>\r\n<ifname>"; "last_reserved_ip.<set>"
// holding the last address handed out from range set <set>; and "lock",
// flock()ed by every writer (host-local included).
//
// Unlike host-local every write is atomic (temporary file in ".podnet-tmp/",
// fsync, rename, directory fsync), the directory is 0700 and files 0600, every
// access is relative to a directory descriptor opened O_NOFOLLOW, and a lease
// never replaces an existing entry (renameat2 RENAME_NOREPLACE).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "podnet/ipam/lease_index.hpp"
#include "podnet/ipam/store.hpp"

namespace podnet::ipam {

inline constexpr std::string_view kLastReservedPrefix = "last_reserved_ip.";
inline constexpr std::string_view kLockName = "lock";
inline constexpr std::string_view kTempDir = ".podnet-tmp";

// "<id>\r\n<ifname>", as host-local writes it.
std::string encodeLease(std::string_view containerId, std::string_view ifname);
// Whitespace-trimmed content split at the first "\r\n"; a file without one is
// an ID-only lease (ifname empty). nullopt for an empty file.
std::optional<Lease> decodeLease(const ip::Address& address, std::string_view content);
// The file name host-local (Go's net.IP.String()) gives an address.
std::string leaseFileName(const ip::Address& address);

class DiskStore final : public Store {
 public:
  enum class Mode { kCreate, kExisting };

  // Opens (kCreate: creating it and its parents) `dir`, takes the lock, and
  // removes temporary files a crashed writer left (without listing the leases). With kExisting a missing
  // directory yields nullptr. Code 5 on I/O errors, including a `dir` that is
  // a symlink, not a directory, or not owned by this user.
  static Result<std::unique_ptr<DiskStore>> open(const std::string& dir, Mode mode);
  ~DiskStore() override;
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  Result<Snapshot> load() override;
  Result<std::vector<ip::Address>> taken() override;
  // fstatat() of the address's file name, never following it. Only the name
  // host-local gives the address (or one the last listing saw) is looked at.
  Result<bool> exists(const ip::Address& address) override;
  // Through the lease index (lease_index.hpp), rebuilt first when stale.
  Result<std::vector<Lease>> leasesOf(const std::string& containerId, const std::string& ifname) override;
  Result<bool> reserve(const Lease& lease) override;
  Result<bool> release(const Lease& lease) override;
  Result<std::optional<ip::Address>> lastReserved(std::size_t rangeSet) override;
  Status setLastReserved(std::size_t rangeSet, const ip::Address& address) override;
  Status flush() override;

 private:
  DiskStore(std::string dir, int dirFd, int lockFd) : dir_(std::move(dir)), dirFd_(dirFd), lockFd_(lockFd) {}
  // Opens (creating) kTempDir and empties it.
  Status openTemp();
  // Writes `content` to a fresh temporary file and renames it to `name`;
  // with noReplace, returns false when `name` already exists.
  Result<bool> writeAtomic(const std::string& name, std::string_view content, bool noReplace);
  Error ioError(std::string_view what, std::string_view name, int err) const;
  Result<Snapshot> scan(bool readLeases);
  // Makes the index trustworthy for this session: fresh, or rebuilt.
  Status ensureIndex();
  // Verified leases of one index entry; nullopt when the index disagrees with the files.
  std::optional<std::vector<Lease>> verified(const std::string& containerId, const std::string& ifname);

  std::string dir_;
  int dirFd_ = -1;
  int lockFd_ = -1;
  int tmpFd_ = -1;  // kTempDir
  bool dirty_ = false;
  std::map<ip::Address, std::string> names_;  // on-disk names seen by the last scan
  std::optional<LeaseIndex> index_;
  bool indexValid_ = false;  // index_ matched the files when this session began using it
  bool indexDirty_ = false;  // index_ changed: seal it after the next flush
};

}  // namespace podnet::ipam
