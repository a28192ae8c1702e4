#include "ipam_client.hpp"

#include "podnet/cni/delegate.hpp"
#include "podnet/ipam/ipam.hpp"

namespace podnet::plugin {

Result<cni::CniResult> ipamAdd(const cni::Request& request, std::string_view type,
                               ipam::PendingSync& durable) {
  if (type == kInProcessIpam) return ipam::add(request, durable);
  return cni::delegateAdd(request.env, type, request.stdinData);
}

Status ipamRun(const cni::Request& request, std::string_view type, cni::Command command) {
  if (type == kInProcessIpam) {
    switch (command) {
      case cni::Command::kDel: return ipam::del(request);
      case cni::Command::kCheck: return ipam::check(request);
      case cni::Command::kGc: return ipam::gc(request);
      case cni::Command::kStatus: return ipam::status(request);
      default: return fail(code::kInternal, "unexpected IPAM command");
    }
  }
  return cni::delegateRun(request.env, type, command, request.stdinData);
}

}  // namespace podnet::plugin
