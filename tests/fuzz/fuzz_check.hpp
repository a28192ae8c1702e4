#pragma once
// Shared by the fuzz targets: invariant checks that abort (a crash libFuzzer
// records and the corpus replay reports), and the input conventions.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/cni/result.hpp"
#include "podnet/cni/version.hpp"
#include "podnet/error/result.hpp"

// Aborts with the failed condition: an invariant of the code under test broke.
#define PODNET_FUZZ_CHECK(cond)                                       \
  do {                                                                \
    if (!(cond)) ::podnet::fuzz::violated(__FILE__, __LINE__, #cond); \
  } while (0)

namespace podnet::fuzz {

[[noreturn]] inline void violated(const char* file, int line, const char* what,
                                  std::string_view detail = {}) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s %.*s\n", file, line, what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Inputs with several parts separate them with this line (seed files stay
// readable text); missing parts are empty.
inline constexpr std::string_view kPartSeparator = "\n----\n";

inline std::vector<std::string_view> splitParts(std::string_view text, std::size_t count) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < count) {
    const auto at = text.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(text);
  parts.resize(count);
  return parts;
}

// An Error the plugin prints must have one of the expected codes and become
// the CNI error JSON (runPlugin dumps it strictly: invalid UTF-8 in msg or
// details throws and turns the answer into code 999 "internal error").
inline void checkError(const Error& error, std::initializer_list<int> codes) {
  bool known = false;
  for (int c : codes) known = known || c == error.code;
  if (!known)
    violated(__FILE__, __LINE__, "unexpected error code", std::to_string(error.code) + ": " + error.msg);
  // PODNET_FUZZ_ALLOW_BAD_UTF8=1 looks past this one known class of bug.
  static const bool allowBadUtf8 = std::getenv("PODNET_FUZZ_ALLOW_BAD_UTF8") != nullptr;
  if (allowBadUtf8) return;
  try {
    (void)cni::errorJson(error, cni::kLatestVersion).dump(2);
  } catch (const std::exception& e) {
    violated(__FILE__, __LINE__, "error JSON cannot be printed", e.what());
  }
}

}  // namespace podnet::fuzz
