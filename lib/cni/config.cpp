#include "podnet/cni/config.hpp"

#include <fmt/format.h>

#include "podnet/cni/args.hpp"
#include "podnet/cni/version.hpp"

namespace podnet::cni {

using nlohmann::json;

const json* findKey(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(key); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (keyEquals(it.key(), key)) return &*it;
  }
  return nullptr;
}

namespace {

Error configError(std::string msg, std::string details = {}) {
  return fail(code::kInvalidConfig, std::move(msg), std::move(details));
}

Result<json> objectField(const json& doc, const char* key) {
  const json* v = findKey(doc, key);
  if (v == nullptr || v->is_null()) return json::object();
  if (!v->is_object()) return configError(fmt::format("\"{}\" must be an object", key), v->dump());
  return *v;
}

Result<std::string> stringField(const json& doc, const char* key) {
  const json* v = findKey(doc, key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return configError(fmt::format("\"{}\" must be a string", key), v->dump());
  return v->get<std::string>();
}

}  // namespace

Result<NetConf> parseNetConf(std::string_view text, Command command) {
  NetConf conf;
  conf.raw = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (conf.raw.is_discarded())
    return fail(code::kDecode, "error parsing configuration",
                text.empty() ? "stdin is empty" : "stdin is not valid JSON");
  if (!conf.raw.is_object()) return fail(code::kDecode, "error parsing configuration", "not a JSON object");

  PODNET_TRY(conf.cniVersion, stringField(conf.raw, "cniVersion"));
  if (command == Command::kVersion) return conf;
  if (!isSupported(conf.cniVersion))
    return fail(
        code::kIncompatibleVersion, "incompatible CNI versions",
        fmt::format("config is \"{}\", plugin supports [0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]", conf.cniVersion));

  PODNET_TRY(conf.name, stringField(conf.raw, "name"));
  PODNET_CHECK(validateNetworkName(conf.name));
  PODNET_TRY(conf.type, stringField(conf.raw, "type"));
  if (conf.type.empty()) return configError("\"type\" is missing");
  PODNET_TRY(conf.ipam, objectField(conf.raw, "ipam"));
  PODNET_TRY(conf.runtimeConfig, objectField(conf.raw, "runtimeConfig"));
  PODNET_TRY(conf.args, objectField(conf.raw, "args"));
  if (const json* dns = findKey(conf.raw, "dns")) {
    auto parsed = dnsFromJson(*dns);
    if (!parsed) return configError("invalid \"dns\"", parsed.error().msg);
    conf.dns = std::move(parsed).value();
  }
  if (const json* prev = findKey(conf.raw, "prevResult"); prev != nullptr && !prev->is_null()) {
    auto parsed = resultFromJson(*prev);
    if (!parsed)
      return fail(parsed.error().code, "invalid prevResult",
                  parsed.error().msg + (parsed.error().details.empty() ? "" : ": " + parsed.error().details));
    conf.prevResult = std::move(parsed).value();
  }
  return conf;
}

}  // namespace podnet::cni
