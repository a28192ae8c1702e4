#pragma once
// Shared by the ipam unit tests: configs from JSON text.

#include <doctest/doctest.h>

#include <string>

#include "podnet/cni/config.hpp"
#include "podnet/ipam/config.hpp"

namespace podnet::ipam::test {

// The error message of a failed Result, "" for a success: doctest builds a
// message even for a passing assertion when run with -s.
template <class R>
std::string why(const R& r) {
  return r.ok() ? std::string() : r.error().msg;
}

// A network config whose ipam section is `ipam` (JSON text).
inline cni::NetConf netConf(const std::string& ipam, const std::string& extra = "") {
  auto conf = cni::parseNetConf(
      R"({"cniVersion":"1.1.0","name":"net1","type":"ptp","ipam":)" + ipam + extra + "}", cni::Command::kAdd);
  REQUIRE_MESSAGE(conf.ok(), why(conf));
  return *conf;
}

inline Config config(const std::string& ipam) {
  auto c = parseConfig(netConf(ipam));
  REQUIRE_MESSAGE(c.ok(), why(c));
  return *c;
}

inline std::vector<RangeSet> sets(const std::string& ipam) { return config(ipam).rangeSets; }

inline ip::Address addr(const char* text) { return *ip::Address::parse(text); }

}  // namespace podnet::ipam::test
