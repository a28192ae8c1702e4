#pragma once
// The cluster file: a JSON document listing every node, watched with inotify
// on its directory so that an atomic rename onto it is seen as well as an
// in-place write.
//
//   {"nodes": [{"name": "node1",
//               "addresses": ["192.168.77.11", "fd77::11"],
//               "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}]}

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "node.hpp"

namespace podnet::daemon {

// Parses and validates a cluster file. Errors (code::kDecode for bad JSON,
// code::kInvalidConfig otherwise) name the offending key, e.g.
// "nodes[1].podCIDRs[0]: 10.0.0.1/24 has host bits set". Rejected: a missing
// or empty name, duplicate names, an address or CIDR that does not parse, a
// CIDR with host bits set, and pod CIDRs of two nodes that overlap.
Result<std::vector<Node>> parseCluster(std::string_view text);

class ClusterFileSource final : public NodeSource {
 public:
  // Starts watching the file's directory, which must exist; the file itself
  // may appear later.
  static Result<std::unique_ptr<ClusterFileSource>> open(std::string path);
  ~ClusterFileSource() override;
  ClusterFileSource(const ClusterFileSource&) = delete;
  ClusterFileSource& operator=(const ClusterFileSource&) = delete;

  Result<std::vector<Node>> nodes() override;
  int changeFd() const override { return inotifyFd_; }
  bool consumeChanges() override;
  std::string describe() const override { return "file " + path_; }

 private:
  ClusterFileSource(std::string path, int inotifyFd);

  std::string path_;
  std::string baseName_;
  int inotifyFd_ = -1;
};

}  // namespace podnet::daemon
