#pragma once
// The daemon: wires the node source, the reconcile, the conflist writer and
// the HTTP endpoint into one single-threaded Boost.Asio event loop.
//
// A reconcile runs (coalesced, kReconcileDelay after the first trigger) when
// the node list changes, when the kernel reports a route event that can
// matter (any deletion, any route of ours or of protocol "kernel", i.e. a
// connected subnet), and every resync interval. Until a node list has loaded
// it changes nothing, so a missing or broken cluster file at start never
// wipes the routes of a restarted daemon. SIGTERM/SIGINT end the loop and
// leave every route in place.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace podnet::daemon {

struct Options {
  std::string nodeName;  // this node, as named in the node source
  // Where the node list comes from: "file", "kubernetes" or "etcd" (sources.hpp).
  std::string source = "file";
  std::string clusterFile;  // source "file": the cluster file's path
  // source "kubernetes": a kubeconfig file; "" uses the in-cluster service
  // account (KUBERNETES_SERVICE_HOST/PORT, token and CA under
  // /var/run/secrets/kubernetes.io/serviceaccount).
  std::string kubeconfig;
  // source "etcd": the v3 JSON gateway's endpoints ("http://10.0.0.1:2379"),
  // the key prefix under which every node's lease lives, the cluster CIDRs this
  // node leases its pod CIDR from (one per family), the prefix length of a
  // node's subnet per family, the lease's TTL, and the underlay addresses this
  // node publishes in its lease.
  std::vector<std::string> etcdEndpoints;
  std::string etcdPrefix = "/podnet/subnets/";
  std::vector<std::string> clusterCidrs;
  int subnetLenV4 = 24;
  int subnetLenV6 = 64;
  std::chrono::seconds leaseTtl{30};
  std::vector<std::string> nodeAddresses;
  std::string cniConfDir = "/etc/cni/net.d";  // "" writes no conflist
  std::string conflistName = "10-podnet.conflist";
  std::string network = "podnet";
  std::string ipamDataDir;  // "" leaves podnet-ipam's default
  std::optional<int> mtu;
  bool portmap = false;                   // chain the reference portmap plugin in the conflist (hostPort)
  std::string listen = "127.0.0.1:9650";  // "" serves no HTTP
  std::chrono::milliseconds resync{10000};
  // source kubernetes: a full relist of the Nodes this often (+0..25 % jitter),
  // a safety net under the watch.
  std::chrono::milliseconds kubeRelist{std::chrono::minutes(10)};
  // Masquerade traffic from this node's pod CIDRs to outside every pod CIDR
  // (see masquerade.hpp); false removes podnetd's table.
  bool masquerade = true;
};

inline constexpr std::chrono::milliseconds kReconcileDelay{20};

// Runs until SIGTERM or SIGINT; the process exit code.
int run(const Options& options);

}  // namespace podnet::daemon
