#include <fmt/format.h>

#include <iterator>

#include "plugin.hpp"
#include "podnet/netlink/types.hpp"

namespace podnet::plugin {
namespace {

using nlohmann::json;

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

Error configError(std::string msg, std::string details = {}) {
  return fail(code::kInvalidConfig, std::move(msg), std::move(details));
}

}  // namespace

std::string hostVethName(std::string_view network, std::string_view containerId, std::string_view ifname) {
  // NUL separators: ("a","bc") and ("ab","c") hash differently.
  std::uint64_t h = fnv1a(kFnvOffset, network);
  h = fnv1a(h, std::string_view("\0", 1));
  h = fnv1a(h, containerId);
  h = fnv1a(h, std::string_view("\0", 1));
  h = fnv1a(h, ifname);
  return fmt::format("pn{:012x}", h & 0xffffffffffffULL);
}

std::string hostVethAlias(std::string_view network) {
  constexpr std::size_t kMaxAlias = 255;
  auto alias = fmt::format("podnet:{}", network);
  if (alias.size() <= kMaxAlias) return alias;
  return fmt::format("podnet:#{:016x}", fnv1a(kFnvOffset, network));
}

std::string hostVethMac(std::string_view hostName) {
  constexpr std::size_t kLen = 14;  // "pn" + 12 hex digits
  if (hostName.size() != kLen || hostName.substr(0, 2) != "pn") return {};
  for (char c : hostName.substr(2))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  std::string mac = "02";
  for (std::size_t i = 2; i < 12; i += 2)
    fmt::format_to(std::back_inserter(mac), ":{}", hostName.substr(i, 2));
  return mac;
}

bool isUnfinishedHostVeth(const netlink::Link& link) {
  if (link.kind != "veth" || !link.alias.empty()) return false;
  const std::string mac = hostVethMac(link.name);
  return !mac.empty() && link.mac == mac;
}

bool isHostVethOf(const netlink::Link& link, std::string_view network) {
  return link.kind == "veth" && (link.alias == hostVethAlias(network) || isUnfinishedHostVeth(link));
}

Result<Config> parseConfig(const cni::Request& request) {
  Config c;
  const auto& raw = request.conf.raw;
  if (const json* mtu = cni::findKey(raw, "mtu"); mtu != nullptr && !mtu->is_null()) {
    if (!mtu->is_number_integer() || mtu->get<long long>() < 68 || mtu->get<long long>() > 65535)
      return configError("\"mtu\" must be an integer from 68 to 65535", mtu->dump());
    c.mtu = mtu->get<int>();
  }
  if (const json* masq = cni::findKey(raw, "ipMasq"); masq != nullptr && !masq->is_null()) {
    if (!masq->is_boolean()) return configError("\"ipMasq\" must be true or false", masq->dump());
    c.ipMasq = masq->get<bool>();
  }
  if (const json* type = cni::findKey(request.conf.ipam, "type"); type != nullptr && type->is_string())
    c.ipamType = type->get<std::string>();
  if (c.ipamType.empty())
    return configError("\"ipam.type\" is missing", "e.g. \"podnet-ipam\" or \"host-local\"");

  std::optional<std::string> mac;
  if (const json* m = cni::findKey(request.conf.runtimeConfig, "mac"); m != nullptr && !m->is_null()) {
    if (!m->is_string()) return configError("\"runtimeConfig.mac\" must be a string", m->dump());
    mac = m->get<std::string>();
  } else if (auto argMac = request.args.get("MAC")) {
    mac = *argMac;
  }
  if (mac) {
    if (!netlink::parseMac(*mac)) return configError("invalid MAC address", *mac);
    c.mac = *mac;
  }
  return c;
}

}  // namespace podnet::plugin
