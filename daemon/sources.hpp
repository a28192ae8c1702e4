#pragma once
// The node sources podnetd can read, chosen by Options::source:
//   file        the cluster file (cluster_file.hpp): tests and small static clusters
//   kubernetes  the Kubernetes API's Nodes (kube_source.hpp)
//   etcd        node leases in etcd, flannel's model without Kubernetes (etcd_source.hpp)

#include <memory>

#include "daemon.hpp"
#include "node.hpp"

namespace podnet::daemon {

// The source Options::source names, ready for NodeSource::start(); an Error
// (code::kInvalidConfig) for an unknown name or a source's bad settings.
Result<std::unique_ptr<NodeSource>> makeSource(const Options& options);

}  // namespace podnet::daemon
