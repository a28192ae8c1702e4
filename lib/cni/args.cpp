#include "podnet/cni/args.hpp"

#include <fmt/format.h>
#include <strings.h>

namespace podnet::cni {

bool keyEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> CniArgs::get(std::string_view key) const {
  for (const auto& [k, v] : pairs) {
    if (keyEquals(k, key)) return v;
  }
  return std::nullopt;
}

bool CniArgs::ignoreUnknown() const {
  const auto v = get("IgnoreUnknown");
  return v && (*v == "1" || strcasecmp(v->c_str(), "true") == 0);
}

Result<CniArgs> parseCniArgs(std::string_view text) {
  CniArgs out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const auto pair = text.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0)
        return fail(code::kInvalidEnvironment, "invalid CNI_ARGS pair",
                    fmt::format("\"{}\" is not KEY=VALUE", pair.substr(0, 64)));
      out.pairs.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace podnet::cni
