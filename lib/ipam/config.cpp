#include "podnet/ipam/config.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podnet/cni/env.hpp"

namespace podnet::ipam {
namespace {

using nlohmann::json;

Error configError(std::string msg, std::string details = {}) {
  return fail(code::kInvalidConfig, std::move(msg), std::move(details));
}

// IPv4-mapped IPv6 becomes IPv4, as Go's To4() canonicalization does.
ip::Address canonical(const ip::Address& a) {
  if (a.isV4()) return a;
  const auto v = a.toInt();
  if ((v >> 32) == 0xffff) return ip::Address::fromInt(ip::Family::kV4, v & 0xffffffffu);
  return a;
}

// A string field; nullopt when absent or null.
Result<std::optional<std::string>> optString(const json& doc, std::string_view key, const std::string& path) {
  const json* v = cni::findKey(doc, key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return configError(fmt::format("{}.{} must be a string", path, key), v->dump());
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<ip::Address>> optAddress(const json& doc, std::string_view key,
                                              const std::string& path) {
  PODNET_TRY(auto text, optString(doc, key, path));
  if (!text) return std::optional<ip::Address>();
  auto a = ip::Address::parse(*text);
  if (!a)
    return configError(fmt::format("{}.{} \"{}\" is not an IP address", path, key, text->substr(0, 64)));
  return std::optional<ip::Address>(canonical(*a));
}

// Checks that `a` (field `key` of `path`) belongs to `subnet`.
Status inSubnet(const ip::Address& a, const ip::Prefix& subnet, std::string_view key,
                const std::string& path) {
  if (subnet.contains(a)) return {};
  return configError(fmt::format("{}.{} {} is outside subnet {}", path, key, a.str(), subnet.str()));
}

// One range; `path` names it ("ipam.ranges[0][1]", or "ipam" for the legacy one).
Result<Range> parseRange(const json& doc, const std::string& path) {
  if (!doc.is_object()) return configError(fmt::format("{} must be an object", path), doc.dump());
  PODNET_TRY(auto subnetText, optString(doc, "subnet", path));
  if (!subnetText) return configError(fmt::format("{}.subnet is required", path));
  auto parsed = ip::Prefix::parse(*subnetText);
  if (!parsed)
    return configError(fmt::format("{}.subnet \"{}\" is not a CIDR", path, subnetText->substr(0, 64)));
  Range r;
  r.subnet = parsed->network();
  const int bits = r.subnet.addr.bits();
  if (r.subnet.len > bits - 2)
    return configError(
        fmt::format("{}.subnet {} is too small to allocate from", path, r.subnet.str()),
        bits == 32 ? "an IPv4 subnet needs /30 or shorter" : "an IPv6 subnet needs /126 or shorter");
  const auto first = r.subnet.first();

  PODNET_TRY(auto gateway, optAddress(doc, "gateway", path));
  r.gateway = gateway.value_or(first.plus(1));
  PODNET_CHECK(inSubnet(r.gateway, r.subnet, "gateway", path));

  PODNET_TRY(auto start, optAddress(doc, "rangeStart", path));
  r.start = start.value_or(first.plus(1));
  PODNET_CHECK(inSubnet(r.start, r.subnet, "rangeStart", path));

  PODNET_TRY(auto end, optAddress(doc, "rangeEnd", path));
  r.end =
      end.value_or(r.subnet.addr.isV4() ? ip::Address::fromInt(ip::Family::kV4, r.subnet.last().toInt() - 1)
                                        : r.subnet.last());
  PODNET_CHECK(inSubnet(r.end, r.subnet, "rangeEnd", path));
  if (r.end < r.start)
    return configError(
        fmt::format("{}.rangeStart {} is after {}.rangeEnd {}", path, r.start.str(), path, r.end.str()));
  return r;
}

bool overlaps(const Range& a, const Range& b) {
  return a.start.family() == b.start.family() && a.start <= b.end && b.start <= a.end;
}

Result<RangeSet> parseRangeSet(const json& doc, const std::string& path) {
  if (!doc.is_array()) return configError(fmt::format("{} must be a list of ranges", path), doc.dump());
  if (doc.empty()) return configError(fmt::format("{} is an empty range set", path));
  RangeSet set;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto at = fmt::format("{}[{}]", path, i);
    PODNET_TRY(Range r, parseRange(doc[i], at));
    if (!set.empty() && r.start.family() != set.front().start.family())
      return configError(fmt::format("{}.subnet {} mixes address families with {}[0].subnet {}", at,
                                     r.subnet.str(), path, set.front().subnet.str()),
                         "one range set holds one family; use a second range set for dual-stack");
    for (std::size_t j = 0; j < set.size(); ++j) {
      if (overlaps(set[j], r))
        return configError(fmt::format("{} overlaps {}[{}]: {} and {}", at, path, j, r.str(), set[j].str()));
    }
    set.push_back(std::move(r));
  }
  return set;
}

Result<std::vector<cni::Route>> parseRoutes(const json& ipam) {
  std::vector<cni::Route> routes;
  const json* list = cni::findKey(ipam, "routes");
  if (list == nullptr || list->is_null()) return routes;
  if (!list->is_array()) return configError("ipam.routes must be a list", list->dump());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto path = fmt::format("ipam.routes[{}]", i);
    const json& e = (*list)[i];
    if (!e.is_object()) return configError(fmt::format("{} must be an object", path), e.dump());
    PODNET_TRY(auto dst, optString(e, "dst", path));
    if (!dst) return configError(fmt::format("{}.dst is required", path));
    auto prefix = ip::Prefix::parse(*dst);
    if (!prefix) return configError(fmt::format("{}.dst \"{}\" is not a CIDR", path, dst->substr(0, 64)));
    cni::Route route{.dst = *prefix};
    PODNET_TRY(route.gw, optAddress(e, "gw", path));
    if (route.gw && route.gw->family() != prefix->family())
      return configError(
          fmt::format("{}.gw {} is not of the family of dst {}", path, route.gw->str(), prefix->str()));
    routes.push_back(std::move(route));
  }
  return routes;
}

}  // namespace

Result<std::string> parseStoreDir(const cni::NetConf& conf) {
  PODNET_CHECK(cni::validateNetworkName(conf.name));
  if (!conf.ipam.is_object()) return configError("ipam must be an object");
  PODNET_TRY(auto dataDir, optString(conf.ipam, "dataDir", "ipam"));
  std::string base = dataDir && !dataDir->empty() ? *dataDir : std::string(kDefaultDataDir);
  if (base.front() != '/')
    return configError(fmt::format("ipam.dataDir \"{}\" must be an absolute path", base));
  // The kernel would see the path only up to its first NUL.
  if (base.find('\0') != std::string::npos) return configError("ipam.dataDir contains a NUL character");
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return (base == "/" ? "" : base) + "/" + conf.name;
}

Result<Config> parseConfig(const cni::NetConf& conf) {
  Config out;
  out.network = conf.name;
  PODNET_TRY(out.storeDir, parseStoreDir(conf));
  const json& ipam = conf.ipam;

  std::vector<std::string> labels;  // names of out.rangeSets, for overlap messages
  if (const json* ranges = cni::findKey(conf.runtimeConfig, "ipRanges");
      ranges != nullptr && !ranges->is_null()) {
    if (!ranges->is_array()) return configError("runtimeConfig.ipRanges must be a list of range sets");
    for (std::size_t i = 0; i < ranges->size(); ++i) {
      labels.push_back(fmt::format("runtimeConfig.ipRanges[{}]", i));
      PODNET_TRY(RangeSet set, parseRangeSet((*ranges)[i], labels.back()));
      out.rangeSets.push_back(std::move(set));
    }
  }
  if (const json* subnet = cni::findKey(ipam, "subnet"); subnet != nullptr && !subnet->is_null()) {
    labels.push_back("ipam");
    PODNET_TRY(Range legacy, parseRange(ipam, "ipam"));
    out.rangeSets.push_back({std::move(legacy)});
  } else {
    for (const char* key : {"rangeStart", "rangeEnd", "gateway"}) {
      if (const json* v = cni::findKey(ipam, key); v != nullptr && !v->is_null())
        return configError(fmt::format("ipam.{} is set but ipam.subnet is missing", key));
    }
  }
  if (const json* ranges = cni::findKey(ipam, "ranges"); ranges != nullptr && !ranges->is_null()) {
    if (!ranges->is_array()) return configError("ipam.ranges must be a list of range sets", ranges->dump());
    for (std::size_t i = 0; i < ranges->size(); ++i) {
      labels.push_back(fmt::format("ipam.ranges[{}]", i));
      PODNET_TRY(RangeSet set, parseRangeSet((*ranges)[i], labels.back()));
      out.rangeSets.push_back(std::move(set));
    }
  }
  if (out.rangeSets.empty())
    return configError("ipam: no IP ranges specified", "set ipam.ranges or ipam.subnet");

  for (std::size_t i = 0; i < out.rangeSets.size(); ++i) {
    for (std::size_t j = i + 1; j < out.rangeSets.size(); ++j) {
      for (const auto& a : out.rangeSets[i]) {
        for (const auto& b : out.rangeSets[j]) {
          if (overlaps(a, b))
            return configError(
                fmt::format("{} overlaps {}: {} and {}", labels[j], labels[i], b.str(), a.str()));
        }
      }
    }
  }

  PODNET_TRY(out.routes, parseRoutes(ipam));
  PODNET_TRY(auto resolv, optString(ipam, "resolvConf", "ipam"));
  out.resolvConf = resolv.value_or("");
  if (const json* sync = cni::findKey(ipam, "syncLeases"); sync != nullptr && !sync->is_null()) {
    if (!sync->is_boolean()) return configError("ipam.syncLeases must be true or false", sync->dump());
    out.syncLeases = sync->get<bool>();
  }
  return out;
}

Result<std::vector<ip::Address>> requestedAddresses(const cni::NetConf& conf, const cni::CniArgs& args) {
  std::vector<ip::Address> out;
  auto add = [&](std::string_view text, const std::string& field) -> Status {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    const auto slash = text.find('/');
    auto a = ip::Address::parse(text.substr(0, slash));
    if (!a || (slash != std::string_view::npos && !ip::Prefix::parse(text)))
      return configError(fmt::format("{} \"{}\" is not an IP address", field, text.substr(0, 64)));
    const auto c = canonical(*a);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    return {};
  };
  if (auto ipArg = args.get("IP")) {
    std::string_view rest = *ipArg;
    while (true) {
      const auto comma = rest.find(',');
      PODNET_CHECK(add(rest.substr(0, comma), "CNI_ARGS IP"));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  auto addList = [&](const json* list, const std::string& field) -> Status {
    if (list == nullptr || list->is_null()) return {};
    if (!list->is_array()) return configError(fmt::format("{} must be a list", field), list->dump());
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto at = fmt::format("{}[{}]", field, i);
      if (!(*list)[i].is_string()) return configError(fmt::format("{} must be a string", at));
      PODNET_CHECK(add((*list)[i].get<std::string>(), at));
    }
    return {};
  };
  if (const json* cniArgs = cni::findKey(conf.args, "cni"))
    PODNET_CHECK(addList(cni::findKey(*cniArgs, "ips"), "args.cni.ips"));
  PODNET_CHECK(addList(cni::findKey(conf.runtimeConfig, "ips"), "runtimeConfig.ips"));
  return out;
}

}  // namespace podnet::ipam
