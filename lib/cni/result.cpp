#include "podnet/cni/result.hpp"

#include <fmt/format.h>

#include "podnet/cni/version.hpp"

namespace podnet::cni {
namespace {

using nlohmann::json;

bool is1x(std::string_view version) { return atLeast(version, "1.0.0"); }
bool is11(std::string_view version) { return atLeast(version, "1.1.0"); }

json strings(const std::vector<std::string>& v) { return json(v); }

Error decodeError(std::string_view what, std::string_view why) {
  return fail(code::kDecode, fmt::format("failed to decode result: {}", what), std::string(why));
}

Result<std::string> stringField(const json& obj, const char* key, bool required) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return decodeError(fmt::format("missing \"{}\"", key), "");
    return std::string();
  }
  if (!it->is_string()) return decodeError(fmt::format("\"{}\" is not a string", key), it->dump());
  return it->get<std::string>();
}

Result<std::optional<int>> intField(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer()) return decodeError(fmt::format("\"{}\" is not an integer", key), it->dump());
  return std::optional<int>(it->get<int>());
}

Result<std::vector<std::string>> stringList(const json& obj, const char* key) {
  std::vector<std::string> out;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return decodeError(fmt::format("\"{}\" is not a list", key), it->dump());
  for (const auto& e : *it) {
    if (!e.is_string()) return decodeError(fmt::format("\"{}\" holds a non-string", key), e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<ip::Prefix> prefixField(const json& obj, const char* key) {
  PODNET_TRY(auto text, stringField(obj, key, true));
  auto p = ip::Prefix::parse(text);
  if (!p) return decodeError(fmt::format("invalid CIDR in \"{}\"", key), text);
  return *p;
}

Result<std::optional<ip::Address>> addressField(const json& obj, const char* key) {
  PODNET_TRY(auto text, stringField(obj, key, false));
  if (text.empty()) return std::optional<ip::Address>();
  auto a = ip::Address::parse(text);
  if (!a) return decodeError(fmt::format("invalid IP in \"{}\"", key), text);
  return std::optional<ip::Address>(*a);
}

Result<Route> routeFromJson(const json& r) {
  if (!r.is_object()) return decodeError("route is not an object", r.dump());
  Route route;
  PODNET_TRY(route.dst, prefixField(r, "dst"));
  PODNET_TRY(route.gw, addressField(r, "gw"));
  PODNET_TRY(route.mtu, intField(r, "mtu"));
  PODNET_TRY(route.advmss, intField(r, "advmss"));
  PODNET_TRY(route.priority, intField(r, "priority"));
  PODNET_TRY(route.table, intField(r, "table"));
  PODNET_TRY(route.scope, intField(r, "scope"));
  return route;
}

json routeToJson(const Route& r, std::string_view version) {
  json j = {{"dst", r.dst.str()}};
  if (r.gw) j["gw"] = r.gw->str();
  if (is11(version)) {
    if (r.mtu) j["mtu"] = *r.mtu;
    if (r.advmss) j["advmss"] = *r.advmss;
    if (r.priority) j["priority"] = *r.priority;
    if (r.table) j["table"] = *r.table;
    if (r.scope) j["scope"] = *r.scope;
  }
  return j;
}

}  // namespace

json toJson(const Dns& dns) {
  json j = json::object();
  if (!dns.nameservers.empty()) j["nameservers"] = strings(dns.nameservers);
  if (!dns.domain.empty()) j["domain"] = dns.domain;
  if (!dns.search.empty()) j["search"] = strings(dns.search);
  if (!dns.options.empty()) j["options"] = strings(dns.options);
  return j;
}

Result<Dns> dnsFromJson(const json& doc) {
  Dns dns;
  if (doc.is_null()) return dns;
  if (!doc.is_object()) return decodeError("\"dns\" is not an object", doc.dump());
  PODNET_TRY(dns.nameservers, stringList(doc, "nameservers"));
  PODNET_TRY(dns.domain, stringField(doc, "domain", false));
  PODNET_TRY(dns.search, stringList(doc, "search"));
  PODNET_TRY(dns.options, stringList(doc, "options"));
  return dns;
}

json toJson(const CniResult& result, std::string_view version) {
  json j = {{"cniVersion", version}};
  if (!result.interfaces.empty()) {
    json list = json::array();
    for (const auto& i : result.interfaces) {
      json e = {{"name", i.name}};
      if (!i.mac.empty()) e["mac"] = i.mac;
      if (i.mtu && is11(version)) e["mtu"] = *i.mtu;
      if (!i.sandbox.empty()) e["sandbox"] = i.sandbox;
      list.push_back(std::move(e));
    }
    j["interfaces"] = std::move(list);
  }
  if (!result.ips.empty()) {
    json list = json::array();
    for (const auto& c : result.ips) {
      json e = json::object();
      if (!is1x(version)) e["version"] = c.address.addr.isV4() ? "4" : "6";
      if (c.interface) e["interface"] = *c.interface;
      e["address"] = c.address.str();
      if (c.gateway) e["gateway"] = c.gateway->str();
      list.push_back(std::move(e));
    }
    j["ips"] = std::move(list);
  }
  if (!result.routes.empty()) {
    json list = json::array();
    for (const auto& r : result.routes) list.push_back(routeToJson(r, version));
    j["routes"] = std::move(list);
  }
  j["dns"] = toJson(result.dns);
  return j;
}

Result<CniResult> resultFromJson(const json& doc) {
  if (!doc.is_object()) return decodeError("not a JSON object", doc.dump().substr(0, 128));
  CniResult result;
  PODNET_TRY(result.cniVersion, stringField(doc, "cniVersion", true));
  if (!isSupported(result.cniVersion))
    return fail(code::kIncompatibleVersion, "unsupported result version",
                fmt::format("\"{}\" is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0", result.cniVersion));

  if (auto it = doc.find("interfaces"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return decodeError("\"interfaces\" is not a list", it->dump());
    for (const auto& e : *it) {
      if (!e.is_object()) return decodeError("interface is not an object", e.dump());
      Interface iface;
      PODNET_TRY(iface.name, stringField(e, "name", true));
      PODNET_TRY(iface.mac, stringField(e, "mac", false));
      PODNET_TRY(iface.sandbox, stringField(e, "sandbox", false));
      PODNET_TRY(iface.mtu, intField(e, "mtu"));
      result.interfaces.push_back(std::move(iface));
    }
  }
  if (auto it = doc.find("ips"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return decodeError("\"ips\" is not a list", it->dump());
    for (const auto& e : *it) {
      if (!e.is_object()) return decodeError("ip is not an object", e.dump());
      IpConfig c;
      PODNET_TRY(c.address, prefixField(e, "address"));
      PODNET_TRY(c.gateway, addressField(e, "gateway"));
      PODNET_TRY(c.interface, intField(e, "interface"));
      if (c.gateway && c.gateway->family() != c.address.family())
        return decodeError("gateway family differs from address", e.dump());
      if (c.interface && (*c.interface < 0 || *c.interface >= static_cast<int>(result.interfaces.size())))
        return decodeError("ip names an interface that is not in the result", e.dump());
      result.ips.push_back(c);
    }
  }
  if (auto it = doc.find("routes"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return decodeError("\"routes\" is not a list", it->dump());
    for (const auto& e : *it) {
      PODNET_TRY(auto route, routeFromJson(e));
      result.routes.push_back(route);
    }
  }
  if (auto it = doc.find("dns"); it != doc.end()) {
    PODNET_TRY(result.dns, dnsFromJson(*it));
  }
  return result;
}

namespace {
// Messages quote hostile input (names, CNI_ARGS, cut-off JSON) that may not be
// UTF-8; JSON must be. Invalid bytes become U+FFFD.
std::string validUtf8(const std::string& text) {
  const auto quoted = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  return json::parse(quoted).get<std::string>();
}
}  // namespace

json errorJson(const Error& error, std::string_view version) {
  json j = {
      {"cniVersion", validUtf8(std::string(version))}, {"code", error.code}, {"msg", validUtf8(error.msg)}};
  if (!error.details.empty()) j["details"] = validUtf8(error.details);
  return j;
}

}  // namespace podnet::cni
