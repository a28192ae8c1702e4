// The daemon's cluster file: parseCluster on any bytes; what it accepts must
// be safe to turn into routes (unique names, network prefixes, no two pod
// CIDRs that overlap).

#include <set>

#include "cluster_file.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  auto nodes = daemon::parseCluster(podnet::fuzz::asText(data, size));
  if (!nodes) {
    // The daemon only logs these (with invalid UTF-8 replaced): codes only.
    const int c = nodes.error().code;
    PODNET_FUZZ_CHECK(c == code::kDecode || c == code::kInvalidConfig);
    return 0;
  }
  std::set<std::string> names;
  std::vector<ip::Prefix> cidrs;
  for (const auto& node : *nodes) {
    PODNET_FUZZ_CHECK(!node.name.empty());
    PODNET_FUZZ_CHECK(names.insert(node.name).second);
    for (const auto& c : node.podCidrs) {
      PODNET_FUZZ_CHECK(c == c.network());
      cidrs.push_back(c);
    }
  }
  for (std::size_t i = 0; i < cidrs.size(); ++i) {
    for (std::size_t j = i + 1; j < cidrs.size(); ++j) PODNET_FUZZ_CHECK(!cidrs[i].overlaps(cidrs[j]));
  }
  return 0;
}
