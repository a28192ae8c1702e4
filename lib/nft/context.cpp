// libnftables and the lock file. The only file that includes libnftables.h.
#include "podnet/nft/context.hpp"

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

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

void Context::Free::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Result<Context> Context::open() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return fail(code::kInternal, "libnftables: cannot create a context");
  Context c(ctx);
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0)
    return fail(code::kInternal, "libnftables: cannot buffer output");
  return c;
}

Result<std::string> Context::run(std::string_view commands, bool json) {
  nft_ctx* ctx = ctx_.get();
  nft_ctx_output_set_flags(ctx, json ? static_cast<unsigned>(NFT_CTX_OUTPUT_JSON) : 0U);
  const std::string text(commands);  // NUL-terminated for the C API
  const int rc = nft_run_cmd_from_buffer(ctx, text.c_str());
  // The buffers are reset by the next get after a run; read both every time.
  std::string out = nft_ctx_get_output_buffer(ctx);
  const std::string err = nft_ctx_get_error_buffer(ctx);
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
