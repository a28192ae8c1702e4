#include "reconcile.hpp"

#include <algorithm>

namespace podnet::daemon {

Result<ReconcileReport> reconcile(RouteKernel& kernel, const std::vector<Node>& nodes,
                                  std::string_view self) {
  ReconcileReport report;
  PODNET_TRY(const auto connected, kernel.connected());
  report.plan = routesFor(nodes, self, connected);
  PODNET_TRY(const auto current, kernel.routes());
  auto diff = diffRoutes(report.plan.routes, current);
  report.blocked = diff.blocked;
  std::vector<netlink::Route> failed;
  for (const auto& r : diff.replace) {
    if (auto st = kernel.replace(r); st.ok()) {
      ++report.replaced;
    } else {
      report.errors.push_back(st.error());
      failed.push_back(r);
    }
  }
  for (const auto& r : diff.remove) {
    if (auto removed = kernel.remove(r); !removed.ok()) {
      report.errors.push_back(removed.error());
    } else if (*removed) {
      ++report.removed;
    }
  }
  for (const auto& r : report.plan.routes) {
    const bool missing = std::find(failed.begin(), failed.end(), r) != failed.end() ||
                         std::find(diff.blocked.begin(), diff.blocked.end(), r) != diff.blocked.end();
    if (!missing) report.programmed.push_back(r);
  }
  return report;
}

}  // namespace podnet::daemon
