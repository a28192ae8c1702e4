#pragma once
// One small dispatcher for every verb: reads the environment and stdin,
// calls the handler, prints the Result or the error JSON, returns the exit code.

#include <functional>
#include <string>
#include <string_view>

#include "podnet/cni/args.hpp"
#include "podnet/cni/config.hpp"
#include "podnet/cni/env.hpp"
#include "podnet/cni/result.hpp"
#include "podnet/error/result.hpp"

namespace podnet::cni {

struct Request {
  Env env;
  NetConf conf;
  CniArgs args;
  std::string stdinData;  // the raw config, for delegation
};

struct Handlers {
  std::function<Result<CniResult>(const Request&)> add;
  std::function<Status(const Request&)> del;
  std::function<Status(const Request&)> check;
  std::function<Status(const Request&)> gc;      // may be empty: GC is then a no-op success
  std::function<Status(const Request&)> status;  // may be empty: STATUS is then success
};

struct About {
  std::string name;     // "podnet"
  std::string version;  // build version
};

// Runs one CNI call on `stdinData`; sets `out` to what goes to stdout (the
// Result, or nothing). Never throws; every failure becomes the error JSON in
// `out` and exit 1.
int runPlugin(const Handlers& handlers, const About& about, const std::string& stdinData, std::string& out,
              const Getenv& getenv);

// runPlugin on the process's stdin and stdout (read(2)/write(2), no iostreams).
int runStdio(const Handlers& handlers, const About& about, const Getenv& getenv);

// `--version` or anything else a person types (usage, then `extraUsage`);
// the exit code: 0 for --version/--help, 2 otherwise.
int terminalMain(const About& about, std::string_view arg, std::string_view extraUsage = {});

// `podnet --help` / `--version` text for a person at a terminal.
std::string usage(const About& about);

// Valid attachments for GC: `cni.dev/valid-attachments`, or the older
// `cni.dev/attachments`, each {containerID, ifname}.
struct Attachment {
  std::string containerId;
  std::string ifname;
  auto operator<=>(const Attachment&) const = default;
};
Result<std::vector<Attachment>> validAttachments(const NetConf& conf);

}  // namespace podnet::cni

namespace podnet::cni {
// The whole of a plugin's main(): `--help`/`--version` for a person, else the
// CNI protocol over the process's environment, stdin and stdout.
int pluginMain(const Handlers& handlers, const About& about, int argc, char** argv);
}  // namespace podnet::cni
