// The Result parser and converter: resultFromJson on any JSON, then toJson in
// every supported version and back, which must give the same Result but for
// the fields the older versions cannot carry.

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/cni/version.hpp"

namespace podnet::fuzz {
namespace {

using nlohmann::json;

// What `result` looks like after a trip through `version`.
cni::CniResult expectedIn(cni::CniResult result, std::string_view version) {
  result.cniVersion = std::string(version);
  if (!cni::atLeast(version, "1.1.0")) {
    for (auto& i : result.interfaces) i.mtu.reset();
    for (auto& r : result.routes) r.mtu = r.advmss = r.priority = r.table = r.scope = std::nullopt;
  }
  return result;
}

void roundTrip(const cni::CniResult& result) {
  for (const auto version : cni::kSupportedVersions) {
    const json emitted = cni::toJson(result, version);
    std::string text;
    try {
      text = emitted.dump();
    } catch (const std::exception& e) {
      violated(__FILE__, __LINE__, "toJson gave JSON that cannot be printed", e.what());
    }
    // The 0.x "version" field names the address family; 1.x has none.
    if (const auto ips = emitted.find("ips"); ips != emitted.end()) {
      for (std::size_t i = 0; i < ips->size(); ++i) {
        const auto& e = (*ips)[i];
        if (cni::atLeast(version, "1.0.0")) {
          PODNET_FUZZ_CHECK(!e.contains("version"));
        } else {
          PODNET_FUZZ_CHECK(e.at("version") == (result.ips[i].address.addr.isV4() ? "4" : "6"));
        }
      }
    }
    auto back = cni::resultFromJson(json::parse(text, nullptr, false));
    if (!back) violated(__FILE__, __LINE__, "emitted Result does not parse", back.error().msg + " " + text);
    PODNET_FUZZ_CHECK(*back == expectedIn(result, version));
    PODNET_FUZZ_CHECK(cni::toJson(*back, version) == emitted);
  }
  // The DNS block on its own, as parseNetConf reads it.
  auto dns = cni::dnsFromJson(cni::toJson(result.dns));
  PODNET_FUZZ_CHECK(dns.ok() && *dns == result.dns);
}

}  // namespace
}  // namespace podnet::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  const auto doc = nlohmann::json::parse(fuzz::asText(data, size), nullptr, false);
  if (doc.is_discarded()) return 0;
  auto result = cni::resultFromJson(doc);
  if (!result) {
    fuzz::checkError(result.error(), {code::kDecode, code::kIncompatibleVersion});
    return 0;
  }
  PODNET_FUZZ_CHECK(cni::isSupported(result->cniVersion));
  for (const auto& c : result->ips) {
    PODNET_FUZZ_CHECK(!c.gateway || c.gateway->family() == c.address.family());
    PODNET_FUZZ_CHECK(!c.interface || (*c.interface >= 0 &&
                                       static_cast<std::size_t>(*c.interface) < result->interfaces.size()));
  }
  fuzz::roundTrip(*result);
  return 0;
}
