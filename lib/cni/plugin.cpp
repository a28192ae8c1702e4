#include "podnet/cni/plugin.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <exception>
#include <string_view>

#include "podnet/cni/version.hpp"
#include "podnet/log/log.hpp"

namespace podnet::cni {
namespace {

using nlohmann::json;

// CNI_ARGS keys any podnet plugin understands; others need IgnoreUnknown.
constexpr std::array<std::string_view, 7> kKnownArgs = {
    "IgnoreUnknown", "IP", "MAC", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID",
    "K8S_POD_UID"};

Status checkArgsKnown(const CniArgs& args) {
  if (args.ignoreUnknown()) return {};
  for (const auto& [key, value] : args.pairs) {
    bool known = false;
    for (auto k : kKnownArgs) known = known || keyEquals(k, key);
    if (!known)
      return fail(code::kUnsupportedField, "unknown CNI_ARGS key",
                  fmt::format("\"{}\" (set IgnoreUnknown=1 to ignore it)", key.substr(0, 64)));
  }
  return {};
}

Status requireVersion(const NetConf& conf, Command command, std::string_view minimum) {
  if (atLeast(conf.cniVersion, minimum)) return {};
  return fail(code::kIncompatibleVersion,
              fmt::format("config version does not allow {}", commandName(command)),
              fmt::format("{} needs cniVersion {} or later, config is \"{}\"", commandName(command), minimum,
                          conf.cniVersion));
}

void configureLog(const NetConf& conf, const Env& env, const About& about) {
  const json* file = findKey(conf.raw, "logFile");
  const json* level = findKey(conf.raw, "logLevel");
  const bool toFile = file != nullptr && file->is_string() && !file->get<std::string>().empty();
  // Without a log file only errors reach stderr, unless logLevel asks for more.
  log::configure(toFile ? file->get<std::string>() : std::string(),
                 level != nullptr && level->is_string() ? log::parseLevel(level->get<std::string>())
                 : toFile                               ? log::Level::kInfo
                                                        : log::Level::kError);
  log::setContext({{"plugin", about.name},
                   {"command", commandName(env.command)},
                   {"containerID", env.containerId},
                   {"netns", env.netns},
                   {"ifname", env.ifname},
                   {"network", conf.name}});
}

// The version errors are reported in: the config's when it is one we speak.
std::string errorVersion(std::string_view stdinData) {
  const auto doc = json::parse(stdinData, nullptr, false);
  if (doc.is_object()) {
    if (const json* v = findKey(doc, "cniVersion");
        v != nullptr && v->is_string() && isSupported(v->get<std::string>()))
      return v->get<std::string>();
  }
  return std::string(kLatestVersion);
}

// Results hold only text we checked; errorJson() makes messages valid UTF-8.
// Any byte that still is not becomes U+FFFD rather than failing the output.
std::string print(const json& doc) { return doc.dump(2, ' ', false, json::error_handler_t::replace); }

Result<json> dispatch(const Handlers& handlers, const About& about, const std::string& stdinData,
                      const Getenv& getenv) {
  PODNET_TRY(Env env, parseEnv(getenv));
  if (env.command == Command::kVersion) {
    PODNET_TRY(NetConf conf, parseNetConf(stdinData.empty() ? "{}" : stdinData, Command::kVersion));
    return versionInfo(conf.cniVersion.empty() ? std::string(kLatestVersion) : conf.cniVersion);
  }
  PODNET_TRY(NetConf conf, parseNetConf(stdinData, env.command));
  configureLog(conf, env, about);
  PODNET_TRY(CniArgs args, parseCniArgs(env.args));
  PODNET_CHECK(checkArgsKnown(args));
  const Request request{std::move(env), std::move(conf), std::move(args), stdinData};
  const auto& version = request.conf.cniVersion;

  auto done = [&](const Status& status) -> Result<json> {
    if (!status) return status.error();
    return json();  // success without output
  };
  switch (request.env.command) {
    case Command::kAdd: {
      if (!handlers.add) return fail(code::kInternal, "ADD is not implemented");
      PODNET_TRY(CniResult result, handlers.add(request));
      return toJson(result, version);
    }
    case Command::kDel:
      if (!handlers.del) return fail(code::kInternal, "DEL is not implemented");
      return done(handlers.del(request));
    case Command::kCheck:
      PODNET_CHECK(requireVersion(request.conf, Command::kCheck, "0.4.0"));
      if (!handlers.check) return fail(code::kInternal, "CHECK is not implemented");
      return done(handlers.check(request));
    case Command::kGc:
      PODNET_CHECK(requireVersion(request.conf, Command::kGc, "1.1.0"));
      return handlers.gc ? done(handlers.gc(request)) : json();
    case Command::kStatus:
      PODNET_CHECK(requireVersion(request.conf, Command::kStatus, "1.1.0"));
      return handlers.status ? done(handlers.status(request)) : json();
    case Command::kVersion: break;
  }
  return fail(code::kInternal, "unreachable command");
}

}  // namespace

Result<std::vector<Attachment>> validAttachments(const NetConf& conf) {
  const json* list = findKey(conf.raw, "cni.dev/valid-attachments");
  if (list == nullptr) list = findKey(conf.raw, "cni.dev/attachments");
  if (list == nullptr || list->is_null())
    return fail(code::kInvalidConfig, "GC needs \"cni.dev/valid-attachments\"",
                "without the list of valid attachments nothing can be collected safely");
  if (!list->is_array()) return fail(code::kInvalidConfig, "\"cni.dev/valid-attachments\" must be a list");
  std::vector<Attachment> out;
  for (const auto& e : *list) {
    const json* id = findKey(e, "containerID");
    const json* ifname = findKey(e, "ifname");
    if (id == nullptr || !id->is_string() || ifname == nullptr || !ifname->is_string())
      return fail(code::kInvalidConfig, "invalid entry in \"cni.dev/valid-attachments\"", e.dump());
    out.push_back({id->get<std::string>(), ifname->get<std::string>()});
  }
  return out;
}

int runPlugin(const Handlers& handlers, const About& about, const std::string& stdinData, std::string& out,
              const Getenv& getenv) {
  try {
    auto result = dispatch(handlers, about, stdinData, getenv);
    if (result) {
      if (!result->is_null()) out = print(*result) + '\n';
      return 0;
    }
    log::error(result.error().msg, {{"code", result.error().code}, {"details", result.error().details}});
    out = print(errorJson(result.error(), errorVersion(stdinData))) + '\n';
  } catch (const std::exception& e) {
    out = print(errorJson(fail(code::kInternal, "internal error", e.what()), errorVersion(stdinData))) + '\n';
  }
  return 1;
}

namespace {

// stdin and stdout with read(2)/write(2): no iostreams in the plugin binaries,
// whose start-up would cost more memory than the rest of a plugin run.
std::string readStdin() {
  std::string data;
  std::array<char, 16384> buf{};
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n > 0) {
      data.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return data;  // EOF, or stdin unreadable: the parser reports the empty config
    }
  }
}

