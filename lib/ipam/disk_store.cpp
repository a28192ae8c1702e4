#include "podnet/ipam/disk_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "podnet/fault/fault.hpp"
#include "write_fully.hpp"

namespace podnet::ipam {
namespace {

constexpr std::size_t kMaxLeaseBytes = 4096;

// The name Go's net.IP.String() gives an address (host-local names files so):
// IPv4-mapped IPv6 as dotted IPv4; other IPv6 in hex, the first longest run
// of two or more zero groups as "::", never an embedded dotted quad.
std::string goName(const ip::Address& a) {
  const ip::U128 v = a.toInt();
  if (a.isV4() || (v >> 32) == 0xffff) return ip::Address::fromInt(ip::Family::kV4, v & 0xffffffffu).str();
  std::uint16_t groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = static_cast<std::uint16_t>(v >> (16 * (7 - i)));
  int bestStart = -1, bestLen = 0;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > bestLen && j - i >= 2) bestStart = i, bestLen = j - i;
    i = j == i ? i + 1 : j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == bestStart) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", groups[i]);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads at most `limit` bytes of the regular file `name` in `dirFd` without
// following a symlink or blocking on a FIFO; nullopt when that is impossible.
std::optional<std::string> readSmall(int dirFd, const char* name, std::size_t limit, bool knownRegular) {
  const int fd = ::openat(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (!knownRegular && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(fd);
    return std::nullopt;
  }
  char buf[kMaxLeaseBytes];
  limit = std::min(limit, sizeof buf);
  std::size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, buf + got, limit - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
    if (got < limit) break;  // a short read of a regular file is its end: spare a syscall
  }
  ::close(fd);
  return std::string(buf, got);
}

// mkdir -p for the parents host-local would create. 0700, not host-local's
// 0755: only root reads state. Existing directories keep their mode.
void makeParents(const std::string& path) {
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
    ::mkdir(path.substr(0, pos).c_str(), 0700);
  ::mkdir(path.c_str(), 0700);
}

}  // namespace

std::string leaseFileName(const ip::Address& address) { return goName(address); }

std::string encodeLease(std::string_view containerId, std::string_view ifname) {
  return std::string(trim(containerId)) + "\r\n" + std::string(ifname);
}

std::optional<Lease> decodeLease(const ip::Address& address, std::string_view content) {
  content = trim(content);
  if (content.empty()) return std::nullopt;
  const auto crlf = content.find("\r\n");
  if (crlf == std::string_view::npos) return Lease{address, std::string(content), {}};
  return Lease{address, std::string(content.substr(0, crlf)), std::string(content.substr(crlf + 2))};
}

Error DiskStore::ioError(std::string_view what, std::string_view name, int err) const {
  return fail(code::kIo, fmt::format("ipam store: {} {}/{}", what, dir_, name), std::strerror(err));
}

