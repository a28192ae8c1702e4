#include "podnet/cni/env.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace podnet::cni {
namespace {

constexpr std::size_t kMaxIdLength = 256;
constexpr std::size_t kMaxIfnameLength = 15;  // IFNAMSIZ - 1

bool isIdChar(char c, bool first) {
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

// Shows hostile input safely inside an error message.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > 64) out += "...";
  return out;
}

Status validateId(std::string_view what, std::string_view id, int errorCode) {
  if (id.empty()) return fail(errorCode, fmt::format("{} is empty", what));
  if (id.size() > kMaxIdLength)
    return fail(errorCode, fmt::format("{} is too long", what),
                fmt::format("{} bytes, at most {}", id.size(), kMaxIdLength));
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!isIdChar(id[i], i == 0))
      return fail(errorCode, fmt::format("invalid characters in {}", what),
                  fmt::format("\"{}\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", printable(id)));
  }
  return {};
}

}  // namespace

std::optional<Command> parseCommand(std::string_view text) {
  if (text == "ADD") return Command::kAdd;
  if (text == "DEL") return Command::kDel;
  if (text == "CHECK") return Command::kCheck;
  if (text == "VERSION") return Command::kVersion;
  if (text == "GC") return Command::kGc;
  if (text == "STATUS") return Command::kStatus;
  return std::nullopt;
}

std::string_view commandName(Command command) {
  switch (command) {
    case Command::kAdd: return "ADD";
    case Command::kDel: return "DEL";
    case Command::kCheck: return "CHECK";
    case Command::kVersion: return "VERSION";
    case Command::kGc: return "GC";
    case Command::kStatus: return "STATUS";
  }
  return "?";
}

std::vector<std::string> Env::pathDirs() const {
  std::vector<std::string> dirs;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto colon = path.find(':', start);
    const auto end = colon == std::string::npos ? path.size() : colon;
    if (end > start) dirs.push_back(path.substr(start, end - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return dirs;
}

Getenv processGetenv() {
  return [](const char* name) { return std::getenv(name); };
}

Status validateContainerId(std::string_view id) {
  return validateId("CNI_CONTAINERID", id, code::kInvalidEnvironment);
}

Status validateNetworkName(std::string_view name) {
  return validateId("network name", name, code::kInvalidConfig);
}

Status validateIfname(std::string_view name) {
  if (name.empty()) return fail(code::kInvalidEnvironment, "CNI_IFNAME is empty");
  if (name.size() > kMaxIfnameLength)
    return fail(
        code::kInvalidEnvironment, "CNI_IFNAME is too long",
        fmt::format("\"{}\" has {} bytes, at most {}", printable(name), name.size(), kMaxIfnameLength));
  if (name == "." || name == "..")
    return fail(code::kInvalidEnvironment, "invalid CNI_IFNAME", fmt::format("\"{}\" is not allowed", name));
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == ':')
      return fail(
          code::kInvalidEnvironment, "invalid characters in CNI_IFNAME",
          fmt::format("\"{}\" contains '/', ':', whitespace or a control character", printable(name)));
  }
  return {};
}

Result<Env> parseEnv(const Getenv& getenv) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  const auto commandText = get("CNI_COMMAND");
  if (!commandText || commandText->empty())
    return fail(code::kInvalidEnvironment, "required env variables [CNI_COMMAND] missing");
  const auto command = parseCommand(*commandText);
  if (!command)
    return fail(
        code::kInvalidEnvironment, "unknown CNI_COMMAND",
        fmt::format("\"{}\" is not one of ADD, DEL, CHECK, VERSION, GC, STATUS", printable(*commandText)));

  Env env;
  env.command = *command;
  env.containerId = get("CNI_CONTAINERID").value_or("");
  env.netns = get("CNI_NETNS").value_or("");
  env.ifname = get("CNI_IFNAME").value_or("");
  env.args = get("CNI_ARGS").value_or("");
  env.path = get("CNI_PATH").value_or("");
  if (env.command == Command::kVersion) return env;

  const bool attachment =
      env.command == Command::kAdd || env.command == Command::kDel || env.command == Command::kCheck;
  std::vector<std::string> missing;
  if (attachment && env.containerId.empty()) missing.emplace_back("CNI_CONTAINERID");
  // DEL tolerates an empty CNI_NETNS: the namespace may already be gone.
  if ((env.command == Command::kAdd || env.command == Command::kCheck) && env.netns.empty())
    missing.emplace_back("CNI_NETNS");
  if (attachment && env.ifname.empty()) missing.emplace_back("CNI_IFNAME");
  if (env.path.empty()) missing.emplace_back("CNI_PATH");
  if (!missing.empty())
    return fail(code::kInvalidEnvironment,
                fmt::format("required env variables [{}] missing", fmt::join(missing, ",")));
  if (attachment) {
    PODNET_CHECK(validateContainerId(env.containerId));
    PODNET_CHECK(validateIfname(env.ifname));
  }
  if (!env.netns.empty() && env.netns.find('\0') != std::string::npos)
    return fail(code::kInvalidEnvironment, "invalid CNI_NETNS");
  return env;
}

}  // namespace podnet::cni
