#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "podnet/ipam/config.hpp"
#include "write_fully.hpp"

namespace podnet::ipam {
namespace {

// No streams here: an istringstream would link libstdc++'s std::locale and
// its facets into the plugin binaries (a third of their text, all resident).
std::vector<std::string_view> words(std::string_view line) {
  constexpr std::string_view kSpace = " \t\r\v\f";
  std::vector<std::string_view> out;
  for (std::size_t pos = line.find_first_not_of(kSpace); pos != std::string_view::npos;) {
    const std::size_t end = line.find_first_of(kSpace, pos);
    out.push_back(line.substr(pos, end - pos));
    pos = end == std::string_view::npos ? end : line.find_first_not_of(kSpace, end);
  }
  return out;
}

}  // namespace

cni::Dns parseResolvConfText(std::string_view text) {
  cni::Dns dns;
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    const auto fields = words(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (fields.size() < 2 || fields[0][0] == '#' || fields[0][0] == ';') continue;
    if (fields[0] == "nameserver") {
      dns.nameservers.emplace_back(fields[1]);
    } else if (fields[0] == "domain") {
      dns.domain = std::string(fields[1]);
    } else if (fields[0] == "search") {
      dns.search.insert(dns.search.end(), fields.begin() + 1, fields.end());
    } else if (fields[0] == "options") {
      dns.options.insert(dns.options.end(), fields.begin() + 1, fields.end());
    }
  }
  return dns;
}

Result<cni::Dns> parseResolvConf(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(code::kIo, "cannot read ipam.resolvConf", fmt::format("{}: {}", path, std::strerror(errno)));
  std::string text;
  const int err = readFully(fd, text);
  ::close(fd);
  if (err != 0)
    return fail(code::kIo, "cannot read ipam.resolvConf", fmt::format("{}: {}", path, std::strerror(err)));
  return parseResolvConfText(text);
}

}  // namespace podnet::ipam
