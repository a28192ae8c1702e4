#pragma once
// The network configuration a runtime writes on stdin.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "podnet/cni/env.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/error/result.hpp"

namespace podnet::cni {

struct NetConf {
  std::string cniVersion;
  std::string name;
  std::string type;
  nlohmann::json ipam = nlohmann::json::object();           // {} when absent
  nlohmann::json runtimeConfig = nlohmann::json::object();  // {} when absent
  nlohmann::json args = nlohmann::json::object();           // {} when absent
  Dns dns;
  std::optional<CniResult> prevResult;
  nlohmann::json raw;  // the whole document: plugin-specific keys, delegation
};

// Decodes and validates: code 6 for malformed JSON, 1 for an unsupported
// cniVersion, 7 for missing/invalid name or type or a hostile network name.
// VERSION only needs cniVersion (and tolerates none).
Result<NetConf> parseNetConf(std::string_view text, Command command);

// Looks up `key` in a JSON object the way Go's encoding/json does: an exact
// match first, else the first case-insensitive one. nullptr when absent.
const nlohmann::json* findKey(const nlohmann::json& object, std::string_view key);

}  // namespace podnet::cni