void writeStdout(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the runtime closed our stdout: nobody to tell
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

int runStdio(const Handlers& handlers, const About& about, const Getenv& getenv) {
  std::string out;
  const int rc = runPlugin(handlers, about, readStdin(), out, getenv);
  writeStdout(out);
  return rc;
}

int terminalMain(const About& about, std::string_view arg, std::string_view extraUsage) {
  if (arg == "--version" || arg == "-v") {
    writeStdout(about.name + " " + about.version + "\n");
    return 0;
  }
  writeStdout(usage(about));
  writeStdout(extraUsage);
  return arg == "--help" || arg == "-h" ? 0 : 2;
}

std::string usage(const About& about) {
  return fmt::format(
      "{} {}: a CNI plugin, run by a container runtime (containerd, CRI-O, podman, cnitool).\n"
      "It reads the network configuration on stdin and CNI_COMMAND (ADD, DEL, CHECK, VERSION, GC,\n"
      "STATUS), CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH from the environment,\n"
      "and prints the Result or an error as JSON on stdout.\n"
      "CNI spec versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n",
      about.name, about.version);
}

int pluginMain(const Handlers& handlers, const About& about, int argc, char** argv) {
  if (argc > 1) return terminalMain(about, argv[1]);
  return runStdio(handlers, about, processGetenv());
}

}  // namespace podnet::cni
