#pragma once
// Nodes of the cluster as the daemon sees them, and the interface every node
// source implements (the cluster file now; Kubernetes and etcd later).

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "podnet/error/result.hpp"
#include "podnet/ip/address.hpp"

namespace podnet::daemon {

struct Node {
  std::string name;
  std::vector<ip::Address> addresses;  // underlay addresses, either family, preferred first
  std::vector<ip::Prefix> podCidrs;    // network prefixes (no host bits)

  bool operator==(const Node&) const = default;
};

// Where the list of nodes comes from. The daemon reads nodes() at start, on
// every change notification and on every periodic resync; it keeps the last
// list that loaded without error, so a broken source never wipes routes.
class NodeSource {
 public:
  virtual ~NodeSource() = default;

  // The whole current list. An Error leaves the daemon on its last good list.
  virtual Result<std::vector<Node>> nodes() = 0;
  // A pollable descriptor, readable when nodes() may have changed; -1 if the
  // source has none (the periodic resync still picks changes up). Owned by the
  // source.
  virtual int changeFd() const = 0;
  // Consumes pending notifications without blocking; true if nodes() may
  // have changed since the last call.
  virtual bool consumeChanges() = 0;
  // For logs: "file /etc/podnet/cluster.json".
  virtual std::string describe() const = 0;
  // Called once, before the first nodes(), with the daemon's event loop: a
  // source that talks to a store over the network starts its asynchronous
  // work (list, watch, lease keep-alive) here, keeps the latest list in
  // memory for nodes() and signals changes through changeFd().
  virtual void start(boost::asio::io_context& /*io*/) {}
};

}  // namespace podnet::daemon
