// The Kubernetes source's pure part: Node objects to Nodes, NodeList pages,
// and watch events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR/malformed), on
// objects of the real API shape (tests/apiserver/node_template.json).
#include "kube_source.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace podnet::daemon {
namespace {

using json = nlohmann::json;

json templateNode() {
  std::ifstream in(std::string(PODNET_SOURCE_DIR) + "/tests/apiserver/node_template.json");
  REQUIRE(in);
  return json::parse(in);
}

// A Node as the API serves it: name, pod CIDRs (spec.podCIDR = the first), InternalIPs.
json kubeNode(const std::string& name, std::vector<std::string> cidrs, std::vector<std::string> internal,
              const std::string& rv = "1") {
  json n = templateNode();
  n["kind"] = "Node";
  n["apiVersion"] = "v1";
  n["metadata"]["name"] = name;
  n["metadata"]["resourceVersion"] = rv;
  n["spec"].erase("podCIDR");
  n["spec"].erase("podCIDRs");
  if (!cidrs.empty()) {
    n["spec"]["podCIDR"] = cidrs[0];
    n["spec"]["podCIDRs"] = cidrs;
  }
  json addrs = json::array();
  for (const auto& a : internal) addrs.push_back({{"type", "InternalIP"}, {"address", a}});
  addrs.push_back({{"type", "ExternalIP"}, {"address", "203.0.113.9"}});
  addrs.push_back({{"type", "Hostname"}, {"address", name}});
  n["status"]["addresses"] = addrs;
  return n;
}

std::string event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump();
}

Node node(const std::string& name, std::vector<std::string> cidrs, std::vector<std::string> addrs) {
  Node n{.name = name, .addresses = {}, .podCidrs = {}};
  for (const auto& c : cidrs) n.podCidrs.push_back(*ip::Prefix::parse(c));
  for (const auto& a : addrs) n.addresses.push_back(*ip::Address::parse(a));
  return n;
}

TEST_CASE("kube node: podCIDRs (dual-stack) and InternalIPs only, in order") {
  const auto n =
      nodeFromKube(kubeNode("w1", {"10.244.1.0/24", "fd00:10:244:1::/64"}, {"192.168.5.11", "fd05::11"}));
  REQUIRE(n.ok());
  REQUIRE(*n);
  CHECK(**n == node("w1", {"10.244.1.0/24", "fd00:10:244:1::/64"}, {"192.168.5.11", "fd05::11"}));
}

TEST_CASE(
    "kube node: spec.podCIDR alone (older clusters); host bits dropped; bad CIDRs and addresses skipped") {
  json k = kubeNode("w2", {}, {"192.168.5.12", "not-an-ip"});
  k["spec"]["podCIDR"] = "10.244.2.7/24";
  auto n = nodeFromKube(k);
  REQUIRE(n.ok());
  REQUIRE(*n);
  CHECK(**n == node("w2", {"10.244.2.0/24"}, {"192.168.5.12"}));
  k["spec"]["podCIDRs"] = json::array({"garbage", "10.244.3.0/24"});
  n = nodeFromKube(k);
  REQUIRE(*n);
  CHECK((*n)->podCidrs == node("x", {"10.244.3.0/24"}, {}).podCidrs);
}

TEST_CASE("kube node: without a pod CIDR it is not a node yet - without a name it is an Error") {
  auto n = nodeFromKube(kubeNode("w3", {}, {"192.168.5.13"}));
  REQUIRE(n.ok());
  CHECK_FALSE(*n);
  json k = kubeNode("w3", {"10.244.3.0/24"}, {});
  k["metadata"].erase("name");
  n = nodeFromKube(k);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().code == code::kDecode);
}

TEST_CASE("kube cache: a paginated NodeList replaces the nodes on commit - resourceVersion and continue") {
  KubeNodeCache cache;
  json page1 = {
      {"kind", "NodeList"},
      {"apiVersion", "v1"},
      {"metadata", {{"resourceVersion", "500"}, {"continue", "tok1"}, {"remainingItemCount", 1}}},
      {"items", {kubeNode("b", {"10.244.2.0/24"}, {"192.168.5.12"}), kubeNode("c", {}, {"192.168.5.13"})}}};
  json page2 = {{"kind", "NodeList"},
                {"apiVersion", "v1"},
                {"metadata", {{"resourceVersion", "500"}}},
                {"items", {kubeNode("a", {"10.244.1.0/24"}, {"192.168.5.11"})}}};
  auto p = cache.addListPage(page1.dump(), true);
  REQUIRE(p.ok());
  CHECK(p->continueToken == "tok1");
  CHECK(cache.nodes().empty());  // not visible before the last page
  p = cache.addListPage(page2.dump(), false);
  REQUIRE(p.ok());
  CHECK(p->continueToken.empty());
  CHECK(p->resourceVersion == "500");
  CHECK(cache.commitList());
  REQUIRE(cache.nodes().size() == 2);  // "c" has no pod CIDR
  CHECK(cache.nodes()[0].name == "a");
  CHECK(cache.nodes()[1].name == "b");
  // The same list again changes nothing; a new first page starts over.
  REQUIRE(cache.addListPage(page2.dump(), true).ok());
  CHECK(cache.commitList());  // only "a" now
  CHECK(cache.nodes().size() == 1);
  REQUIRE(cache.addListPage(page2.dump(), true).ok());
  CHECK_FALSE(cache.commitList());
  json empty = {{"kind", "NodeList"}, {"metadata", {{"resourceVersion", "7"}}}, {"items", nullptr}};
  CHECK(cache.addListPage(empty.dump(), true).ok());
  CHECK_FALSE(cache.addListPage("{", true).ok());
  CHECK_FALSE(cache.addListPage(R"({"kind":"Status","code":500})", true).ok());
  CHECK_FALSE(cache.addListPage(R"({"items":[]})", true).ok());  // no resourceVersion
}

