// The conflist podnetd writes, and the write-only-on-change rule.
#include "conflist.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace podnet::daemon {
namespace {

TEST_CASE("conflist: one IPAM range set per pod CIDR, cniVersion 1.0.0") {
  const auto text = renderConflist(ConflistSpec{
      .podCidrs = {*ip::Prefix::parse("10.244.1.0/24"), *ip::Prefix::parse("fd00:10:244:1::/64")},
      .dataDir = "/var/lib/cni/networks",
      .mtu = 1450});
  CHECK(text == R"({
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "podnet",
      "mtu": 1450,
      "ipam": {
        "type": "podnet-ipam",
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ],
          [
            {
              "subnet": "fd00:10:244:1::/64"
            }
          ]
        ],
        "dataDir": "/var/lib/cni/networks"
      }
    }
  ]
}
)");
}

TEST_CASE("conflist: optional keys are left out") {
  const auto text =
      renderConflist(ConflistSpec{.network = "n", .podCidrs = {*ip::Prefix::parse("10.0.0.0/24")}});
  CHECK(text.find("mtu") == std::string::npos);
  CHECK(text.find("dataDir") == std::string::npos);
  CHECK(text.find(R"("name": "n")") != std::string::npos);
}

TEST_CASE("conflist: portmap is chained after podnet only when asked for") {
  ConflistSpec spec{.podCidrs = {*ip::Prefix::parse("10.244.1.0/24")}};
  const auto without = renderConflist(spec);
  CHECK(without.find("portmap") == std::string::npos);
  spec.portmap = true;
  const auto with = renderConflist(spec);
  CHECK(with == R"({
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "podnet",
      "ipam": {
        "type": "podnet-ipam",
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ]
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      },
      "snat": true
    }
  ]
}
)");
  // The flag changes the content, so a daemon restarted with it rewrites the file.
  CHECK(with != without);
  CHECK_FALSE(spec == ConflistSpec{.podCidrs = spec.podCidrs});
}

TEST_CASE("conflist: written only when its content changes, atomically") {
  char tmpl[] = "/tmp/podnet-unit-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir(tmpl);
  const auto path = (dir / "10-podnet.conflist").string();
  CHECK(writeFileIfChanged(path, "one\n").value() == true);
  struct stat first {};
  REQUIRE(::stat(path.c_str(), &first) == 0);
  CHECK(writeFileIfChanged(path, "one\n").value() == false);
  struct stat same {};
  REQUIRE(::stat(path.c_str(), &same) == 0);
  CHECK(same.st_ino == first.st_ino);  // not rewritten
  CHECK(writeFileIfChanged(path, "two\n").value() == true);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "two\n");
  CHECK((first.st_mode & 0777) == 0644);
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);  // no temporary left behind
  CHECK_FALSE(writeFileIfChanged((dir / "missing" / "x").string(), "x").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace podnet::daemon
