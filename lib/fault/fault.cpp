#include "podnet/fault/fault.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace podnet::fault {
namespace {

void say(const std::string& line) {
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string_view env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string_view{} : std::string_view{value};
}

}  // namespace

bool fires(std::string_view point, int hit, std::string_view armed, std::string_view after) {
  if (armed != point) return false;
  int n = 1;
  if (!after.empty()) {
    const auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), n);
    if (ec != std::errc{} || end != after.data() + after.size() || n < 1) return false;
  }
  return hit == n;
}

void reached(std::size_t point) {
  static std::array<int, kPoints.size()> hits{};
  static bool listed = false;
  const std::string_view armed = env("PODNET_FAULT");
  if (armed.empty() || point >= kPoints.size()) return;
  const int hit = ++hits[point];
  if (armed == "list") {
    if (!listed) {
      for (const auto p : kPoints) say(fmt::format("podnet-fault: known {}\n", p));
      listed = true;
    }
    say(fmt::format("podnet-fault: reached {} {}\n", kPoints[point], hit));
    return;
  }
  if (!fires(kPoints[point], hit, armed, env("PODNET_FAULT_AFTER"))) return;
  say(fmt::format("podnet-fault: SIGKILL at {} {}\n", kPoints[point], hit));
  ::kill(::getpid(), SIGKILL);
  std::_Exit(137);  // unreachable: SIGKILL cannot be caught
}

}  // namespace podnet::fault
