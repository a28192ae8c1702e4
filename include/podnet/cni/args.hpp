#pragma once
// CNI_ARGS: "K=V;K2=V2", in any order.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podnet/error/result.hpp"

namespace podnet::cni {

struct CniArgs {
  std::vector<std::pair<std::string, std::string>> pairs;

  // Keys match case-insensitively, as the reference LoadArgs does.
  std::optional<std::string> get(std::string_view key) const;
  bool ignoreUnknown() const;
};

// ASCII case-insensitive equality, as Go's JSON and CNI_ARGS key matching.
bool keyEquals(std::string_view a, std::string_view b);

// Error code 4 on a pair without '='.
Result<CniArgs> parseCniArgs(std::string_view text);

}  // namespace podnet::cni
