#include "metrics.hpp"

#include <fmt/format.h>

namespace podnet::daemon {
namespace {

void add(std::string& out, const char* name, const char* type, const char* help, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace

std::string renderMetrics(const Metrics& m) {
  std::string out;
  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  add(out, "podnetd_ready", "gauge", "1 once a node list loaded and a reconcile completed.", m.ready ? 1 : 0);
  add(out, "podnetd_nodes_known", "gauge", "Nodes in the last good node list.", d(m.nodesKnown));
  add(out, "podnetd_nodes_unreachable", "gauge", "Remote nodes with a pod CIDR that has no direct path.",
      d(m.nodesUnreachable));
  add(out, "podnetd_routes_programmed", "gauge", "Wanted routes present in the kernel.",
      d(m.routesProgrammed));
  add(out, "podnetd_routes_blocked", "gauge", "Wanted routes whose key another protocol's route holds.",
      d(m.routesBlocked));
  add(out, "podnetd_reconcile_total", "counter", "Reconcile passes.", d(m.reconcileTotal));
  add(out, "podnetd_reconcile_errors_total", "counter",
      "Reconcile passes that failed or had a failed change.", d(m.reconcileErrorsTotal));
  out += fmt::format(
      "# HELP podnetd_reconcile_duration_seconds Time spent in reconcile passes.\n"
      "# TYPE podnetd_reconcile_duration_seconds summary\n"
      "podnetd_reconcile_duration_seconds_sum {}\npodnetd_reconcile_duration_seconds_count {}\n",
      m.reconcileSecondsSum, m.reconcileTotal);
  add(out, "podnetd_reconcile_last_duration_seconds", "gauge", "Duration of the last reconcile pass.",
      m.reconcileSecondsLast);
  add(out, "podnetd_route_replaces_total", "counter", "Routes added or overwritten.",
      d(m.routesReplacedTotal));
  add(out, "podnetd_route_deletes_total", "counter", "Stale routes deleted.", d(m.routesRemovedTotal));
  add(out, "podnetd_node_source_errors_total", "counter", "Node lists that failed to load.",
      d(m.sourceErrorsTotal));
  add(out, "podnetd_conflist_writes_total", "counter", "Times the CNI conflist was (re)written.",
      d(m.conflistWritesTotal));
  add(out, "podnetd_masquerade_errors_total", "counter", "Failed writes of the nftables masquerade table.",
      d(m.masqueradeErrorsTotal));
  return out;
}

}  // namespace podnet::daemon
