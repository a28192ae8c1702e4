// The network configuration a runtime writes on stdin: parseNetConf for every
// verb, then what the plugins read from a parsed config (prevResult, dns, the
// GC attachment list).

#include <array>
#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "podnet/cni/config.hpp"
#include "podnet/cni/env.hpp"
#include "podnet/cni/plugin.hpp"
#include "podnet/cni/version.hpp"

namespace podnet::fuzz {
namespace {

using nlohmann::json;

constexpr std::array kCommands = {cni::Command::kAdd, cni::Command::kDel, cni::Command::kCheck,
                                  cni::Command::kGc, cni::Command::kStatus};

void checkParsed(const cni::NetConf& conf) {
  PODNET_FUZZ_CHECK(cni::isSupported(conf.cniVersion));
  PODNET_FUZZ_CHECK(cni::validateNetworkName(conf.name).ok());
  PODNET_FUZZ_CHECK(!conf.type.empty());
  PODNET_FUZZ_CHECK(conf.ipam.is_object() && conf.runtimeConfig.is_object() && conf.args.is_object());
  PODNET_FUZZ_CHECK(conf.raw.is_object());

  // DNS as a plugin passes it on.
  auto dns = cni::dnsFromJson(cni::toJson(conf.dns));
  PODNET_FUZZ_CHECK(dns.ok() && *dns == conf.dns);

  // A prevResult is re-emitted in the config's version by chained plugins.
  if (conf.prevResult) {
    const auto emitted = cni::toJson(*conf.prevResult, conf.cniVersion);
    auto back = cni::resultFromJson(json::parse(emitted.dump(), nullptr, false));
    PODNET_FUZZ_CHECK(back.ok());
    PODNET_FUZZ_CHECK(back->cniVersion == conf.cniVersion);
    PODNET_FUZZ_CHECK(back->ips == conf.prevResult->ips);
    PODNET_FUZZ_CHECK(back->dns == conf.prevResult->dns);
    PODNET_FUZZ_CHECK(back->interfaces.size() == conf.prevResult->interfaces.size());
  }

  // GC's attachment list.
  auto attachments = cni::validAttachments(conf);
  if (!attachments) checkError(attachments.error(), {code::kInvalidConfig});
}

}  // namespace
}  // namespace podnet::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  const auto text = fuzz::asText(data, size);

  auto version = cni::parseNetConf(text, cni::Command::kVersion);
  if (!version) fuzz::checkError(version.error(), {code::kDecode, code::kInvalidConfig});

  std::optional<Error> first;
  for (const auto command : fuzz::kCommands) {
    auto conf = cni::parseNetConf(text, command);
    // Only VERSION reads less: every other verb accepts the same configs.
    if (command == fuzz::kCommands.front()) {
      if (!conf) first = conf.error();
    } else {
      PODNET_FUZZ_CHECK(conf.ok() == !first.has_value());
      if (!conf) PODNET_FUZZ_CHECK(conf.error() == *first);
    }
    if (!conf) {
      fuzz::checkError(conf.error(), {code::kDecode, code::kIncompatibleVersion, code::kInvalidConfig});
      continue;
    }
    PODNET_FUZZ_CHECK(version.ok());
    PODNET_FUZZ_CHECK(version->cniVersion == conf->cniVersion);
    if (command == fuzz::kCommands.front()) fuzz::checkParsed(*conf);
  }
  return 0;
}
