#include "conflist.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace podnet::daemon {
namespace {

Error ioError(const std::string& what, int err) { return fail(code::kIo, what + ": " + std::strerror(err)); }

Status writeAll(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("write " + path, errno);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::string renderConflist(const ConflistSpec& spec) {
  using nlohmann::ordered_json;
  ordered_json ranges = ordered_json::array();
  for (const auto& cidr : spec.podCidrs) {
    ranges.push_back(ordered_json::array({ordered_json{{"subnet", cidr.network().str()}}}));
  }
  ordered_json ipam{{"type", "podnet-ipam"}, {"ranges", ranges}};
  if (!spec.dataDir.empty()) ipam["dataDir"] = spec.dataDir;
  ordered_json plugin{{"type", "podnet"}};
  if (spec.mtu) plugin["mtu"] = *spec.mtu;
  plugin["ipam"] = ipam;
  ordered_json plugins = ordered_json::array({plugin});
  if (spec.portmap) {
    // snat is portmap's default, spelled out: without it a hostPort answers
    // neither 127.0.0.1 on the node nor the Pod itself (hairpin).
    plugins.push_back(ordered_json{
        {"type", "portmap"}, {"capabilities", ordered_json{{"portMappings", true}}}, {"snat", true}});
  }
  const ordered_json conf{
      {"cniVersion", "1.0.0"},
      {"name", spec.network},
      {"plugins", plugins},
  };
  return conf.dump(2) + "\n";
}

Result<bool> writeFileIfChanged(const std::string& path, std::string_view content) {
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream old;
      old << in.rdbuf();
      if (old.str() == content) return false;
    }
  }
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ioError("create a temporary file next to " + path, errno);
  auto st = writeAll(fd, content, tmp);
  if (st.ok() && ::fchmod(fd, 0644) != 0) st = ioError("chmod " + tmp, errno);
  if (st.ok() && ::fsync(fd) != 0) st = ioError("fsync " + tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = ioError("close " + tmp, errno);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = ioError("rename " + tmp + " to " + path, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st.error();
  }
  // The rename is durable once the directory is.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace podnet::daemon
