#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "podnet/ipam/ipam.hpp"

using namespace podnet;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  fs::path dir;
  Fixture() {
    std::string tmpl = (fs::temp_directory_path() / "podnet-ipam-verbs.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~Fixture() { fs::remove_all(dir); }

  cni::Request request(const std::string& id, const std::string& extra = "") const {
    cni::Request r;
    r.env.command = cni::Command::kAdd;
    r.env.containerId = id;
    r.env.netns = "/run/netns/x";
    r.env.ifname = "eth0";
    r.conf = ipam::test::netConf(R"({"type":"podnet-ipam","subnet":"10.5.0.0/29","dataDir":")" +
                                     dir.string() + R"(","resolvConf":")" + (dir / "resolv.conf").string() +
                                     R"(","routes":[{"dst":"0.0.0.0/0"}]})",
                                 extra);
    return r;
  }
};

}  // namespace

TEST_CASE("ipam verbs: ADD result, idempotence, CHECK, DEL") {
  Fixture f;
  std::ofstream(f.dir / "resolv.conf") << "nameserver 10.5.0.53\nsearch svc.local\n";
  auto first = ipam::add(f.request("ctr1"));
  REQUIRE_MESSAGE(first.ok(), ipam::test::why(first));
  CHECK(first->cniVersion == "1.1.0");
  REQUIRE(first->ips.size() == 1);
  CHECK(first->ips[0].address.str() == "10.5.0.2/29");
  CHECK(first->ips[0].gateway == ipam::test::addr("10.5.0.1"));
  CHECK_FALSE(first->ips[0].interface.has_value());
  CHECK(first->routes.size() == 1);
  CHECK(first->dns.nameservers == std::vector<std::string>{"10.5.0.53"});
  CHECK(first->dns.search == std::vector<std::string>{"svc.local"});
  CHECK(fs::exists(f.dir / "net1" / "10.5.0.2"));

  auto again = ipam::add(f.request("ctr1"));
  REQUIRE(again.ok());
  CHECK(again->ips == first->ips);

  CHECK(ipam::check(f.request("ctr1")).ok());
  auto missing = ipam::check(f.request("ctr2"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().msg.find("failed to find address") != std::string::npos);

  CHECK(ipam::del(f.request("ctr1")).ok());
  CHECK_FALSE(fs::exists(f.dir / "net1" / "10.5.0.2"));
  CHECK(ipam::del(f.request("ctr1")).ok());  // nothing left: still success
  CHECK_FALSE(ipam::check(f.request("ctr1")).ok());
}

TEST_CASE("ipam verbs: STATUS is code 50 when full; GC frees invalid leases") {
  Fixture f;
  std::ofstream(f.dir / "resolv.conf") << "";
  CHECK(ipam::status(f.request("x")).ok());  // no directory yet: all free
  for (int i = 0; i < 5; ++i) REQUIRE(ipam::add(f.request("c" + std::to_string(i))).ok());
  auto full = ipam::status(f.request("x"));
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().code == code::kNotAvailable);
  auto exhausted = ipam::add(f.request("c9"));
  REQUIRE_FALSE(exhausted.ok());
  CHECK(exhausted.error().msg.find("10.5.0.0/29") != std::string::npos);

  auto gcReq = f.request("", R"(,"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}])");
  REQUIRE(ipam::gc(gcReq).ok());
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(f.dir / "net1"))
    left += e.path().filename().string().starts_with("10.") ? 1 : 0;
  CHECK(left == 1);
  CHECK(fs::exists(f.dir / "net1" / "10.5.0.3"));
  CHECK(ipam::status(f.request("x")).ok());
}

TEST_CASE("ipam verbs: a hostile container ID never becomes a path") {
  Fixture f;
  auto bad = ipam::add(f.request("../../etc"));
  REQUIRE_FALSE(bad.ok());
  CHECK_FALSE(fs::exists(f.dir / "net1"));
}