TEST_CASE("kube cache: ADDED, MODIFIED, DELETED events - pod CIDR assigned later - unchanged heartbeat") {
  KubeNodeCache cache;
  using E = KubeNodeCache::Event;
  auto out = cache.applyEvent(event("ADDED", kubeNode("w1", {}, {"192.168.5.11"}, "10")));
  CHECK(out.kind == E::kUnchanged);  // no pod CIDR yet: skipped
  CHECK(out.resourceVersion == "10");
  CHECK(cache.nodes().empty());
  out = cache.applyEvent(event("MODIFIED", kubeNode("w1", {"10.244.1.0/24"}, {"192.168.5.11"}, "11")));
  CHECK(out.kind == E::kChanged);
  CHECK(cache.nodes() == std::vector<Node>{node("w1", {"10.244.1.0/24"}, {"192.168.5.11"})});
  // A status heartbeat (same CIDRs and addresses) is not a change.
  json beat = kubeNode("w1", {"10.244.1.0/24"}, {"192.168.5.11"}, "12");
  beat["status"]["conditions"][3]["lastHeartbeatTime"] = "2024-05-02T09:30:03Z";
  out = cache.applyEvent(event("MODIFIED", beat));
  CHECK(out.kind == E::kUnchanged);
  CHECK(out.resourceVersion == "12");
  out = cache.applyEvent(event("MODIFIED", kubeNode("w1", {"10.244.1.0/24"}, {"192.168.5.99"}, "13")));
  CHECK(out.kind == E::kChanged);
  CHECK(cache.nodes().at(0).addresses == node("", {}, {"192.168.5.99"}).addresses);
  out = cache.applyEvent(event("DELETED", kubeNode("w1", {"10.244.1.0/24"}, {"192.168.5.99"}, "14")));
  CHECK(out.kind == E::kChanged);
  CHECK(cache.nodes().empty());
  out = cache.applyEvent(event("DELETED", kubeNode("w1", {"10.244.1.0/24"}, {}, "15")));
  CHECK(out.kind == E::kUnchanged);
}

TEST_CASE("kube cache: BOOKMARK moves the resourceVersion only") {
  KubeNodeCache cache;
  const auto bookmark =
      R"({"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"12746","creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}})";
  const auto out = cache.applyEvent(bookmark);
  CHECK(out.kind == KubeNodeCache::Event::kBookmark);
  CHECK(out.resourceVersion == "12746");
  CHECK(cache.nodes().empty());
  CHECK(cache.applyEvent(R"({"type":"BOOKMARK","object":{"metadata":{}}})").kind ==
        KubeNodeCache::Event::kMalformed);
}

TEST_CASE("kube cache: ERROR 410 is Gone, other ERRORs are errors, garbage is malformed") {
  KubeNodeCache cache;
  using E = KubeNodeCache::Event;
  auto out = cache.applyEvent(
      R"J({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 100 (200)","reason":"Expired","code":410}})J");
  CHECK(out.kind == E::kGone);
  CHECK(out.message.find("too old resource version") != std::string::npos);
  out = cache.applyEvent(
      R"J({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"etcd down","reason":"InternalError","code":500}})J");
  CHECK(out.kind == E::kError);
  CHECK(out.message.find("500") == 0);
  for (const char* bad :
       {R"J({"type":"MODIFIED","object":{"kind":"Node",)J", "", "[]", R"J({"type":"ADDED"})J",
        R"J({"type":"SOMETHING","object":{"metadata":{"name":"x"}}})J",
        R"J({"type":"ADDED","object":{"metadata":{}}})J"}) {
    CAPTURE(bad);
    CHECK(cache.applyEvent(bad).kind == E::kMalformed);
  }
}

}  // namespace
}  // namespace podnet::daemon
