#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "podnet/ipam/config.hpp"

namespace podnet::ipam {

cni::Dns parseResolvConfText(std::string_view text) {
  cni::Dns dns;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(std::move(w));
    if (fields.size() < 2 || fields[0][0] == '#' || fields[0][0] == ';') continue;
    if (fields[0] == "nameserver") {
      dns.nameservers.push_back(fields[1]);
    } else if (fields[0] == "domain") {
      dns.domain = fields[1];
    } else if (fields[0] == "search") {
      dns.search.insert(dns.search.end(), fields.begin() + 1, fields.end());
    } else if (fields[0] == "options") {
      dns.options.insert(dns.options.end(), fields.begin() + 1, fields.end());
    }
  }
  return dns;
}

Result<cni::Dns> parseResolvConf(const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return fail(code::kIo, "cannot read ipam.resolvConf", fmt::format("{}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << file.rdbuf();
  return parseResolvConfText(text.str());
}

}  // namespace podnet::ipam
