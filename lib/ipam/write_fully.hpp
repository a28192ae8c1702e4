#pragma once
// Private to lib/ipam: the store's and the index's one way to write a file.

#include <unistd.h>

#include <cerrno>
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

}  // namespace podnet::ipam
