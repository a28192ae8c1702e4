#include "sources.hpp"

#include <cstdlib>

#include "cluster_file.hpp"
#include "etcd_source.hpp"
#include "kube_source.hpp"

namespace podnet::daemon {

Result<std::unique_ptr<NodeSource>> makeSource(const Options& options) {
  if (options.source == "file") {
    auto source = ClusterFileSource::open(options.clusterFile);
    if (!source.ok()) return source.error();
    return std::unique_ptr<NodeSource>(std::move(*source));
  }
  if (options.source == "etcd") {
    auto source = EtcdSource::open(options);
    if (!source.ok()) return source.error();
    return std::unique_ptr<NodeSource>(std::move(*source));
  }
  if (options.source == "kubernetes") {
    auto config = options.kubeconfig.empty()
                      ? inClusterConfig([](const char* name) { return std::getenv(name); })
                      : loadKubeconfig(options.kubeconfig);
    if (!config.ok()) return config.error();
    auto source = KubeSource::create(std::move(*config), KubeOptions{.relistInterval = options.kubeRelist});
    if (!source.ok()) return source.error();
    return std::unique_ptr<NodeSource>(std::move(*source));
  }
  return Error{code::kInvalidConfig, "unknown node source \"" + options.source + "\"",
               "use file, kubernetes or etcd"};
}

}  // namespace podnet::daemon
