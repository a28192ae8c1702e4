#pragma once
// Where the Kubernetes API is and how podnetd proves who it is: from a
// kubeconfig file (as kubectl reads it) or from the in-cluster service
// account a DaemonSet Pod gets.

#include <functional>
#include <string>
#include <string_view>

#include "http_client.hpp"
#include "podnet/error/result.hpp"

namespace podnet::daemon {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  http::Url server;
  http::TlsOptions tls;
  std::string token;      // a fixed bearer token, or
  std::string tokenFile;  // a bearer token file, re-read before every request (rotation)
  std::string origin;     // for logs: "kubeconfig /root/.kube/config (context ci)", "in-cluster"
};

// Parses a kubeconfig document: current-context selects a context, whose
// cluster gives server, certificate-authority(-data), insecure-skip-tls-verify
// and tls-server-name, and whose user gives token, tokenFile or
// client-certificate(-data) + client-key(-data). Relative file paths are
// relative to baseDir (the kubeconfig's directory), as kubectl resolves them.
// Error (code::kInvalidConfig) naming the missing or unsupported key (exec
// and auth-provider plugins, basic auth are not supported).
Result<KubeConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir,
                                   const std::string& origin = "kubeconfig");
// Reads and parses the file at path.
Result<KubeConfig> loadKubeconfig(const std::string& path);

// The in-cluster service account: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
// <saDir>/token (re-read on rotation) and <saDir>/ca.crt. getenv is injectable
// for tests. Error (code::kInvalidConfig) when the variables or files are missing.
Result<KubeConfig> inClusterConfig(const std::function<const char*(const char*)>& getenv,
                                   const std::string& saDir = kServiceAccountDir);

// Standard base64 (RFC 4648, padding optional, whitespace ignored).
Result<std::string> decodeBase64Data(std::string_view text);

}  // namespace podnet::daemon
