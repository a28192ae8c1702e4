#pragma once
// `podnetd status`: the daemon's view (GET /status on its HTTP endpoint) as a
// table of nodes, pod CIDRs and the route programmed for each.

#include <nlohmann/json.hpp>
#include <string>

#include "podnet/error/result.hpp"
#include "reconcile.hpp"

namespace podnet::daemon {

// The /status document: {"self": ..., "ready": bool, "nodes": [{"name",
// "addresses", "podCIDRs": [{"cidr", "state", "route"?, "reason"?}]}]}, where
// state is one of "local", "programmed", "blocked", "failed", "skipped".
nlohmann::json statusJson(const std::vector<Node>& nodes, std::string_view self, const ReconcileReport* last,
                          bool ready);

// Fixed-width columns: NODE, ADDRESSES, POD CIDR, STATE, ROUTE/REASON.
std::string renderStatusTable(const nlohmann::json& status);

// GET http://<endpoint>/status, parsed.
Result<nlohmann::json> fetchStatus(const std::string& endpoint);

}  // namespace podnet::daemon
