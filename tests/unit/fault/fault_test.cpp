#include "podnet/fault/fault.hpp"

#include <doctest/doctest.h>

#include <set>

using podnet::fault::fires;
using podnet::fault::kPoints;

TEST_CASE("fault: every point has a unique name, indexed at compile time") {
  const std::set<std::string_view> names(kPoints.begin(), kPoints.end());
  CHECK(names.size() == kPoints.size());
  static_assert(podnet::fault::indexOf("add.after_ipam") < kPoints.size());
  static_assert(kPoints[podnet::fault::indexOf("del.after_link")] == "del.after_link");
  for (const auto p : kPoints) CHECK_MESSAGE(p != "list", "\"list\" is the listing mode, not a point");
}

TEST_CASE("fault: a point fires only when armed, on the n-th hit") {
  CHECK(fires("add.after_ipam", 1, "add.after_ipam", ""));
  CHECK_FALSE(fires("add.after_ipam", 2, "add.after_ipam", ""));
  CHECK_FALSE(fires("add.after_ipam", 1, "", ""));
  CHECK_FALSE(fires("add.after_ipam", 1, "add.after_running", ""));
  CHECK_FALSE(fires("add.after_ipam", 1, "list", ""));
  CHECK(fires("ipam.store.before_rename", 3, "ipam.store.before_rename", "3"));
  CHECK_FALSE(fires("ipam.store.before_rename", 2, "ipam.store.before_rename", "3"));
  for (const char* bad : {"0", "-1", "x", "2x", " 2"})
    CHECK_FALSE(fires("add.after_ipam", 2, "add.after_ipam", bad));
}
