// podnetd: the node daemon. Parses flags and dispatches: the daemon itself,
// or `podnetd status` (a table of the running daemon's view).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <iostream>

#include "daemon.hpp"
#include "masquerade.hpp"
#include "podnet/log/log.hpp"
#include "status.hpp"

namespace {

std::string hostName() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return buf.data();
}

}  // namespace

int main(int argc, char** argv) {
  namespace pd = podnet::daemon;
  CLI::App app{"podnetd: programs routes to every node's pod CIDR and writes the node's CNI config"};
  app.set_version_flag("--version",
                       std::string("podnetd ") + PODNET_VERSION +
                           (pd::masqueradeSupported() ? " (masquerade: nftables)" : " (masquerade: no)"));
  pd::Options options;
  options.nodeName = hostName();
  options.clusterFile = "/etc/podnet/cluster.json";
  std::string logFile;
  std::string logLevel = "info";
  double resyncSeconds = 10;
  int mtu = 0;
  app.add_option("--node-name", options.nodeName, "This node's name in the node source")
      ->capture_default_str();
  app.add_option("--source", options.source, "Where the node list comes from: file, kubernetes or etcd")
      ->check(CLI::IsMember({"file", "kubernetes", "etcd"}))
      ->capture_default_str();
  app.add_option("--cluster-file", options.clusterFile,
                 "source file: the cluster file (JSON) listing every node")
      ->capture_default_str();
  app.add_option("--kubeconfig", options.kubeconfig,
                 "source kubernetes: a kubeconfig file (default: the in-cluster service account)");
  app.add_option("--etcd-endpoints", options.etcdEndpoints,
                 "source etcd: the v3 JSON gateway's URLs, e.g. http://10.0.0.1:2379")
      ->delimiter(',');
  app.add_option("--etcd-prefix", options.etcdPrefix, "source etcd: key prefix of the node leases")
      ->capture_default_str();
  app.add_option("--cluster-cidr", options.clusterCidrs,
                 "source etcd: CIDR(s) this node leases its pod CIDR from, one per family")
      ->delimiter(',');
  app.add_option("--subnet-len-v4", options.subnetLenV4, "source etcd: prefix length of an IPv4 node subnet")
      ->check(CLI::Range(8, 30))
      ->capture_default_str();
  app.add_option("--subnet-len-v6", options.subnetLenV6, "source etcd: prefix length of an IPv6 node subnet")
      ->check(CLI::Range(16, 126))
      ->capture_default_str();
  int leaseTtl = static_cast<int>(options.leaseTtl.count());
  app.add_option("--lease-ttl", leaseTtl, "source etcd: seconds a node's lease outlives its daemon")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  app.add_option("--node-address", options.nodeAddresses,
                 "source etcd: this node's underlay address(es), published in its lease")
      ->delimiter(',');
  app.add_option("--cni-conf-dir", options.cniConfDir, "Where to write the CNI conflist (\"\": nowhere)")
      ->capture_default_str();
  app.add_option("--conflist-name", options.conflistName, "File name of the conflist")->capture_default_str();
  app.add_option("--network-name", options.network, "CNI network name in the conflist")
      ->capture_default_str();
  app.add_option("--ipam-data-dir", options.ipamDataDir,
                 "podnet-ipam dataDir in the conflist (\"\": its default)");
  app.add_option("--mtu", mtu, "Pod MTU in the conflist (0: the plugin's default)")
      ->check(CLI::Range(0, 65535));
  app.add_flag(
      "--portmap", options.portmap,
      "Chain the reference portmap plugin in the conflist (hostPort, podman -p); it must be in CNI_PATH");
  app.add_option("--listen", options.listen, "HTTP address for /healthz, /metrics, /status (\"\": none)")
      ->capture_default_str();
  app.add_option("--resync-interval", resyncSeconds, "Seconds between full resyncs")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  double kubeRelistSeconds = 600;
  app.add_option("--kube-relist-interval", kubeRelistSeconds,
                 "source kubernetes: seconds between full relists of the Nodes, besides the watch")
      ->check(CLI::Range(0.5, 86400.0))
      ->capture_default_str();
  app.add_option("--masquerade", options.masquerade,
                 "Masquerade traffic from this node's pods to outside the cluster's pod CIDRs (nftables)")
      ->capture_default_str();
  app.add_option("--log-file", logFile, "JSON-lines log file (default: stderr)");
  app.add_option("--log-level", logLevel, "debug, info, warn or error")->capture_default_str();

  std::string statusAddress = options.listen;
  bool statusJson = false;
  auto* status = app.add_subcommand("status", "Show the running daemon's nodes, pod CIDRs and routes");
  status->add_option("--address", statusAddress, "The daemon's HTTP address")->capture_default_str();
  status->add_flag("--json", statusJson, "Print the raw /status document");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (status->parsed()) {
    const auto doc = pd::fetchStatus(statusAddress);
    if (!doc.ok()) {
      std::cerr << "podnetd status: " << doc.error().msg << "\n";
      return 1;
    }
    std::cout << (statusJson ? doc->dump(2) + "\n" : pd::renderStatusTable(*doc));
    return 0;
  }

  podnet::log::configure(logFile, podnet::log::parseLevel(logLevel));
  podnet::log::setContext({{"daemon", "podnetd"}, {"node", options.nodeName}});
  if (mtu > 0) options.mtu = mtu;
  options.leaseTtl = std::chrono::seconds(leaseTtl);
  options.resync = std::chrono::milliseconds(static_cast<long>(resyncSeconds * 1000));
  options.kubeRelist = std::chrono::milliseconds(static_cast<long>(kubeRelistSeconds * 1000));
  return pd::run(options);
}
