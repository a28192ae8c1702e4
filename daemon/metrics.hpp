#pragma once
// The daemon's counters and gauges, rendered in Prometheus' text format.

#include <cstdint>
#include <string>

namespace podnet::daemon {

struct Metrics {
  std::uint64_t nodesKnown = 0;
  std::uint64_t nodesUnreachable = 0;  // remote nodes with a pod CIDR that has no direct path
  std::uint64_t routesProgrammed = 0;
  std::uint64_t routesBlocked = 0;
  std::uint64_t reconcileTotal = 0;
  std::uint64_t reconcileErrorsTotal = 0;
  double reconcileSecondsSum = 0;
  double reconcileSecondsLast = 0;
  std::uint64_t routesReplacedTotal = 0;
  std::uint64_t routesRemovedTotal = 0;
  std::uint64_t sourceErrorsTotal = 0;
  std::uint64_t conflistWritesTotal = 0;
  std::uint64_t masqueradeErrorsTotal = 0;
  bool ready = false;  // a node list loaded and a reconcile completed

  bool operator==(const Metrics&) const = default;
};

std::string renderMetrics(const Metrics& m);

}  // namespace podnet::daemon
