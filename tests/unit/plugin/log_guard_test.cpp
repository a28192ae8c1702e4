// log::enabled, which the plugin uses to skip building the fields of log
// lines that would not be written.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

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

TEST_CASE("log: a line is one JSON object with an RFC 3339 UTC timestamp") {
  char path[] = "/tmp/podnet-log-test.XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  podnet::log::configure(path, Level::kInfo);
  podnet::log::info("hello", {{"k", 1}});
  podnet::log::configure("", Level::kError);  // the default again; closes the file
  std::string text;
  if (FILE* f = std::fopen(path, "r")) {
    char buf[512];
    text.assign(buf, std::fread(buf, 1, sizeof buf, f));
    std::fclose(f);
  }
  ::unlink(path);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const auto line = nlohmann::json::parse(text);
  CHECK(line["msg"] == "hello");
  CHECK(line["k"] == 1);
  const std::string ts = line["ts"];
  REQUIRE(ts.size() == 20);  // 2026-12-03T08:25:06Z
  for (std::size_t i : {4u, 7u}) CHECK(ts[i] == '-');
  CHECK(ts[10] == 'T');
  for (std::size_t i : {13u, 16u}) CHECK(ts[i] == ':');
  CHECK(ts[19] == 'Z');
  CHECK(std::stoi(ts.substr(0, 4)) >= 2024);
  CHECK(std::stoi(ts.substr(5, 2)) >= 1);
  CHECK(std::stoi(ts.substr(5, 2)) <= 12);
}
