#include "podnet/cni/plugin.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace podnet;
using nlohmann::json;

namespace {

using EnvMap = std::map<std::string, std::string>;

EnvMap addEnv() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc123"},
          {"CNI_NETNS", "/run/netns/pod"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

const char* kConf = R"({"cniVersion":"1.0.0","name":"podnet","type":"podnet"})";

struct Run {
  int exit;
  json out;
};

// Runs the dispatcher with handlers that record whether they ran.
Run run(const EnvMap& env, const std::string& stdinData, bool* called = nullptr) {
  cni::Handlers h;
  h.add = [&](const cni::Request& req) -> Result<cni::CniResult> {
    if (called) *called = true;
    cni::CniResult r;
    r.ips = {{.address = *ip::Prefix::parse("10.0.0.2/24")}};
    r.cniVersion = req.conf.cniVersion;
    return r;
  };
  h.del = [&](const cni::Request&) -> Status {
    if (called) *called = true;
    return {};
  };
  h.check = h.del;
  h.gc = h.del;
  h.status = h.del;
  std::string out;
  const int rc = cni::runPlugin(h, {"podnet", "test"}, stdinData, out, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  return {rc, out.empty() ? json() : json::parse(out)};
}

}  // namespace

TEST_CASE("dispatcher: bad input gets the spec's code, exit 1, and no handler runs") {
  struct Case {
    const char* name;
    EnvMap env;
    std::string conf;
    int code;
  };
  auto with = [](std::initializer_list<std::pair<const std::string, std::string>> changes) {
    auto e = addEnv();
    for (const auto& [k, v] : changes) {
      if (v == "<unset>")
        e.erase(k);
      else
        e[k] = v;
    }
    return e;
  };
  const std::string longName(300, 'a');
  const Case cases[] = {
      {"malformed JSON", addEnv(), "{\"cniVersion\":", code::kDecode},
      {"empty stdin", addEnv(), "", code::kDecode},
      {"JSON not an object", addEnv(), "[1]", code::kDecode},
      {"unknown cniVersion", addEnv(), R"({"cniVersion":"9.9.9","name":"n","type":"podnet"})",
       code::kIncompatibleVersion},
      {"missing cniVersion", addEnv(), R"({"name":"n","type":"podnet"})", code::kIncompatibleVersion},
      {"missing name", addEnv(), R"({"cniVersion":"1.0.0","type":"podnet"})", code::kInvalidConfig},
      {"network name with slash", addEnv(), R"({"cniVersion":"1.0.0","name":"../etc","type":"podnet"})",
       code::kInvalidConfig},
      {"network name too long", addEnv(),
       R"({"cniVersion":"1.0.0","type":"podnet","name":")" + longName + "\"}", code::kInvalidConfig},
      {"missing type", addEnv(), R"({"cniVersion":"1.0.0","name":"n"})", code::kInvalidConfig},
      {"ipam not an object", addEnv(), R"({"cniVersion":"1.0.0","name":"n","type":"podnet","ipam":"x"})",
       code::kInvalidConfig},
      {"bad prevResult", addEnv(),
       R"({"cniVersion":"1.0.0","name":"n","type":"podnet","prevResult":{"cniVersion":"1.0.0","ips":3}})",
       code::kDecode},
      {"missing CNI_COMMAND", with({{"CNI_COMMAND", "<unset>"}}), kConf, code::kInvalidEnvironment},
      {"unknown CNI_COMMAND", with({{"CNI_COMMAND", "EXPLODE"}}), kConf, code::kInvalidEnvironment},
      {"missing CNI_NETNS on ADD", with({{"CNI_NETNS", "<unset>"}}), kConf, code::kInvalidEnvironment},
      {"missing CNI_IFNAME", with({{"CNI_IFNAME", ""}}), kConf, code::kInvalidEnvironment},
      {"missing CNI_PATH", with({{"CNI_PATH", "<unset>"}}), kConf, code::kInvalidEnvironment},
      {"container ID with slash", with({{"CNI_CONTAINERID", "a/../b"}}), kConf, code::kInvalidEnvironment},
      {"container ID with newline", with({{"CNI_CONTAINERID", "a\nb"}}), kConf, code::kInvalidEnvironment},
      {"container ID too long", with({{"CNI_CONTAINERID", longName}}), kConf, code::kInvalidEnvironment},
      {"ifname too long", with({{"CNI_IFNAME", "eth0123456789012"}}), kConf, code::kInvalidEnvironment},
      {"ifname with slash", with({{"CNI_IFNAME", "et/h0"}}), kConf, code::kInvalidEnvironment},
      {"ifname dot-dot", with({{"CNI_IFNAME", ".."}}), kConf, code::kInvalidEnvironment},
      {"ifname with space", with({{"CNI_IFNAME", "eth 0"}}), kConf, code::kInvalidEnvironment},
      {"ifname with unicode is fine, colon is not", with({{"CNI_IFNAME", "eth:0"}}), kConf,
       code::kInvalidEnvironment},
      {"CNI_ARGS without =", with({{"CNI_ARGS", "IP"}}), kConf, code::kInvalidEnvironment},
      {"unknown CNI_ARGS key", with({{"CNI_ARGS", "FOO=bar"}}), kConf, code::kUnsupportedField},
      {"CHECK on 0.3.1", with({{"CNI_COMMAND", "CHECK"}}),
       R"({"cniVersion":"0.3.1","name":"n","type":"podnet"})", code::kIncompatibleVersion},
      {"GC on 1.0.0", with({{"CNI_COMMAND", "GC"}}), kConf, code::kIncompatibleVersion},
      {"STATUS on 0.4.0", with({{"CNI_COMMAND", "STATUS"}}),
       R"({"cniVersion":"0.4.0","name":"n","type":"podnet"})", code::kIncompatibleVersion},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    bool called = false;
    const auto r = run(c.env, c.conf, &called);
    CHECK(r.exit == 1);
    CHECK(r.out["code"] == c.code);
    CHECK(r.out["msg"].is_string());
    CHECK_FALSE(r.out["msg"].get<std::string>().empty());
    CHECK(r.out.contains("cniVersion"));
    CHECK_FALSE(r.out.contains("ips"));  // never a partial Result
    CHECK_FALSE(called);
  }
}

TEST_CASE("dispatcher: ADD prints the Result in the config's version") {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    CAPTURE(v);
    const auto r = run(addEnv(), json{{"cniVersion", v}, {"name", "n"}, {"type", "podnet"}}.dump());
    CHECK(r.exit == 0);
    CHECK(r.out["cniVersion"] == v);
    CHECK(r.out["ips"][0]["address"] == "10.0.0.2/24");
    CHECK(r.out["ips"][0].contains("version") == (std::string(v) < "1.0.0"));
  }
}

