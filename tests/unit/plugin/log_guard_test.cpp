// log::enabled, which the plugin uses to skip building the fields of log
// lines that would not be written.
#include <doctest/doctest.h>

#include "podnet/log/log.hpp"

using podnet::log::Level;

TEST_CASE("log: enabled() follows the configured level") {
  podnet::log::configure("", Level::kWarn);
  CHECK_FALSE(podnet::log::enabled(Level::kDebug));
  CHECK_FALSE(podnet::log::enabled(Level::kInfo));
  CHECK(podnet::log::enabled(Level::kWarn));
  CHECK(podnet::log::enabled(Level::kError));
  podnet::log::configure("", Level::kOff);
  CHECK_FALSE(podnet::log::enabled(Level::kError));
  podnet::log::configure("", Level::kDebug);
  CHECK(podnet::log::enabled(Level::kDebug));
  CHECK_FALSE(podnet::log::enabled(Level::kOff));
  podnet::log::configure("", Level::kError);  // the default, for the tests after this one
  CHECK_FALSE(podnet::log::enabled(Level::kInfo));
}
