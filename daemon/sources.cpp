#include "sources.hpp"

#include "cluster_file.hpp"

namespace podnet::daemon {

Result<std::unique_ptr<NodeSource>> makeSource(const Options& options) {
  if (options.source == "file") {
    auto source = ClusterFileSource::open(options.clusterFile);
    if (!source.ok()) return source.error();
    return std::unique_ptr<NodeSource>(std::move(*source));
  }
  return Error{code::kInvalidConfig, "unknown node source \"" + options.source + "\"",
               "use file, kubernetes or etcd"};
}

}  // namespace podnet::daemon