TEST_CASE("dispatcher: DEL tolerates an empty netns; VERSION needs no env") {
  auto del = addEnv();
  del["CNI_COMMAND"] = "DEL";
  del["CNI_NETNS"] = "";
  bool called = false;
  auto r = run(del, kConf, &called);
  CHECK(r.exit == 0);
  CHECK(called);
  CHECK(r.out.is_null());  // DEL prints nothing on success

  // podman sends VERSION with "dummy" everywhere.
  r = run({{"CNI_COMMAND", "VERSION"}, {"CNI_NETNS", "dummy"}, {"CNI_IFNAME", "dummy"}},
          R"({"cniVersion":"0.4.0"})");
  CHECK(r.exit == 0);
  CHECK(r.out["cniVersion"] == "0.4.0");
  CHECK(r.out["supportedVersions"] == json::array({"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}));
  r = run({{"CNI_COMMAND", "VERSION"}}, "");
  CHECK(r.exit == 0);
  CHECK(r.out["cniVersion"] == "1.1.0");
}

TEST_CASE("dispatcher: CNI_ARGS from Kubernetes in any order, keys case-insensitive") {
  auto env = addEnv();
  env["CNI_ARGS"] =
      "K8S_POD_UID=u;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=x;EXTRA="
      "1";
  CHECK(run(env, kConf).exit == 0);
  auto args = cni::parseCniArgs("ip=10.0.0.5;IgnoreUnknown=true");
  REQUIRE(args.ok());
  CHECK(args->get("IP") == "10.0.0.5");
  CHECK(args->ignoreUnknown());
  CHECK_FALSE(cni::parseCniArgs("=x").ok());
}

TEST_CASE("config: keys match the way Go's JSON decoding does") {
  const auto doc = json::parse(R"({"HostPort":80,"hostport":81,"ContainerPort":8080,"protocol":"tcp"})");
  CHECK(*cni::findKey(doc, "hostPort") == 80);  // first case-insensitive match
  CHECK(*cni::findKey(doc, "hostport") == 81);  // exact match wins
  CHECK(*cni::findKey(doc, "containerPort") == 8080);
  CHECK(cni::findKey(doc, "hostIP") == nullptr);
  auto conf = cni::parseNetConf(
      R"({"cniVersion":"1.0.0","name":"n","type":"podnet","runtimeConfig":{"portMappings":[{"HostPort":80}]},
          "dns":{"nameservers":["10.96.0.10"]}})",
      cni::Command::kAdd);
  REQUIRE(conf.ok());
  CHECK(conf->runtimeConfig["portMappings"][0]["HostPort"] == 80);
  CHECK(conf->dns.nameservers.at(0) == "10.96.0.10");
}

TEST_CASE("gc: valid attachments under the current and the older key") {
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    CAPTURE(key);
    json doc = {{"cniVersion", "1.1.0"}, {"name", "n"}, {"type", "podnet"}};
    doc[key] = json::array({{{"containerID", "c1"}, {"ifname", "eth0"}}});
    auto conf = cni::parseNetConf(doc.dump(), cni::Command::kGc);
    REQUIRE(conf.ok());
    auto list = cni::validAttachments(*conf);
    REQUIRE(list.ok());
    CHECK(*list == std::vector<cni::Attachment>{{"c1", "eth0"}});
  }
  auto conf = cni::parseNetConf(R"({"cniVersion":"1.1.0","name":"n","type":"podnet"})", cni::Command::kGc);
  REQUIRE(conf.ok());
  CHECK(cni::validAttachments(*conf).error().code == code::kInvalidConfig);
}

TEST_CASE("env: interface and ID names") {
  CHECK(cni::validateIfname("eth0").ok());
  CHECK(cni::validateIfname("net1-ab_c.d").ok());
  CHECK(cni::validateIfname("123456789012345").ok());
  CHECK_FALSE(cni::validateIfname("1234567890123456").ok());
  CHECK_FALSE(cni::validateIfname(std::string("a\0b", 3)).ok());
  CHECK(cni::validateContainerId("k8s_POD.abc-1").ok());
  CHECK_FALSE(cni::validateContainerId("-abc").ok());
  CHECK_FALSE(cni::validateContainerId("..").ok());
  CHECK(cni::Env{.path = "/a::/b:"}.pathDirs() == std::vector<std::string>{"/a", "/b"});
}

TEST_CASE("dispatcher: hostile bytes that are not UTF-8 still get their error code") {
  auto env = addEnv();
  env["CNI_ARGS"] = "K\xff\xfe=1";  // an unknown key of invalid UTF-8: code 2, not an internal error
  const auto r = run(env, kConf);
  CHECK(r.exit == 1);
  CHECK(r.out["code"] == code::kUnsupportedField);
}
