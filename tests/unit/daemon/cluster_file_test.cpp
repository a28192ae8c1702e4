// The cluster file: parsing, validation errors, and the inotify watch.
#include "cluster_file.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace podnet::daemon {
namespace {

TEST_CASE("cluster file: nodes with addresses and pod CIDRs of both families") {
  const auto nodes = parseCluster(R"({"nodes": [
    {"name": "n1", "addresses": ["192.168.77.11", "fd77::11"], "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]},
    {"name": "n2", "addresses": ["192.168.77.12"], "podCIDRs": []},
    {"name": "n3"}]})");
  REQUIRE(nodes.ok());
  REQUIRE(nodes->size() == 3);
  CHECK((*nodes)[0] ==
        Node{.name = "n1",
             .addresses = {*ip::Address::parse("192.168.77.11"), *ip::Address::parse("fd77::11")},
             .podCidrs = {*ip::Prefix::parse("10.244.1.0/24"), *ip::Prefix::parse("fd00:10:244:1::/64")}});
  CHECK((*nodes)[2].addresses.empty());
  CHECK(parseCluster(R"({"nodes": []})").ok());
  // Neighbours that do not overlap, in either family.
  CHECK(parseCluster(R"({"nodes": [{"name": "a", "podCIDRs": ["10.0.0.0/24", "fd00::/64"]},
    {"name": "b", "podCIDRs": ["10.0.1.0/24", "fd00:0:0:1::/64"]}, {"name": "c", "podCIDRs": ["0.0.0.0/24"]}]})")
            .ok());
}

TEST_CASE("cluster file: errors name the offending key") {
  struct Case {
    const char* text;
    int code;
    const char* msg;
  };
  const Case cases[] = {
      {"{", code::kDecode, "cluster file: not JSON"},
      {"[]", code::kInvalidConfig, "cluster file: (top): must be an object with a \"nodes\" list"},
      {"{}", code::kInvalidConfig, "cluster file: nodes: must be a list"},
      {R"({"nodes": [1]})", code::kInvalidConfig, "cluster file: nodes[0]: must be an object"},
      {R"({"nodes": [{"name": ""}]})", code::kInvalidConfig,
       "cluster file: nodes[0].name: must be a non-empty string"},
      {R"({"nodes": [{"name": "a"}, {"name": "a"}]})", code::kInvalidConfig,
       "cluster file: nodes[1].name: duplicate node a"},
      {R"({"nodes": [{"name": "a", "addresses": "10.0.0.1"}]})", code::kInvalidConfig,
       "cluster file: nodes[0].addresses: must be a list of strings"},
      {R"({"nodes": [{"name": "a", "addresses": ["10.0.0.300"]}]})", code::kInvalidConfig,
       "cluster file: nodes[0].addresses[0]: 10.0.0.300 is not an IP address"},
      {R"({"nodes": [{"name": "a", "podCIDRs": [7]}]})", code::kInvalidConfig,
       "cluster file: nodes[0].podCIDRs[0]: must be a string"},
      {R"({"nodes": [{"name": "a", "podCIDRs": ["10.0.0.0/33"]}]})", code::kInvalidConfig,
       "cluster file: nodes[0].podCIDRs[0]: 10.0.0.0/33 is not a CIDR"},
      {R"({"nodes": [{"name": "a", "podCIDRs": ["10.0.0.1/24"]}]})", code::kInvalidConfig,
       "cluster file: nodes[0].podCIDRs[0]: 10.0.0.1/24 has host bits set"},
      {R"({"nodes": [{"name": "a", "podCIDRs": ["10.0.0.0/16"]}, {"name": "b", "podCIDRs": ["10.0.5.0/24"]}]})",
       code::kInvalidConfig, "cluster file: nodes[1].podCIDRs: 10.0.5.0/24 overlaps 10.0.0.0/16 of node a"},
      {R"({"nodes": [{"name": "a", "podCIDRs": ["10.1.0.0/16", "fd00::/64"]}, {"name": "b", "podCIDRs": ["10.2.0.0/16"]},
                     {"name": "c", "podCIDRs": ["fd01::/64", "10.0.0.0/8"]}]})",
       code::kInvalidConfig, "cluster file: nodes[2].podCIDRs: 10.0.0.0/8 overlaps 10.1.0.0/16 of node a"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto r = parseCluster(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
    CHECK(r.error().msg == c.msg);
  }
}

TEST_CASE("cluster file source: an atomic rename onto the file is seen, other files are not") {
  char tmpl[] = "/tmp/podnet-unit-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir(tmpl);
  const auto path = (dir / "cluster.json").string();
  auto source = ClusterFileSource::open(path);
  REQUIRE(source.ok());
  auto& s = **source;
  CHECK_FALSE(s.nodes().ok());  // not there yet
  CHECK_FALSE(s.consumeChanges());
  std::ofstream(dir / "other.json") << "{}";
  CHECK_FALSE(s.consumeChanges());
  std::ofstream(dir / "cluster.json.tmp") << R"({"nodes": [{"name": "n1"}]})";
  std::filesystem::rename(dir / "cluster.json.tmp", path);
  CHECK(s.consumeChanges());
  CHECK_FALSE(s.consumeChanges());
  const auto nodes = s.nodes();
  REQUIRE(nodes.ok());
  CHECK(nodes->size() == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cluster file source: a missing directory is an error") {
  CHECK_FALSE(ClusterFileSource::open("/nonexistent-podnet-dir/cluster.json").ok());
}

}  // namespace
}  // namespace podnet::daemon
