#include "masquerade.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace podnet::daemon {
namespace {

std::string set(std::string_view name, std::string_view type, const std::vector<ip::Prefix>& elements) {
  std::string out = fmt::format("  set {} {{\n    type {}\n    flags interval\n", name, type);
  if (!elements.empty()) {
    std::string list;
    for (const auto& p : elements) list += (list.empty() ? "" : ", ") + p.network().str();
    out += fmt::format("    elements = {{ {} }}\n", list);
  }
  return out + "  }\n";
}

std::vector<ip::Prefix> ofFamily(std::vector<ip::Prefix> all, ip::Family family) {
  std::erase_if(all, [&](const ip::Prefix& p) { return p.family() != family; });
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

std::string renderMasquerade(const std::vector<Node>& nodes, std::string_view self) {
  std::vector<ip::Prefix> local;
  std::vector<ip::Prefix> cluster{*ip::Prefix::parse("224.0.0.0/4"), *ip::Prefix::parse("ff00::/8")};
  for (const auto& node : nodes) {
    if (node.name == self) local.insert(local.end(), node.podCidrs.begin(), node.podCidrs.end());
    cluster.insert(cluster.end(), node.podCidrs.begin(), node.podCidrs.end());
  }
  if (local.empty()) return {};
  std::string body = set("local4", "ipv4_addr", ofFamily(local, ip::Family::kV4));
  body += set("nomasq4", "ipv4_addr", ofFamily(cluster, ip::Family::kV4));
  body += set("local6", "ipv6_addr", ofFamily(local, ip::Family::kV6));
  body += set("nomasq6", "ipv6_addr", ofFamily(cluster, ip::Family::kV6));
  body +=
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr @local4 ip daddr != @nomasq4 counter masquerade\n"
      "    ip6 saddr @local6 ip6 daddr != @nomasq6 counter masquerade\n"
      "  }\n";
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64
  for (const char c : body) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return fmt::format(
      "add table inet {0}\ndelete table inet {0}\ntable inet {0} {{\n  comment \"podnetd:{1:016x}\"\n{2}}}\n",
      kMasqueradeTable, hash, body);
}

std::string masqueradeMarker(std::string_view text) {
  constexpr std::string_view kKey = "comment \"";
  const auto at = text.find(std::string(kKey) + "podnetd:");
  if (at == std::string_view::npos) return {};
  const auto begin = at + kKey.size();
  const auto end = text.find('"', begin);
  if (end == std::string_view::npos) return {};
  return std::string(text.substr(begin, end - begin));
}

bool masqueradeSupported() {
#ifdef PODNET_HAVE_NFT
  return true;
#else
  return false;
#endif
}

std::string renderMasqueradeRemoval() {
  return fmt::format("add table inet {0}\ndelete table inet {0}\n", kMasqueradeTable);
}

}  // namespace podnet::daemon
