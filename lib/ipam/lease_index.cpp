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
constexpr std::size_t kMaxName = 250;

// The marker file of an attachment, or "" when its names cannot form one
// (only possible for foreign leases: request names are validated).
std::string markerName(std::string_view containerId, std::string_view ifname) {
  if (containerId.empty() || containerId.size() + ifname.size() + 1 > kMaxName) return {};
  for (std::string_view part : {containerId, ifname}) {
    if (part.find('/') != std::string_view::npos || part.find('\0') != std::string_view::npos) return {};
  }
  return std::string(containerId) + ":" + std::string(ifname);
}

std::string readAll(int dirFd, const char* name) {
  const int fd = ::openat(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  readFully(fd, out);  // a failed read leaves what was read: the index then disagrees and is rebuilt
  ::close(fd);
  return out;
}

// In place: an entry or state garbled by a kill only makes the index disagree
// with the leases, which makes the store rebuild it.
Status writeAll(int dirFd, const char* name, std::string_view content) {
  if (const int err = replaceInPlace(dirFd, name, content); err != 0)
    return fail(code::kIo, fmt::format("ipam index: cannot write {}", name), std::strerror(err));
  return {};
}

std::string mtimeOf(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "unknown";
  return fmt::format("{} {}", st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

}  // namespace

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

bool LeaseIndex::fresh(int storeFd) const { return readAll(fd_, kStateName) == mtimeOf(storeFd); }

Status LeaseIndex::seal(int storeFd) { return writeAll(fd_, kStateName, mtimeOf(storeFd)); }

std::vector<ip::Address> LeaseIndex::lookup(std::string_view containerId, std::string_view ifname) const {
  std::vector<ip::Address> out;
  const auto name = markerName(containerId, ifname);
  if (name.empty()) return out;
  const std::string text = readAll(fd_, name.c_str());
  // One address a line. No istringstream: a stream would pull libstdc++'s
  // locale start-up into every ADD (about 0.8 MiB of the plugin's memory).
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    if (auto a = ip::Address::parse(line)) out.push_back(*a);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  return out;
}

Status LeaseIndex::write(const std::string& name, const std::vector<ip::Address>& addresses) {
  if (addresses.empty()) {
    if (::unlinkat(fd_, name.c_str(), 0) != 0 && errno != ENOENT)
      return fail(code::kIo, "ipam index: cannot remove " + name, std::strerror(errno));
    return {};
  }
  std::string content;
  for (const auto& a : addresses) content += a.str() + "\n";
  return writeAll(fd_, name.c_str(), content);
}

Status LeaseIndex::add(const Lease& lease) {
  const auto name = markerName(lease.containerId, lease.ifname);
  if (name.empty()) return {};
  auto addresses = lookup(lease.containerId, lease.ifname);
  if (std::find(addresses.begin(), addresses.end(), lease.address) == addresses.end())
    addresses.push_back(lease.address);
  return write(name, addresses);
}

Status LeaseIndex::remove(const Lease& lease) {
  const auto name = markerName(lease.containerId, lease.ifname);
  if (name.empty()) return {};
  auto addresses = lookup(lease.containerId, lease.ifname);
  addresses.erase(std::remove(addresses.begin(), addresses.end(), lease.address), addresses.end());
  return write(name, addresses);
}

Status LeaseIndex::rebuild(const std::vector<Lease>& leases) {
  if (DIR* d = ::fdopendir(::dup(fd_))) {
    std::vector<std::string> old;
    while (const dirent* e = ::readdir(d)) {
      if (std::strchr(e->d_name, ':') != nullptr || std::strcmp(e->d_name, kStateName) == 0)
        old.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& name : old) ::unlinkat(fd_, name.c_str(), 0);
  }
  std::map<std::string, std::vector<ip::Address>> byAttachment;
  for (const auto& l : leases) {
    if (auto name = markerName(l.containerId, l.ifname); !name.empty())
      byAttachment[name].push_back(l.address);
  }
  for (const auto& [name, addresses] : byAttachment) PODNET_CHECK(write(name, addresses));
  return {};
}

}  // namespace podnet::ipam
