#include "kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace podnet::daemon {

namespace {

Error invalid(std::string msg, std::string details = {}) {
  return Error{code::kInvalidConfig, std::move(msg), std::move(details)};
}

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  if (!value || !value.IsScalar()) return {};
  return value.as<std::string>();
}

// The entry of a named list ("clusters", "users", "contexts") whose name matches.
Result<YAML::Node> findNamed(const YAML::Node& root, const char* list, const char* inner,
                             const std::string& name) {
  const YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const auto& entry : entries) {
      if (entry.IsMap() && scalar(entry, "name") == name) {
        const YAML::Node body = entry[inner];
        if (!body || !body.IsMap()) return invalid(std::string(list) + " \"" + name + "\" has no " + inner);
        return body;
      }
    }
  }
  return invalid(std::string("kubeconfig: no entry \"") + name + "\" in " + list);
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path.front() == '/' || baseDir.empty()) return path;
  return (std::filesystem::path(baseDir) / path).string();
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{code::kInvalidConfig, "cannot read " + path, std::strerror(errno)};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<std::string> decodeData(const YAML::Node& map, const char* key) {
  const std::string text = scalar(map, key);
  if (text.empty()) return std::string();
  auto decoded = decodeBase64Data(text);
  if (!decoded.ok())
    return invalid(std::string("kubeconfig: ") + key + " is not base64", decoded.error().msg);
  return decoded;
}

}  // namespace

Result<std::string> decodeBase64Data(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return Error{code::kDecode, std::string("bad base64 character '") + c + "'"};
    }
    if (padding) return Error{code::kDecode, "base64 data after padding"};
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xffu));
    }
  }
  if (bits >= 6) return Error{code::kDecode, "truncated base64 data"};
  return out;
}

Result<KubeConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir,
                                   const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{code::kDecode, origin + ": not YAML", e.what()};
  }
  if (!root.IsMap()) return invalid(origin + ": not a kubeconfig (expected a map)");
  const std::string contextName = scalar(root, "current-context");
  if (contextName.empty()) return invalid(origin + ": no current-context");
  PODNET_TRY(YAML::Node context, findNamed(root, "contexts", "context", contextName));
  PODNET_TRY(YAML::Node cluster, findNamed(root, "clusters", "cluster", scalar(context, "cluster")));

  KubeConfig config;
  config.origin = origin + " (context " + contextName + ")";
  const std::string server = scalar(cluster, "server");
  if (server.empty())
    return invalid(origin + ": cluster \"" + scalar(context, "cluster") + "\" has no server");
  PODNET_TRY(config.server, http::Url::parse(server));
  PODNET_TRY(config.tls.caData, decodeData(cluster, "certificate-authority-data"));
  config.tls.caFile = resolvePath(scalar(cluster, "certificate-authority"), baseDir);
  config.tls.insecureSkipVerify = scalar(cluster, "insecure-skip-tls-verify") == "true";
  config.tls.serverName = scalar(cluster, "tls-server-name");

  const std::string userName = scalar(context, "user");
  if (!userName.empty()) {
    PODNET_TRY(YAML::Node user, findNamed(root, "users", "user", userName));
    for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
      if (user[unsupported])
        return invalid(
            origin + ": user \"" + userName + "\" uses " + unsupported + ", which podnetd does not support",
            "use token, tokenFile or client-certificate + client-key");
    }
    config.token = scalar(user, "token");
    config.tokenFile = resolvePath(scalar(user, "tokenFile"), baseDir);
    PODNET_TRY(config.tls.certData, decodeData(user, "client-certificate-data"));
    PODNET_TRY(config.tls.keyData, decodeData(user, "client-key-data"));
    config.tls.certFile = resolvePath(scalar(user, "client-certificate"), baseDir);
    config.tls.keyFile = resolvePath(scalar(user, "client-key"), baseDir);
    const bool hasCert = !config.tls.certData.empty() || !config.tls.certFile.empty();
    const bool hasKey = !config.tls.keyData.empty() || !config.tls.keyFile.empty();
    if (hasCert != hasKey)
      return invalid(origin + ": user \"" + userName + "\" needs both a client certificate and a client key");
  }
  return config;
}

Result<KubeConfig> loadKubeconfig(const std::string& path) {
  PODNET_TRY(std::string text, readFile(path));
  return parseKubeconfig(text, std::filesystem::path(path).parent_path().string(), "kubeconfig " + path);
}

Result<KubeConfig> inClusterConfig(const std::function<const char*(const char*)>& getenv,
                                   const std::string& saDir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return invalid("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set",
                   "give --kubeconfig, or run podnetd in a Pod with a service account");
  const std::string h(host);
  const bool v6 = h.find(':') != std::string::npos;
  PODNET_TRY(KubeConfig config, ([&]() -> Result<KubeConfig> {
               KubeConfig c;
               PODNET_TRY(c.server, http::Url::parse("https://" + (v6 ? "[" + h + "]" : h) + ":" + port));
               return c;
             })());
  config.tokenFile = saDir + "/token";
  config.tls.caFile = saDir + "/ca.crt";
  config.origin = "in-cluster service account";
  for (const auto& file : {config.tokenFile, config.tls.caFile}) {
    if (!std::filesystem::exists(file)) return invalid("in-cluster: " + file + " is missing");
  }
  return config;
}

}  // namespace podnet::daemon
