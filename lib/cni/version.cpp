#include "podnet/cni/version.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace podnet::cni {
namespace {

std::optional<std::array<int, 3>> parseSemver(std::string_view v) {
  std::array<int, 3> parts{};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto dot = v.find('.');
    const auto field = (i < 2) ? v.substr(0, dot) : v;
    if (field.empty() || (i < 2 && dot == std::string_view::npos)) return std::nullopt;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), parts[i]);
    if (ec != std::errc{} || ptr != field.data() + field.size() || parts[i] < 0) return std::nullopt;
    if (i < 2) v.remove_prefix(dot + 1);
  }
  return parts;
}

}  // namespace

bool isSupported(std::string_view version) {
  return std::find(kSupportedVersions.begin(), kSupportedVersions.end(), version) != kSupportedVersions.end();
}

std::optional<int> compareVersions(std::string_view a, std::string_view b) {
  const auto pa = parseSemver(a);
  const auto pb = parseSemver(b);
  if (!pa || !pb) return std::nullopt;
  if (*pa < *pb) return -1;
  if (*pb < *pa) return 1;
  return 0;
}

bool atLeast(std::string_view version, std::string_view minimum) {
  const auto c = compareVersions(version, minimum);
  return c && *c >= 0;
}

nlohmann::json versionInfo(std::string_view cniVersion) {
  auto versions = nlohmann::json::array();
  for (auto v : kSupportedVersions) versions.push_back(v);
  return {{"cniVersion", cniVersion}, {"supportedVersions", versions}};
}

}  // namespace podnet::cni
