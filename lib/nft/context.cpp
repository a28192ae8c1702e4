// libnftables and the lock file. The only file that includes libnftables.h.
//
// libnftables is loaded with dlopen() on first use, not linked: it drags in
// five more shared libraries (libnftnl, libmnl, libxtables, libjansson,
// libgmp) whose loading and relocation cost every plugin exec several times
// the work of an ADD, while only ipMasq needs them.
#include "podnet/nft/context.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <nftables/libnftables.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace podnet::nft {
namespace {

constexpr const char* kLibrary = "libnftables.so.1";

// The libnftables functions we call, resolved once per process.
struct Api {
  decltype(&nft_ctx_new) ctxNew = nullptr;
  decltype(&nft_ctx_free) ctxFree = nullptr;
  decltype(&nft_ctx_buffer_output) bufferOutput = nullptr;
  decltype(&nft_ctx_buffer_error) bufferError = nullptr;
  decltype(&nft_ctx_output_set_flags) setFlags = nullptr;
  decltype(&nft_run_cmd_from_buffer) run = nullptr;
  decltype(&nft_ctx_get_output_buffer) outputBuffer = nullptr;
  decltype(&nft_ctx_get_error_buffer) errorBuffer = nullptr;
  std::string error;  // why loading failed; empty when loaded
};

template <class F>
bool resolve(void* lib, const char* name, F& out, std::string& error) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (out == nullptr && error.empty()) error = fmt::format("{}: no symbol {}", kLibrary, name);
  return out != nullptr;
}

const Api& api() {
  static const Api loaded = [] {
    Api a;
    void* lib = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      a.error = why != nullptr ? why : kLibrary;
      return a;
    }
    // Never dlclose()d: the process is short-lived and contexts may outlive callers.
    resolve(lib, "nft_ctx_new", a.ctxNew, a.error);
    resolve(lib, "nft_ctx_free", a.ctxFree, a.error);
    resolve(lib, "nft_ctx_buffer_output", a.bufferOutput, a.error);
    resolve(lib, "nft_ctx_buffer_error", a.bufferError, a.error);
    resolve(lib, "nft_ctx_output_set_flags", a.setFlags, a.error);
    resolve(lib, "nft_run_cmd_from_buffer", a.run, a.error);
    resolve(lib, "nft_ctx_get_output_buffer", a.outputBuffer, a.error);
    resolve(lib, "nft_ctx_get_error_buffer", a.errorBuffer, a.error);
    return a;
  }();
  return loaded;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

void Context::Free::operator()(nft_ctx* ctx) const { api().ctxFree(ctx); }

Result<Context> Context::open() {
  const Api& nft = api();
  if (!nft.error.empty())
    return fail(code::kInternal, "libnftables is not available",
                nft.error + " (Debian package libnftables1)");
  nft_ctx* ctx = nft.ctxNew(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return fail(code::kInternal, "libnftables: cannot create a context");
  Context c(ctx);
  if (nft.bufferOutput(ctx) != 0 || nft.bufferError(ctx) != 0)
    return fail(code::kInternal, "libnftables: cannot buffer output");
  return c;
}

Result<std::string> Context::run(std::string_view commands, bool json) {
  const Api& nft = api();  // loaded: a Context exists
  nft_ctx* ctx = ctx_.get();
  nft.setFlags(ctx, json ? static_cast<unsigned>(NFT_CTX_OUTPUT_JSON) : 0U);
  const std::string text(commands);  // NUL-terminated for the C API
  const int rc = nft.run(ctx, text.c_str());
  // The buffers are reset by the next get after a run; read both every time.
  std::string out = nft.outputBuffer(ctx);
  const std::string err = nft.errorBuffer(ctx);
  if (rc == 0) return out;
  const std::string_view e = trim(err);
  const auto nl = e.find('\n');
  std::string msg = fmt::format("nftables: {}", nl == std::string_view::npos ? e : e.substr(0, nl));
  if (e.empty()) msg = "nftables: command failed";
  return fail(code::kInternal, std::move(msg),
              std::string(nl == std::string_view::npos ? "" : e.substr(nl + 1)));
}

Result<Lock> Lock::acquire(const std::string& dir, const std::string& path,
                           std::chrono::milliseconds timeout) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(code::kIo, fmt::format("cannot create {}", dir), std::strerror(errno));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(code::kIo, fmt::format("cannot open {}", path), std::strerror(errno));
  Lock lock(fd);
  // Non-blocking attempts with a growing pause: a stuck holder becomes an
  // error the runtime retries, not a plugin that never returns.
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + timeout;
  for (auto pause = microseconds(100);; pause = std::min(pause * 2, microseconds(5000))) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR)
      return fail(code::kIo, fmt::format("cannot lock {}", path), std::strerror(errno));
    if (steady_clock::now() > deadline)
      return fail(code::kTryAgainLater, fmt::format("{} is held by another process", path),
                  fmt::format("waited {} ms", timeout.count()));
    std::this_thread::sleep_for(pause);
  }
}

Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace podnet::nft
