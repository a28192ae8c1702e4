#pragma once
// Delegation: exec another CNI plugin (usually IPAM) found in CNI_PATH with
// the same environment and stdin, as the reference invoke package does.

#include <string>
#include <string_view>

#include "podnet/cni/env.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/error/result.hpp"

namespace podnet::cni {

// Returns the executable path of `type` in CNI_PATH; code 7 when `type` is
// not a plain name or is absent ("failed to find plugin").
Result<std::string> findPlugin(const Env& env, std::string_view type);

// Runs the plugin for `command` and returns its stdout. A non-zero exit whose
// stdout is error JSON is passed through unchanged as that Error.
Result<std::string> execPlugin(const Env& env, std::string_view type, Command command,
                               std::string_view stdinData);

Result<CniResult> delegateAdd(const Env& env, std::string_view type, std::string_view stdinData);
Status delegateRun(const Env& env, std::string_view type, Command command, std::string_view stdinData);

}  // namespace podnet::cni
