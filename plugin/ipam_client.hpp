#pragma once
// The plugin's IPAM: podnet-ipam in-process when ipam.type is "podnet-ipam"
// (no exec), else the plugin named by ipam.type, exec'd from CNI_PATH.

#include <string_view>

#include "podnet/cni/plugin.hpp"
#include "podnet/error/result.hpp"
#include "podnet/ipam/disk_store.hpp"

namespace podnet::plugin {

inline constexpr std::string_view kInProcessIpam = "podnet-ipam";

// In-process, the leases' fsyncs are left in `durable` (run it before the
// Result is handed out); an exec'd plugin syncs before it answers.
Result<cni::CniResult> ipamAdd(const cni::Request& request, std::string_view type,
                               ipam::PendingSync& durable);
// For CHECK, DEL and GC.
Status ipamRun(const cni::Request& request, std::string_view type, cni::Command command);

}  // namespace podnet::plugin
