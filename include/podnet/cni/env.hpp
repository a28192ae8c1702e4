#pragma once
// The CNI_* environment of one invocation, validated per verb.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"

namespace podnet::cni {

enum class Command { kAdd, kDel, kCheck, kVersion, kGc, kStatus };

std::optional<Command> parseCommand(std::string_view text);
std::string_view commandName(Command command);

struct Env {
  Command command = Command::kVersion;
  std::string containerId;
  std::string netns;
  std::string ifname;
  std::string args;  // raw CNI_ARGS
  std::string path;  // raw CNI_PATH

  std::vector<std::string> pathDirs() const;
};

// Returns the value of an environment variable, or nullptr when unset.
using Getenv = std::function<const char*(const char*)>;
Getenv processGetenv();

// Reads and validates the environment as the spec requires for the verb:
// ADD/CHECK need CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH; DEL needs
// the same but tolerates an empty CNI_NETNS; GC/STATUS need CNI_PATH only;
// VERSION needs nothing. Names are checked before anything is touched.
Result<Env> parseEnv(const Getenv& getenv);

// Name checks shared by every module that turns names into files or devices.
// Container IDs and network names: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 256.
Status validateContainerId(std::string_view id);
Status validateNetworkName(std::string_view name);
// Interface names: 1-15 bytes, no '/', ':', whitespace or control bytes, not "." or "..".
Status validateIfname(std::string_view name);

}  // namespace podnet::cni
