#pragma once
// Private to lib/ipam: the store's, the index's and resolv.conf's one way to read and write a file,
// and to list a directory.

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace podnet::ipam {

// Writes all of `content` to `fd`, retrying EINTR and short writes. Returns 0,
// or the errno of the failure (EIO for a write that made no progress).
inline int writeFully(int fd, std::string_view content) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

// Appends everything left to read from `fd` to `out`, retrying EINTR.
// Returns 0, or the errno of the failure.
inline int readFully(int fd, std::string& out) {
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return 0;
}

// Replaces the content of `name` in `dirFd` in place (creating it 0600, never
// following a symlink, never waiting on a FIFO): write at offset 0, then cut to the new length. No
// new inode, no rename, no truncation to zero: on ext4 each of those costs
// ADD time (an inode search past recently deleted ones; a writeback that
// auto_da_alloc starts on close). Not atomic: a process killed midway leaves
// a mix of old and new bytes, so only for files whose readers treat bad
// content as absent (last_reserved_ip, the lease index). Returns 0 or errno.
inline int replaceInPlace(int dirFd, const char* name, std::string_view content) {
  const int fd = ::openat(dirFd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = writeFully(fd, content);
  if (err == 0 && ::ftruncate(fd, static_cast<off_t>(content.size())) != 0) err = errno;
  ::close(fd);
  return err;
}

// Calls fn(const dirent&) for each entry of directory `dirFd` but "." and "..",
// from its start, through a duplicate: `dirFd` stays open and usable. Returns
// 0, or the errno of opening the listing.
template <class Fn>
int forEachDirEntry(int dirFd, Fn&& fn) {
  const int dupFd = ::dup(dirFd);
  DIR* d = dupFd < 0 ? nullptr : ::fdopendir(dupFd);
  if (d == nullptr) {
    const int err = errno;
    if (dupFd >= 0) ::close(dupFd);
    return err;
  }
  ::rewinddir(d);  // the duplicate shares dirFd's offset, which an earlier listing leaves at the end
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") fn(*e);
  }
  ::closedir(d);
  return 0;
}

}  // namespace podnet::ipam
