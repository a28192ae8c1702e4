#include "subnet_lease.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>

namespace podnet::daemon {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Error invalid(const std::string& msg) { return fail(code::kInvalidConfig, msg); }

}  // namespace

namespace etcd {

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += kAlphabet[n >> 6 & 63];
    out += kAlphabet[n & 63];
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += rest == 2 ? kAlphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> v{};
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      // Padding only at the very end, and nothing after it.
      if (pad > 0) return std::nullopt;
      v[k] = base64Value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const auto n = static_cast<unsigned>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out += static_cast<char>(n >> 16 & 0xff);
    if (pad < 2) out += static_cast<char>(n >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

}  // namespace etcd

std::string prefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = end.back();
    if (static_cast<unsigned char>(c) < 0xff) {
      c = static_cast<char>(static_cast<unsigned char>(c) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string subnetKey(std::string_view prefix, const ip::Prefix& subnet) {
  return std::string(prefix) + subnet.addr.str() + "-" + std::to_string(subnet.len);
}

std::optional<ip::Prefix> parseSubnetKey(std::string_view prefix, std::string_view key) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string text(key.substr(prefix.size()));
  const auto dash = text.rfind('-');
  if (dash == std::string::npos) return std::nullopt;
  text[dash] = '/';
  auto p = ip::Prefix::parse(text);
  if (!p || p->network() != *p) return std::nullopt;
  return p;
}

std::string encodeLeaseValue(const Node& node) {
  nlohmann::ordered_json j;
  j["name"] = node.name;
  j["addresses"] = nlohmann::ordered_json::array();
  for (const auto& a : node.addresses) j["addresses"].push_back(a.str());
  j["podCIDRs"] = nlohmann::ordered_json::array();
  for (const auto& c : node.podCidrs) j["podCIDRs"].push_back(c.str());
  return j.dump();
}

Result<Node> decodeLeaseValue(std::string_view value) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(value);
  } catch (const nlohmann::json::exception& e) {
    return fail(code::kDecode, "lease value is not JSON", e.what());
  }
  if (!j.is_object()) return invalid("lease value must be an object");
  Node node;
  const auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty())
    return invalid("lease value: name must be a non-empty string");
  node.name = name->get<std::string>();
  for (const char* key : {"addresses", "podCIDRs"}) {
    const auto list = j.find(key);
    if (list == j.end()) continue;
    if (!list->is_array()) return invalid(std::string("lease value: ") + key + " must be a list of strings");
    for (const auto& item : *list) {
      if (!item.is_string())
        return invalid(std::string("lease value: ") + key + " must be a list of strings");
      const auto text = item.get<std::string>();
      if (std::string_view(key) == "addresses") {
        const auto a = ip::Address::parse(text);
        if (!a) return invalid("lease value: " + text + " is not an IP address");
        node.addresses.push_back(*a);
      } else {
        const auto p = ip::Prefix::parse(text);
        if (!p) return invalid("lease value: " + text + " is not a CIDR");
        if (p->network() != *p) return invalid("lease value: " + text + " has host bits set");
        node.podCidrs.push_back(*p);
      }
    }
  }
  return node;
}

std::vector<ip::Prefix> freeSubnets(const ip::Prefix& cidr, int len, const std::vector<ip::Prefix>& used,
                                    std::size_t limit) {
  std::vector<ip::Prefix> out;
  const int bits = cidr.addr.bits();
  if (len < cidr.len || len > bits || limit == 0) return out;
  // The used ranges of this family as disjoint [first, last] intervals.
  std::vector<std::pair<ip::U128, ip::U128>> taken;
  for (const auto& p : used) {
    if (p.family() == cidr.family()) taken.emplace_back(p.first().toInt(), p.last().toInt());
  }
  std::sort(taken.begin(), taken.end());
  std::vector<std::pair<ip::U128, ip::U128>> merged;
  for (const auto& t : taken) {
    if (!merged.empty() && t.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, t.second);
    } else {
      merged.push_back(t);
    }
  }
  const ip::U128 base = cidr.first().toInt();
  const ip::U128 step = bits - len >= 128 ? 0 : ip::U128{1} << (bits - len);
  const int spread = len - cidr.len;
  const ip::U128 count = spread >= 127 ? ip::U128{1} << 127 : ip::U128{1} << spread;
  if (step == 0) return out;
  std::size_t u = 0;
  for (ip::U128 i = 0; i < count && out.size() < limit;) {
    const ip::U128 first = base + i * step;
    const ip::U128 last = first + (step - 1);
    while (u < merged.size() && merged[u].second < first) ++u;
    if (u < merged.size() && merged[u].first <= last) {
      // Skip every candidate this used range covers.
      i = std::max(i + 1, (merged[u].second - base) / step + 1);
      continue;
    }
    out.push_back(ip::Prefix{.addr = ip::Address::fromInt(cidr.family(), first), .len = len});
    ++i;
  }
  return out;
}

Result<LeaseSpec> makeLeaseSpec(const std::string& nodeName, const std::vector<std::string>& addresses,
                                const std::vector<std::string>& clusterCidrs, int subnetLenV4,
                                int subnetLenV6) {
  LeaseSpec spec{.nodeName = nodeName, .subnetLenV4 = subnetLenV4, .subnetLenV6 = subnetLenV6};
  if (nodeName.empty()) return invalid("--node-name must not be empty with --source etcd");
  if (addresses.empty())
    return invalid(
        "--node-address is required with --source etcd: the underlay address(es) other nodes route to");
  for (const auto& text : addresses) {
    const auto a = ip::Address::parse(text);
    if (!a) return invalid("--node-address " + text + " is not an IP address");
    spec.addresses.push_back(*a);
  }
  if (clusterCidrs.empty())
    return invalid("--cluster-cidr is required with --source etcd: the CIDR(s) node subnets are leased from");
  for (const auto& text : clusterCidrs) {
    const auto p = ip::Prefix::parse(text);
    if (!p) return invalid("--cluster-cidr " + text + " is not a CIDR");
    if (p->network() != *p) return invalid("--cluster-cidr " + text + " has host bits set");
    for (const auto& other : spec.clusterCidrs) {
      if (other.family() == p->family())
        return invalid("--cluster-cidr: one CIDR per family (" + other.str() + " and " + text + ")");
    }
    const int len = spec.subnetLen(*p);
    if (len < p->len || len > p->addr.bits()) {
      return invalid(std::string(p->addr.isV4() ? "--subnet-len-v4 " : "--subnet-len-v6 ") +
                     std::to_string(len) + " does not fit --cluster-cidr " + text);
    }
    spec.clusterCidrs.push_back(*p);
  }
  return spec;
}

std::vector<Node> mergeLeases(const std::vector<Node>& leases) {
  std::map<std::string, Node> byName;
  for (const auto& lease : leases) {
    auto [it, added] = byName.try_emplace(lease.name, Node{.name = lease.name, .addresses = lease.addresses});
    auto& cidrs = it->second.podCidrs;
    for (const auto& c : lease.podCidrs) {
      if (std::find(cidrs.begin(), cidrs.end(), c) == cidrs.end()) cidrs.push_back(c);
    }
  }
  std::vector<Node> nodes;
  nodes.reserve(byName.size());
  for (auto& [name, node] : byName) {
    std::sort(node.podCidrs.begin(), node.podCidrs.end());
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace podnet::daemon
