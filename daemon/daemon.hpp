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

namespace podnet::daemon {

struct Options {
  std::string nodeName;                       // this node, as named in the node source
  std::string clusterFile;                    // the cluster file's path
  std::string cniConfDir = "/etc/cni/net.d";  // "" writes no conflist
  std::string conflistName = "10-podnet.conflist";
  std::string network = "podnet";
  std::string ipamDataDir;  // "" leaves podnet-ipam's default
  std::optional<int> mtu;
  std::string listen = "127.0.0.1:9650";  // "" serves no HTTP
  std::chrono::milliseconds resync{10000};
  // Masquerade traffic from this node's pod CIDRs to outside every pod CIDR
  // (see masquerade.hpp); false removes podnetd's table.
  bool masquerade = true;
};

inline constexpr std::chrono::milliseconds kReconcileDelay{20};

// Runs until SIGTERM or SIGINT; the process exit code.
int run(const Options& options);

}  // namespace podnet::daemon
