#pragma once
// One reconcile pass: routesFor, dump, diff, apply.

#include <string_view>
#include <vector>

#include "kernel.hpp"
#include "node.hpp"
#include "routes.hpp"

namespace podnet::daemon {

struct ReconcileReport {
  RoutePlan plan;
  std::vector<netlink::Route> programmed;  // wanted routes now in the kernel
  std::vector<netlink::Route> blocked;
  std::size_t replaced = 0;
  std::size_t removed = 0;
  std::vector<Error> errors;  // failed changes; the others were still applied
};

// Fails only when the kernel cannot be read; a change that fails is recorded
// in `errors` and the pass goes on with the rest.
Result<ReconcileReport> reconcile(RouteKernel& kernel, const std::vector<Node>& nodes, std::string_view self);

}  // namespace podnet::daemon
