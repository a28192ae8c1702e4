#include "podnet/ipam/lease_index.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "write_fully.hpp"

namespace podnet::ipam {
namespace {

constexpr const char* kStateName = "state";
// The state's format: an index of another layout (one file per attachment,
// before this one) is never fresh, so it is rebuilt in this layout.
constexpr std::string_view kLayout = "buckets-256 ";

// The key of an attachment, or "" when its names cannot form one: a line
// holds one key, so a name with a newline (only possible in a foreign lease:
// request names are validated) is not indexed.
std::string markerName(std::string_view containerId, std::string_view ifname) {
  if (containerId.empty()) return {};
  for (std::string_view part : {containerId, ifname}) {
    if (part.find_first_of(std::string_view("\n\0", 2)) != std::string_view::npos) return {};
  }
  return std::string(containerId) + ":" + std::string(ifname);
}

// The bucket file of a key: FNV-1a, 256 files named "00".."ff", all made when
// the index is built and kept when empty, so a Pod's ADD and DEL rewrite a
// file in place and never create or delete one (on ext4 a new inode is the
// costliest part of a small file's life).
constexpr unsigned kBuckets = 256;

std::string bucketName(unsigned bucket) { return fmt::format("{:02x}", bucket); }

std::string bucketOf(std::string_view marker) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : marker) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return bucketName(static_cast<unsigned>(h % kBuckets));
}

// The whole file; nullopt when it cannot be read (every bucket exists once
// the index is built, so a missing one is an index that cannot be trusted).
std::optional<std::string> readAll(int dirFd, const char* name) {
  const int fd = ::openat(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  const int err = readFully(fd, out);
  ::close(fd);
  if (err != 0) return std::nullopt;
  return out;
}

// In place: a bucket or state garbled by a kill is never trusted, as the
// state was invalidated before the first change (see DiskStore).
Status writeAll(int dirFd, const char* name, std::string_view content) {
  if (const int err = replaceInPlace(dirFd, name, content); err != 0)
    return fail(code::kIo, fmt::format("ipam index: cannot write {}", name), std::strerror(err));
  return {};
}

std::string stateOf(int storeFd) {
  struct stat st {};
  if (::fstat(storeFd, &st) != 0) return "unknown";
  return fmt::format("{}{} {}", kLayout, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

// One line of a bucket: "<marker> <address>\n"; forEachEntry() reads it back.
std::string entryLine(std::string_view marker, std::string_view address) {
  return fmt::format("{} {}\n", marker, address);
}

// Calls fn(marker, address text) for each "<marker> <address>" line of a bucket.
template <class Fn>
void forEachEntry(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    const auto sp = line.rfind(' ');  // keys may hold spaces, addresses never do
    if (sp != std::string_view::npos) fn(line.substr(0, sp), line.substr(sp + 1));
  }
}

}  // namespace

std::string indexBucket(std::string_view containerId, std::string_view ifname) {
  const auto marker = markerName(containerId, ifname);
  return marker.empty() ? std::string() : bucketOf(marker);
}

Result<LeaseIndex> LeaseIndex::open(int storeFd) {
  const std::string name(kIndexDir);
  if (::mkdirat(storeFd, name.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(code::kIo, "ipam index: cannot create " + name, std::strerror(errno));
  const int fd = ::openat(storeFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail(code::kIo, "ipam index: cannot open " + name, std::strerror(errno));
  return LeaseIndex(fd);
}

LeaseIndex::~LeaseIndex() {
  if (fd_ >= 0) ::close(fd_);
}

bool LeaseIndex::fresh(int storeFd) const { return readAll(fd_, kStateName) == stateOf(storeFd); }

Status LeaseIndex::seal(int storeFd) { return writeAll(fd_, kStateName, stateOf(storeFd)); }

Status LeaseIndex::invalidate() { return writeAll(fd_, kStateName, "changing"); }

std::optional<std::vector<ip::Address>> LeaseIndex::lookup(std::string_view containerId,
                                                           std::string_view ifname) const {
  const auto marker = markerName(containerId, ifname);
  if (marker.empty()) return std::nullopt;
  const auto text = readAll(fd_, bucketOf(marker).c_str());
  if (!text) return std::nullopt;
  std::vector<ip::Address> out;
  forEachEntry(*text, [&](std::string_view key, std::string_view address) {
    if (key != marker) return;
    if (auto a = ip::Address::parse(address)) out.push_back(*a);
  });
  return out;
}

Status LeaseIndex::change(const Lease& lease, bool present) {
  const auto marker = markerName(lease.containerId, lease.ifname);
  if (marker.empty()) return {};
  const std::string bucket = bucketOf(marker);
  const std::string address = lease.address.str();
  const auto text = readAll(fd_, bucket.c_str());
  if (!text)
    return fail(code::kIo, fmt::format("ipam index: cannot read {}", bucket));  // never write a guess
  std::string content;
  bool found = false;
  forEachEntry(*text, [&](std::string_view key, std::string_view entryAddress) {
    if (key == marker && entryAddress == address) {
      found = true;
      if (!present) return;
    }
    content += entryLine(key, entryAddress);
  });
  if (found == present) return {};
  if (present) content += entryLine(marker, address);
  return writeAll(fd_, bucket.c_str(), content);
}

Status LeaseIndex::add(const Lease& lease) { return change(lease, true); }

Status LeaseIndex::remove(const Lease& lease) { return change(lease, false); }

Status LeaseIndex::rebuild(const std::vector<Lease>& leases) {
  PODNET_CHECK(invalidate());  // a rebuild killed midway is not an index
  // Every bucket, empty ones too: an ADD then never creates a file.
  std::map<std::string, std::string> buckets;
  for (unsigned b = 0; b < kBuckets; ++b) buckets[bucketName(b)];
  for (const auto& l : leases) {
    if (auto marker = markerName(l.containerId, l.ifname); !marker.empty())
      buckets[bucketOf(marker)] += entryLine(marker, l.address.str());
  }
  // Whatever else is there (an older layout's files) goes.
  std::vector<std::string> old;
  const int err = forEachDirEntry(fd_, [&](const dirent& e) {
    const std::string name = e.d_name;
    if (name != kStateName && buckets.count(name) == 0) old.push_back(name);
  });
  if (err != 0)
    return fail(code::kIo, "ipam index: cannot list " + std::string(kIndexDir), std::strerror(err));
  for (const auto& name : old) ::unlinkat(fd_, name.c_str(), 0);
  for (const auto& [name, content] : buckets) PODNET_CHECK(writeAll(fd_, name.c_str(), content));
  return {};
}

}  // namespace podnet::ipam
