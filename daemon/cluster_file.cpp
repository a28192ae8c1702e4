#include "cluster_file.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace podnet::daemon {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxClusterFileBytes = std::size_t{64} << 20;

Error invalid(const std::string& where, const std::string& msg) {
  return fail(code::kInvalidConfig, "cluster file: " + where + ": " + msg);
}

Result<std::vector<std::string>> stringList(const json& node, const char* key, const std::string& where) {
  std::vector<std::string> out;
  const auto it = node.find(key);
  if (it == node.end()) return out;
  if (!it->is_array()) return invalid(where + "." + key, "must be a list of strings");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& v = (*it)[i];
    if (!v.is_string()) {
      return invalid(where + "." + key + "[" + std::to_string(i) + "]", "must be a string");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<Node> parseNode(const json& j, const std::string& where) {
  if (!j.is_object()) return invalid(where, "must be an object");
  Node node;
  const auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) {
    return invalid(where + ".name", "must be a non-empty string");
  }
  node.name = name->get<std::string>();
  PODNET_TRY(const auto addresses, stringList(j, "addresses", where));
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const auto a = ip::Address::parse(addresses[i]);
    if (!a)
      return invalid(where + ".addresses[" + std::to_string(i) + "]", addresses[i] + " is not an IP address");
    node.addresses.push_back(*a);
  }
  PODNET_TRY(const auto cidrs, stringList(j, "podCIDRs", where));
  for (std::size_t i = 0; i < cidrs.size(); ++i) {
    const std::string at = where + ".podCIDRs[" + std::to_string(i) + "]";
    const auto p = ip::Prefix::parse(cidrs[i]);
    if (!p) return invalid(at, cidrs[i] + " is not a CIDR");
    if (p->network() != *p) return invalid(at, cidrs[i] + " has host bits set");
    node.podCidrs.push_back(*p);
  }
  return node;
}

}  // namespace

Result<std::vector<Node>> parseCluster(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return fail(code::kDecode, "cluster file: not JSON", e.what());
  }
  if (!doc.is_object()) return invalid("(top)", "must be an object with a \"nodes\" list");
  const auto list = doc.find("nodes");
  if (list == doc.end() || !list->is_array()) return invalid("nodes", "must be a list");
  std::vector<Node> nodes;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string where = "nodes[" + std::to_string(i) + "]";
    PODNET_TRY(auto node, parseNode((*list)[i], where));
    if (!names.insert(node.name).second) return invalid(where + ".name", "duplicate node " + node.name);
    nodes.push_back(std::move(node));
  }
  // Overlapping pod CIDRs would make two nodes claim the same Pods. Sorted by
  // first address, a CIDR overlaps an earlier one iff it starts before the
  // furthest end seen so far in its family.
  struct Owned {
    ip::Prefix cidr;
    std::size_t node;
  };
  std::vector<Owned> all;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& c : nodes[i].podCidrs) all.push_back(Owned{c, i});
  }
  std::sort(all.begin(), all.end(), [](const Owned& a, const Owned& b) { return a.cidr < b.cidr; });
  for (std::size_t i = 1, furthest = 0; i < all.size(); ++i) {
    const auto& cur = all[i];
    const auto& far = all[furthest];
    if (far.cidr.family() == cur.cidr.family() && cur.cidr.first() <= far.cidr.last()) {
      const auto& [a, b] = far.node < cur.node ? std::pair(far, cur) : std::pair(cur, far);
      return invalid("nodes[" + std::to_string(b.node) + "].podCIDRs",
                     b.cidr.str() + " overlaps " + a.cidr.str() + " of node " + nodes[a.node].name);
    }
    if (far.cidr.family() != cur.cidr.family() || cur.cidr.last() > far.cidr.last()) furthest = i;
  }
  return nodes;
}

ClusterFileSource::ClusterFileSource(std::string path, int inotifyFd)
    : path_(std::move(path)), inotifyFd_(inotifyFd) {
  const auto slash = path_.rfind('/');
  baseName_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
}

ClusterFileSource::~ClusterFileSource() {
  if (inotifyFd_ >= 0) ::close(inotifyFd_);
}

Result<std::unique_ptr<ClusterFileSource>> ClusterFileSource::open(std::string path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return fail(code::kIo, std::string("inotify_init1: ") + std::strerror(errno));
  // The directory, not the file: a rename onto the file replaces its inode.
  if (::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
    const int err = errno;
    ::close(fd);
    return fail(code::kIo, "watch " + dir + ": " + std::strerror(err));
  }
  return std::unique_ptr<ClusterFileSource>(new ClusterFileSource(std::move(path), fd));
}

Result<std::vector<Node>> ClusterFileSource::nodes() {
  // O_NONBLOCK and a regular-file check: a FIFO or device put in the file's
  // place must not stall the daemon's single event loop. The size bound keeps
  // a runaway file from exhausting memory.
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(code::kIo, "cluster file: cannot open " + path_, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return fail(code::kIo, "cluster file: cannot stat " + path_, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(code::kIo, "cluster file: " + path_ + " is not a regular file");
  std::string text;
  std::array<char, 65536> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(code::kIo, "cluster file: cannot read " + path_, std::strerror(errno));
    if (n == 0) break;
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxClusterFileBytes)
      return fail(code::kIo, "cluster file: " + path_ + " is too large",
                  "more than " + std::to_string(kMaxClusterFileBytes) + " bytes");
  }
  return parseCluster(text);
}

bool ClusterFileSource::consumeChanges() {
  bool changed = false;
  alignas(inotify_event) std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(inotifyFd_, buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
      if ((ev->mask & IN_Q_OVERFLOW) != 0) changed = true;
      // A Kubernetes ConfigMap volume replaces its files by renaming a new
      // "..data" symlink into place; the file's own name sees no event.
      if (ev->len > 0 && (baseName_ == ev->name || std::string_view(ev->name) == "..data")) changed = true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return changed;
}

}  // namespace podnet::daemon
