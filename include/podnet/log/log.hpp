#pragma once
// Structured logs: one JSON object a line, to a file named in the config or
// to stderr. Never stdout: a CNI plugin's stdout is its Result.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace podnet::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Sends logs to `path` (appending; created 0600) or, when empty, to stderr at
// `level` and above. Without a call, only errors go to stderr.
void configure(const std::string& path, Level level);
Level parseLevel(std::string_view text);  // unknown text: kInfo
// Fields merged into every line (e.g. plugin, command, containerID).
void setContext(const nlohmann::json& fields);

// True when a message at `level` would be written: guard calls whose fields
// cost something to build.
bool enabled(Level level);

void write(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());
inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kError, m, f);
}

}  // namespace podnet::log
