#include "podnet/cni/delegate.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "podnet/cni/config.hpp"

extern char** environ;

namespace podnet::cni {
namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Error ioError(std::string msg) { return fail(code::kIo, std::move(msg), std::strerror(errno)); }

// The child's environment: ours, with CNI_COMMAND set to `command`.
std::vector<std::string> childEnv(Command command) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "CNI_COMMAND=", 12) != 0) out.emplace_back(*e);
  }
  out.push_back(fmt::format("CNI_COMMAND={}", commandName(command)));
  return out;
}

// Parses a failed plugin's stdout as the CNI error JSON.
Error pluginError(std::string_view type, int status, const std::string& output) {
  const auto doc = nlohmann::json::parse(output, nullptr, false);
  if (doc.is_object()) {
    const auto* c = findKey(doc, "code");
    const auto* m = findKey(doc, "msg");
    if (c != nullptr && c->is_number_integer() && m != nullptr && m->is_string()) {
      const auto* d = findKey(doc, "details");
      return fail(c->get<int>(), m->get<std::string>(),
                  d != nullptr && d->is_string() ? d->get<std::string>() : "");
    }
  }
  return fail(code::kInternal, fmt::format("plugin {} failed", type),
              fmt::format("exit status {}, output: {}", status, output.substr(0, 512)));
}

}  // namespace

Result<std::string> findPlugin(const Env& env, std::string_view type) {
  if (type.empty() || type == "." || type == ".." || type.find('/') != std::string_view::npos ||
      type.find('\0') != std::string_view::npos)
    return fail(code::kInvalidConfig, "invalid plugin type", fmt::format("\"{}\" is not a plain name", type));
  for (const auto& dir : env.pathDirs()) {
    auto path = fmt::format("{}/{}", dir, type);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0)
      return path;
  }
  return fail(code::kInvalidConfig, fmt::format("failed to find plugin \"{}\" in path [{}]", type, env.path));
}

Result<std::string> execPlugin(const Env& env, std::string_view type, Command command,
                               std::string_view stdinData) {
  PODNET_TRY(const std::string path, findPlugin(env, type));

  // stdin from a memfd: the child can read it at its own pace, no deadlock.
  Fd input(::memfd_create("podnet-delegate-stdin", MFD_CLOEXEC));
  if (input.get() < 0) return ioError("memfd_create");
  for (std::size_t off = 0; off < stdinData.size();) {
    const auto n = ::write(input.get(), stdinData.data() + off, stdinData.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("write delegate stdin");
    off += static_cast<std::size_t>(n);
  }
  if (::lseek(input.get(), 0, SEEK_SET) < 0) return ioError("lseek");

  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) < 0) return ioError("pipe");
  Fd readEnd(pipeFds[0]);
  Fd writeEnd(pipeFds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), STDOUT_FILENO);

  auto envStrings = childEnv(command);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = path;
  char* argv[] = {arg0.data(), nullptr};

  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return fail(code::kIo, fmt::format("failed to exec plugin {}", path), std::strerror(rc));
  writeEnd.reset();

  std::string output;
  char buf[4096];
  for (;;) {
    const auto n = ::read(readEnd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
  const int shown = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return pluginError(type, shown, output);
}

Result<CniResult> delegateAdd(const Env& env, std::string_view type, std::string_view stdinData) {
  PODNET_TRY(const std::string output, execPlugin(env, type, Command::kAdd, stdinData));
  const auto doc = nlohmann::json::parse(output, nullptr, false);
  if (doc.is_discarded())
    return fail(code::kDecode, fmt::format("plugin {} printed no valid JSON", type), output.substr(0, 512));
  return resultFromJson(doc);
}

Status delegateRun(const Env& env, std::string_view type, Command command, std::string_view stdinData) {
  auto output = execPlugin(env, type, command, stdinData);
  if (!output) return output.error();
  return {};
}

}  // namespace podnet::cni
