#pragma once
// host-local's on-disk store, byte for byte: in the network's directory one
// file per address, named by the address (IPv6 as Go prints it, e.g.
// "fd00::5"), holding "<containerID>\r\n<ifname>"; "last_reserved_ip.<set>"
// holding the last address handed out from range set <set>; and "lock",
// flock()ed by every writer (host-local included).
//
// Unlike host-local every lease is written atomically (temporary file in
// ".podnet-tmp/", then rename), the directory is 0700 and files 0600, every
// access is relative to a directory descriptor opened O_NOFOLLOW, and a lease
// never replaces an existing entry (renameat2 RENAME_NOREPLACE).
// last_reserved_ip is rewritten in place, as host-local does: it is a hint.
//
// Durability. A process crash (SIGKILL at any point) loses nothing: the page
// cache survives it, and every write is a rename of a complete file. A power
// failure or kernel crash can lose, or leave empty, leases written shortly
// before it; it also ends every Pod on the node, so such a lease names a Pod
// that is gone: CNI GC (or DEL of the old sandbox) collects it, and an empty
// lease file only keeps its address taken until then. That is why leases are
// not fsynced by default (host-local does not either: an fsync costs 0.5-5 ms
// of every ADD on a journaling disk). With syncLeases(true) nothing is
// fsynced under the lock: finish() releases the lock and returns the fsyncs
// of the session's new leases, which ADD runs before its Result names them.
// Releases and last_reserved_ip are never synced.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The fsyncs that make a session's new leases durable (DiskStore::finish()).
// Destroyed without run(), it closes the files without syncing them.
class PendingSync {
 public:
  PendingSync() = default;
  PendingSync(PendingSync&& other) noexcept { *this = std::move(other); }
  PendingSync& operator=(PendingSync&& other) noexcept;
  PendingSync(const PendingSync&) = delete;
  PendingSync& operator=(const PendingSync&) = delete;
  ~PendingSync();

  // Lease files waiting for their fsync.
  std::size_t files() const { return fds_.size(); }
  // fsync of every lease file (which makes its name durable too: see
  // disk_store.cpp); code 5 on failure.
  // Once run, nothing is left to do.
  Status run();

 private:
  friend class DiskStore;
  void closeAll();

  std::vector<int> fds_;
  std::string dir_;
};

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
  // Whether reserve() keeps new leases for finish()'s fsyncs (default: no).
  void syncLeases(bool on) { syncLeases_ = on; }
  // Seals the lease index after this session's changes; syncs nothing (see finish()).
  Status flush() override;
  // Releases the lock and hands over the fsyncs of the leases this session
  // wrote. Call it once, after the last change: the store takes no more calls.
  PendingSync finish();

 private:
  DiskStore(std::string dir, int dirFd, int lockFd) : dir_(std::move(dir)), dirFd_(dirFd), lockFd_(lockFd) {}
  // Opens (creating) kTempDir and empties it.
  Status openTemp();
  // Writes `content` to a fresh temporary file and renames it to `name`,
  // never replacing it: false when `name` already exists. With durable, the
  // file's descriptor is kept for finish()'s fsync.
  Result<bool> writeNew(const std::string& name, std::string_view content, bool durable);
  Error ioError(std::string_view what, std::string_view name, int err) const;
  Result<Snapshot> scan(bool readLeases);
  // Makes the index trustworthy for this session: fresh, or rebuilt.
  Status ensureIndex();
  // Before the session's first change of leases: marks the index stale until
  // flush() seals it, so a kill midway makes the next user rebuild it.
  Status beginChange();
  // After an index update: a failed one leaves the index invalidated.
  void indexChanged(const Status& updated);
  // Verified leases of one index entry; nullopt when the index disagrees with the files.
  std::optional<std::vector<Lease>> verified(const std::string& containerId, const std::string& ifname);

  std::string dir_;
  int dirFd_ = -1;
  int lockFd_ = -1;
  int tmpFd_ = -1;    // kTempDir
  PendingSync sync_;  // new leases, not fsynced yet
  bool syncLeases_ = false;
  std::map<ip::Address, std::string> names_;  // on-disk names seen by the last scan
  std::optional<LeaseIndex> index_;
  bool indexValid_ = false;  // index_ matched the files when this session began using it
  bool indexDirty_ = false;  // index_ invalidated for a change: seal it at the next flush
};

}  // namespace podnet::ipam
