#pragma once
// The CNI success Result, one model for every supported version, with the
// exact JSON of each (0.3.x/0.4.0 carry the IP "version" field, 1.x do not;
// 1.1.0 adds interface mtu and route mtu/advmss/priority/table/scope).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"

namespace podnet::cni {

struct Interface {
  std::string name;
  std::string mac;
  std::string sandbox;  // empty for host interfaces
  std::optional<int> mtu;
  bool operator==(const Interface&) const = default;
};

struct IpConfig {
  ip::Prefix address;  // host bits kept: "10.1.0.5/24"
  std::optional<ip::Address> gateway;
  std::optional<int> interface;  // index into Result.interfaces
  bool operator==(const IpConfig&) const = default;
};

struct Route {
  ip::Prefix dst;
  std::optional<ip::Address> gw;
  std::optional<int> mtu, advmss, priority, table, scope;  // 1.1.0 only
  bool operator==(const Route&) const = default;
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
  bool operator==(const Dns&) const = default;
};

struct CniResult {
  std::string cniVersion;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  bool operator==(const CniResult&) const = default;
};

// Emits the Result in `version` (one of kSupportedVersions).
nlohmann::json toJson(const CniResult& result, std::string_view version);
// Parses a Result of any supported version (e.g. a prevResult or a delegated
// IPAM plugin's answer). Code 6 on malformed input, 1 on unknown version.
Result<CniResult> resultFromJson(const nlohmann::json& doc);

Result<Dns> dnsFromJson(const nlohmann::json& doc);
nlohmann::json toJson(const Dns& dns);

// The error JSON: {cniVersion, code, msg, details}.
nlohmann::json errorJson(const Error& error, std::string_view version);

}  // namespace podnet::cni
