#include "podnet/log/log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace podnet::log {
namespace {

struct State {
  int fd = STDERR_FILENO;
  bool ownsFd = false;
  Level level = Level::kError;
  nlohmann::json context = nlohmann::json::object();
};

State& state() {
  static State s;
  return s;
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "?";
}

}  // namespace

void configure(const std::string& path, Level level) {
  auto& s = state();
  if (s.ownsFd) ::close(s.fd);
  s.fd = STDERR_FILENO;
  s.ownsFd = false;
  s.level = level;
  if (!path.empty()) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      s.fd = fd;
      s.ownsFd = true;
    }  // else: keep stderr, so the message is not lost
  }
}

Level parseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "warn" || text == "warning") return Level::kWarn;
  if (text == "error") return Level::kError;
  if (text == "off" || text == "none") return Level::kOff;
  return Level::kInfo;
}

void setContext(const nlohmann::json& fields) { state().context = fields; }

bool enabled(Level level) {
  const auto& s = state();
  return level >= s.level && s.level != Level::kOff && level != Level::kOff;
}

void write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (!enabled(level)) return;
  auto& s = state();
  // RFC 3339 UTC by hand: fmt's chrono formatting needs std::locale.
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  nlohmann::json line = {
      {"ts", fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                         utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec)},
      {"level", levelName(level)},
      {"pid", ::getpid()},
      {"msg", msg}};
  line.update(s.context);
  line.update(fields);
  // One write() a line: concurrent plugin processes appending to one file do not interleave.
  const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  [[maybe_unused]] const auto n = ::write(s.fd, text.data(), text.size());
}

}  // namespace podnet::log