Result<std::unique_ptr<DiskStore>> DiskStore::open(const std::string& dir, Mode mode) {
  const auto slash = dir.rfind('/');
  if (dir.empty() || dir.front() != '/' || slash == std::string::npos || slash + 1 == dir.size())
    return fail(code::kInvalidConfig,
                fmt::format("ipam store: \"{}\" is not an absolute directory path", dir));
  const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
  const std::string name = dir.substr(slash + 1);
  auto ioFail = [&](std::string_view what, int err) {
    return fail(code::kIo, fmt::format("ipam store: {} {}", what, dir), std::strerror(err));
  };

  if (mode == Mode::kCreate) makeParents(parent);
  int parentFd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parentFd < 0) {
    if (mode == Mode::kExisting && errno == ENOENT) return std::unique_ptr<DiskStore>();
    return fail(code::kIo, fmt::format("ipam store: cannot open dataDir {}", parent),
                errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory" : std::strerror(errno));
  }
  if (mode == Mode::kCreate && ::mkdirat(parentFd, name.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;
    closeFd(parentFd);
    return ioFail("cannot create", err);
  }
  int dirFd = ::openat(parentFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  const int openErr = errno;
  closeFd(parentFd);
  if (dirFd < 0) {
    if (mode == Mode::kExisting && openErr == ENOENT) return std::unique_ptr<DiskStore>();
    if (openErr == ELOOP || openErr == ENOTDIR)
      return fail(code::kIo, fmt::format("ipam store: {} is a symlink or not a directory", dir),
                  "refusing to follow it");
    return ioFail("cannot open", openErr);
  }
  struct stat st {};
  if (::fstat(dirFd, &st) != 0 || st.st_uid != ::geteuid()) {
    closeFd(dirFd);
    return fail(code::kIo, fmt::format("ipam store: {} is not owned by this user", dir));
  }
  if ((st.st_mode & 077) != 0) ::fchmod(dirFd, 0700);  // leases name containers: keep them private

  int lockFd =
      ::openat(dirFd, std::string(kLockName).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lockFd < 0) {
    const int err = errno;
    closeFd(dirFd);
    return ioFail("cannot open the lock file in", err);
  }
  while (::flock(lockFd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    closeFd(lockFd);
    closeFd(dirFd);
    return ioFail("cannot lock", err);
  }
  std::unique_ptr<DiskStore> store(new DiskStore(dir, dirFd, lockFd));
  PODNET_CHECK(store->openTemp());
  return store;
}

Status DiskStore::openTemp() {
  const std::string name(kTempDir);
  if (::mkdirat(dirFd_, name.c_str(), 0700) != 0 && errno != EEXIST)
    return ioError("cannot create", name, errno);
  tmpFd_ = ::openat(dirFd_, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (tmpFd_ < 0) return ioError("cannot open", name, errno);
  // Under the lock, a temporary file is the leftover of a writer that died
  // before its rename: the rename never happened, so nothing refers to it.
  std::vector<std::string> stale;
  const int err = forEachDirEntry(tmpFd_, [&](const dirent& e) { stale.emplace_back(e.d_name); });
  if (err != 0) return ioError("cannot list", name, err);
  for (const auto& s : stale) ::unlinkat(tmpFd_, s.c_str(), 0);
  return {};
}

DiskStore::~DiskStore() {
  closeFd(lockFd_);  // releases the flock
  closeFd(tmpFd_);
  closeFd(dirFd_);
}

Result<Snapshot> DiskStore::scan(bool readLeases) {
  Snapshot snapshot;
  names_.clear();
  const int err = forEachDirEntry(dirFd_, [&](const dirent& e) {
    const std::string_view name = e.d_name;
    if (name.starts_with('.') || name == kLockName || name.starts_with(kLastReservedPrefix)) return;
    const auto address = ip::Address::parse(name);
    if (!address) return;  // not a lease: leave it alone
    snapshot.taken.push_back(*address);
    // Remember only names host-local would not have written (IPv6 spelled
    // otherwise): release() must unlink the name that is on disk.
    if (!address->isV4() && name != goName(*address)) names_[*address] = std::string(name);
    if (!readLeases || (e.d_type != DT_REG && e.d_type != DT_UNKNOWN)) return;  // symlink, FIFO: never read
    if (auto content = readSmall(dirFd_, e.d_name, kMaxLeaseBytes, e.d_type == DT_REG)) {
      if (auto lease = decodeLease(*address, *content)) snapshot.leases.push_back(std::move(*lease));
    }
  });
  if (err != 0) return ioError("cannot list", "", err);
  std::sort(snapshot.taken.begin(), snapshot.taken.end());
  return snapshot;
}

Result<Snapshot> DiskStore::load() {
  PODNET_TRY(Snapshot snapshot, scan(true));
  if (index_ && !indexValid_) {  // a full scan is all a rebuild needs
    PODNET_CHECK(index_->rebuild(snapshot.leases));
    PODNET_CHECK(index_->seal(dirFd_));
    indexValid_ = true;
    indexDirty_ = false;  // sealed: the next change must invalidate it again
  }
  return snapshot;
}

Result<std::vector<ip::Address>> DiskStore::taken() {
  PODNET_TRY(Snapshot snapshot, scan(false));
  return std::move(snapshot.taken);
}

Result<bool> DiskStore::exists(const ip::Address& address) {
  const auto present = [&](const std::string& name) -> Result<bool> {
    struct stat st {};
    if (::fstatat(dirFd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno == ENOENT) return false;
    return ioError("cannot look up", name, errno);
  };
  PODNET_TRY(bool canonical, present(goName(address)));
  if (canonical) return true;
  const auto it = names_.find(address);
  if (it == names_.end()) return false;
  return present(it->second);
}

Status DiskStore::ensureIndex() {
  if (indexValid_) return {};
  if (!index_) {
    PODNET_TRY(LeaseIndex index, LeaseIndex::open(dirFd_));
    index_.emplace(std::move(index));
  }
  if (index_->fresh(dirFd_)) {
    indexValid_ = true;
    return {};
  }
  auto rebuilt = load();
  if (!rebuilt) return rebuilt.error();
  return {};
}

std::optional<std::vector<Lease>> DiskStore::verified(const std::string& containerId,
                                                      const std::string& ifname) {
  const auto indexed = index_->lookup(containerId, ifname);
  if (!indexed) return std::nullopt;
  std::vector<Lease> out;
  for (const auto& a : *indexed) {
    const auto content = readSmall(dirFd_, goName(a).c_str(), kMaxLeaseBytes, false);
    const auto lease = content ? decodeLease(a, *content) : std::nullopt;
    if (!lease || lease->containerId != containerId || lease->ifname != ifname) return std::nullopt;
    out.push_back(*lease);
  }
  return out;
}

Result<std::vector<Lease>> DiskStore::leasesOf(const std::string& containerId, const std::string& ifname) {
  PODNET_CHECK(ensureIndex());
  auto exact = verified(containerId, ifname);
  auto idOnly = exact && exact->empty() ? verified(containerId, "") : std::optional<std::vector<Lease>>{};
  if (exact && !exact->empty()) return std::move(*exact);
  if (exact && idOnly) return std::move(*idOnly);
  // The index disagrees with the files: rebuild it from a full scan.
  indexValid_ = false;
  PODNET_TRY(Snapshot snapshot, load());
  return ipam::leasesOf(snapshot.leases, containerId, ifname);
}

Result<bool> DiskStore::writeNew(const std::string& name, std::string_view content, bool durable) {
  std::uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce)) nonce ^= ::getpid();
  const std::string tmp = fmt::format("{:016x}", nonce);
  int fd = ::openat(tmpFd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("cannot create", fmt::format("{}/{}", kTempDir, tmp), errno);
  const int err = writeFully(fd, content);
  // Renamed, the inode is the same: finish() fsyncs it after the lock.
  const auto keep = [&] {
    if (durable) {
      sync_.fds_.push_back(fd);
    } else {
      ::close(fd);
    }
    fd = -1;
  };
  auto drop = [&](int e) -> Error {
    if (fd >= 0) ::close(fd);
    ::unlinkat(tmpFd_, tmp.c_str(), 0);
    return ioError("cannot write", name, e);
  };
  if (err != 0) return drop(err);
  PODNET_FAULT_POINT("ipam.store.before_rename");
  if (::renameat2(tmpFd_, tmp.c_str(), dirFd_, name.c_str(), RENAME_NOREPLACE) == 0) {
    keep();
    PODNET_FAULT_POINT("ipam.store.after_rename");
    return true;
  }
  if (errno == EEXIST) {
    ::close(fd);
    ::unlinkat(tmpFd_, tmp.c_str(), 0);
    return false;
  }
  if (errno != EINVAL && errno != ENOSYS) return drop(errno);
  // A filesystem without RENAME_NOREPLACE: link() never replaces either.
  if (::linkat(tmpFd_, tmp.c_str(), dirFd_, name.c_str(), 0) != 0) {
    const int e = errno;
    if (e == EEXIST) {
      ::close(fd);
      ::unlinkat(tmpFd_, tmp.c_str(), 0);
      return false;
    }
    return drop(e);
  }
  ::unlinkat(tmpFd_, tmp.c_str(), 0);
  keep();
  return true;
}

Status DiskStore::beginChange() {
  if (!index_ || !indexValid_ || indexDirty_) return {};
  PODNET_CHECK(index_->invalidate());
  indexDirty_ = true;
  return {};
}

void DiskStore::indexChanged(const Status& updated) {
  // The lease on disk is the truth and stays; an index that could not follow
  // it is left invalidated (never sealed), and the next user rebuilds it.
  if (!updated) indexValid_ = false;
}

Result<bool> DiskStore::reserve(const Lease& lease) {
  PODNET_CHECK(beginChange());
  PODNET_TRY(bool written,
             writeNew(goName(lease.address), encodeLease(lease.containerId, lease.ifname), syncLeases_));
  if (written && index_ && indexValid_) indexChanged(index_->add(lease));
  return written;
}

Result<bool> DiskStore::release(const Lease& lease) {
  const auto it = names_.find(lease.address);
  const std::string name = it != names_.end() ? it->second : goName(lease.address);
  PODNET_CHECK(beginChange());
  if (::unlinkat(dirFd_, name.c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    return ioError("cannot remove", name, errno);
  }
  PODNET_FAULT_POINT("ipam.store.after_unlink");
  if (index_ && indexValid_) indexChanged(index_->remove(lease));
  return true;
}

Result<std::optional<ip::Address>> DiskStore::lastReserved(std::size_t rangeSet) {
  const std::string name = fmt::format("{}{}", kLastReservedPrefix, rangeSet);
  const auto content = readSmall(dirFd_, name.c_str(), 64, false);
  if (!content) return std::optional<ip::Address>();
  return ip::Address::parse(trim(*content));
}

// In place, as host-local writes it (os.WriteFile): it is only where the next
// search starts, and content a kill garbled parses as no hint at all.
Status DiskStore::setLastReserved(std::size_t rangeSet, const ip::Address& address) {
  const std::string name = fmt::format("{}{}", kLastReservedPrefix, rangeSet);
  if (const int err = replaceInPlace(dirFd_, name.c_str(), goName(address)); err != 0)
    return ioError("cannot write", name, err);
  return {};
}

Status DiskStore::flush() {
  if (indexDirty_ && indexValid_) {  // every change of this session is in the index: seal it
    PODNET_FAULT_POINT("ipam.index.before_seal");
    PODNET_CHECK(index_->seal(dirFd_));
    indexDirty_ = false;
  }
  return {};
}

PendingSync DiskStore::finish() {
  closeFd(lockFd_);  // releases the flock: the fsyncs below no longer hold other writers back
  PendingSync out = std::move(sync_);
  out.dir_ = dir_;
  return out;
}

PendingSync& PendingSync::operator=(PendingSync&& other) noexcept {
  if (this != &other) {
    closeAll();
    fds_ = std::move(other.fds_);
    other.fds_.clear();
    dir_ = std::move(other.dir_);
  }
  return *this;
}

PendingSync::~PendingSync() { closeAll(); }

void PendingSync::closeAll() {
  for (int& fd : fds_) closeFd(fd);
  fds_.clear();
}

Status PendingSync::run() {
  // fsync, not fdatasync: the rename changed the file's inode (its ctime) in
  // the same journal transaction as the directory entry, so on Linux's
  // journaling filesystems (ext4, XFS, btrfs) this makes the name durable
  // too. fsync() of the directory would cost one more journal commit on ext4
  // (it always forces one), with nothing left to commit.
  int err = 0;
  for (const int fd : fds_) {
    if (err == 0 && ::fsync(fd) != 0) err = errno;
  }
  closeAll();
  if (err != 0) return fail(code::kIo, fmt::format("ipam store: cannot sync {}", dir_), std::strerror(err));
  return {};
}

}  // namespace podnet::ipam
