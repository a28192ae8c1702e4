// Kubeconfig and in-cluster credentials for the Kubernetes source.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "kubeconfig.hpp"

namespace podnet::daemon {
namespace {

// What `kubectl config view --raw` prints for a kubeadm admin.conf, with two
// contexts (the current one uses a token and file paths).
constexpr const char* kKubeconfig = R"(apiVersion: v1
kind: Config
preferences: {}
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    server: https://192.168.77.2:6443
  name: kubernetes
- cluster:
    certificate-authority: pki/ca.crt
    server: https://[fd77::2]:6443
    tls-server-name: kubernetes.default
  name: v6
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
- context:
    cluster: v6
    user: podnetd
    namespace: kube-system
  name: podnetd@v6
current-context: podnetd@v6
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: podnetd
  user:
    token: abc.def
)";

TEST_CASE("kubeconfig: current-context picks cluster and user - relative paths - tls-server-name") {
  const auto c = parseKubeconfig(kKubeconfig, "/etc/podnet");
  REQUIRE(c.ok());
  CHECK(c->server == *http::Url::parse("https://[fd77::2]:6443"));
  CHECK(c->tls.caFile == "/etc/podnet/pki/ca.crt");
  CHECK(c->tls.caData.empty());
  CHECK(c->tls.serverName == "kubernetes.default");
  CHECK(c->token == "abc.def");
  CHECK(c->tls.certFile.empty());
  CHECK(c->origin.find("podnetd@v6") != std::string::npos);
}

TEST_CASE("kubeconfig: base64 -data fields and client certificates") {
  std::string text = kKubeconfig;
  text.replace(text.find("current-context: podnetd@v6"), 27, "current-context: kubernetes-admin@kubernetes");
  const auto c = parseKubeconfig(text, "/x");
  REQUIRE(c.ok());
  CHECK(c->server.host == "192.168.77.2");
  CHECK(c->tls.caData == "-----BEGIN CERTIFICATE-----\n");
  CHECK(c->tls.certData == "cert");
  CHECK(c->tls.keyData == "key");
  CHECK(c->token.empty());
}

TEST_CASE("kubeconfig: errors name what is missing or unsupported") {
  const auto err = [](const std::string& text) {
    const auto c = parseKubeconfig(text, "/x");
    REQUIRE_FALSE(c.ok());
    return c.error();
  };
  CHECK(err("just text").code == code::kInvalidConfig);
  CHECK(err("a: [").code == code::kDecode);
  CHECK(err("clusters: []\n").msg.find("current-context") != std::string::npos);
  CHECK(err("current-context: nope\ncontexts: []\n").msg.find("\"nope\"") != std::string::npos);
  std::string noServer = kKubeconfig;
  noServer.replace(noServer.find("server: https://[fd77::2]:6443"), 30, "insecure-skip-tls-verify: true");
  CHECK(err(noServer).msg.find("no server") != std::string::npos);
  std::string exec = kKubeconfig;
  exec.replace(exec.find("token: abc.def"), 14, "exec: {command: aws}");
  CHECK(err(exec).msg.find("exec") != std::string::npos);
  std::string badData = kKubeconfig;
  badData.replace(badData.find("Y2VydA=="), 8, "Y2V*dA==");
  badData.replace(badData.find("current-context: podnetd@v6"), 27,
                  "current-context: kubernetes-admin@kubernetes");
  CAPTURE(err(badData).msg);
  CHECK(err(badData).msg.find("client-certificate-data") != std::string::npos);
  std::string certOnly = kKubeconfig;
  certOnly.replace(certOnly.find("token: abc.def"), 14, "client-certificate: c.crt");
  CHECK(err(certOnly).msg.find("client key") != std::string::npos);
}

TEST_CASE("kubeconfig: loadKubeconfig resolves paths against the file's directory") {
  const auto dir = std::filesystem::temp_directory_path() / ("podnet-kc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "config") << kKubeconfig; }
  const auto c = loadKubeconfig((dir / "config").string());
  std::filesystem::remove_all(dir);
  REQUIRE(c.ok());
  CHECK(c->tls.caFile == (dir / "pki/ca.crt").string());
  CHECK_FALSE(loadKubeconfig((dir / "missing").string()).ok());
}

TEST_CASE("kubeconfig: in-cluster from KUBERNETES_SERVICE_HOST/PORT and the service account files") {
  const auto dir = std::filesystem::temp_directory_path() / ("podnet-sa-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "fd00:96::1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  const auto getenv = [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto c = inClusterConfig(getenv, dir.string());
  REQUIRE_FALSE(c.ok());  // no token file yet
  CHECK(c.error().msg.find("token") != std::string::npos);
  std::ofstream(dir / "token") << "t";
  std::ofstream(dir / "ca.crt") << "c";
  c = inClusterConfig(getenv, dir.string());
  REQUIRE(c.ok());
  CHECK(c->server == *http::Url::parse("https://[fd00:96::1]:443"));
  CHECK(c->tokenFile == (dir / "token").string());
  CHECK(c->tls.caFile == (dir / "ca.crt").string());
  env.erase("KUBERNETES_SERVICE_PORT");
  c = inClusterConfig(getenv, dir.string());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().msg.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("kubeconfig: base64 decoding") {
  CHECK(*decodeBase64Data("aGVsbG8=") == "hello");
  CHECK(*decodeBase64Data("aGVsbG8") == "hello");
  CHECK(*decodeBase64Data("aGVs\nbG8h") == "hello!");
  CHECK(*decodeBase64Data("") == "");
  CHECK_FALSE(decodeBase64Data("aGV*").ok());
  CHECK_FALSE(decodeBase64Data("aGVsbG8=x").ok());
  CHECK_FALSE(decodeBase64Data("a").ok());
}

}  // namespace
}  // namespace podnet::daemon
