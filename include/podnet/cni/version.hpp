#pragma once
// CNI specification versions this implementation speaks.

#include <array>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace podnet::cni {

inline constexpr std::array<std::string_view, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                                                       "1.1.0"};
inline constexpr std::string_view kLatestVersion = "1.1.0";

bool isSupported(std::string_view version);
// Orders "major.minor.patch" strings; nullopt when either is not of that form.
std::optional<int> compareVersions(std::string_view a, std::string_view b);
// True when `version` is well-formed and at least `minimum`.
bool atLeast(std::string_view version, std::string_view minimum);
// The VERSION verb's answer.
nlohmann::json versionInfo(std::string_view cniVersion);

}  // namespace podnet::cni
