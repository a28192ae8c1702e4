// CNI_ARGS: parseCniArgs on any bytes (the runtime's environment is not
// checked for UTF-8), the lookups, and the IPAM's IP= reader on top.

#include <strings.h>

#include "fuzz_check.hpp"
#include "podnet/cni/args.hpp"
#include "podnet/cni/config.hpp"
#include "podnet/ipam/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  const auto text = fuzz::asText(data, size);
  auto args = cni::parseCniArgs(text);
  if (!args) {
    fuzz::checkError(args.error(), {code::kInvalidEnvironment});
    return 0;
  }
  std::string joined;
  for (const auto& [key, value] : args->pairs) {
    PODNET_FUZZ_CHECK(!key.empty());
    PODNET_FUZZ_CHECK(key.find_first_of("=;") == std::string::npos);
    PODNET_FUZZ_CHECK(value.find(';') == std::string::npos);
    // get() answers the first pair whose key matches case-insensitively.
    std::string upper = key;
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    const auto got = args->get(upper);
    PODNET_FUZZ_CHECK(got.has_value());
    for (const auto& [k, v] : args->pairs) {
      if (cni::keyEquals(k, key)) {
        PODNET_FUZZ_CHECK(*got == v);
        break;
      }
    }
    if (!joined.empty()) joined += ';';
    joined += key + "=" + value;
  }
  // Empty pairs aside, the text is the pairs joined: parsing that again is the identity.
  auto again = cni::parseCniArgs(joined);
  PODNET_FUZZ_CHECK(again.ok() && again->pairs == args->pairs);

  const auto ignore = args->get("IgnoreUnknown");
  PODNET_FUZZ_CHECK(args->ignoreUnknown() ==
                    (ignore && (*ignore == "1" || strcasecmp(ignore->c_str(), "true") == 0)));

  // IP= as the IPAM plugin reads it (config lists empty).
  cni::NetConf conf;
  conf.name = "fuzz";
  auto requested = ipam::requestedAddresses(conf, *args);
  if (!requested) {
    fuzz::checkError(requested.error(), {code::kInvalidConfig});
    return 0;
  }
  for (std::size_t i = 0; i < requested->size(); ++i) {
    for (std::size_t j = i + 1; j < requested->size(); ++j)
      PODNET_FUZZ_CHECK((*requested)[i] != (*requested)[j]);
  }
  return 0;
}
