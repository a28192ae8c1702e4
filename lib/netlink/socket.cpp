#include "podnet/netlink/socket.hpp"

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "detail.hpp"
#include "podnet/netns/netns.hpp"

namespace podnet::netlink {
namespace detail {
namespace {

// A dump that keeps being interrupted means the table churns faster than we
// can read it: back off (1, 2, 4 .. 64 ms, to ride out a burst), then give up
// with code::kTryAgainLater rather than return a table that may be torn.
constexpr int kDumpAttempts = 8;

// The kernel's extended ack text (NLMSGERR_ATTR_MSG), if it sent one. The
// TLVs follow the nlmsgerr, and the echoed request unless it is capped.
std::string extackMessage(const nlmsgerr* err) {
  const auto* hdr = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(err) - NLMSG_HDRLEN);
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  std::size_t offset = sizeof(nlmsgerr);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  offset = NLMSG_ALIGN(offset);
  const std::size_t payload = hdr->nlmsg_len - NLMSG_HDRLEN;
  if (offset >= payload) return {};
  auto* head = reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(err)) + offset);
  nlattr* msg = nla_find(head, static_cast<int>(payload - offset), NLMSGERR_ATTR_MSG);
  if (msg == nullptr || nla_len(msg) <= 0) return {};
  return std::string(
      static_cast<const char*>(nla_data(msg)),
      strnlen(static_cast<const char*>(nla_data(msg)), static_cast<std::size_t>(nla_len(msg))));
}

int onKernelError(sockaddr_nl* /*from*/, nlmsgerr* err, void* arg) {
  auto* last = static_cast<KernelError*>(arg);
  last->errnum = -err->error;
  last->extack = extackMessage(err);
  return NL_STOP;  // libnl then returns its NLE_* code for this errno
}

struct DumpContext {
  const std::function<void(nl_object*)>* onObject;
};

void onParsed(nl_object* obj, void* arg) { (*static_cast<DumpContext*>(arg)->onObject)(obj); }

int onDumpMessage(nl_msg* msg, void* arg) {
  nl_msg_parse(msg, onParsed, arg);  // skips message types without a parser
  return NL_OK;
}

}  // namespace

SocketState::~SocketState() {
  if (sock != nullptr) nl_socket_free(sock);
}

Error SocketState::error(int nlerr, const std::string& what) const {
  const std::string reason = last.errnum != 0 ? std::strerror(last.errnum) : nl_geterror(nlerr);
  return fail(code::kIo, what + ": " + reason, last.extack);
}

Result<std::unique_ptr<SocketState>> connect() {
  auto st = std::make_unique<SocketState>();
  st->sock = nl_socket_alloc();
  if (st->sock == nullptr) return fail(code::kInternal, "netlink: cannot allocate a socket");
  int err = nl_socket_modify_err_cb(st->sock, NL_CB_CUSTOM, onKernelError, &st->last);
  if (err >= 0) err = nl_connect(st->sock, NETLINK_ROUTE);
  if (err < 0) return st->error(err, "netlink: connect NETLINK_ROUTE");
  // Best effort: kernels before 4.12 lack them, and errors then carry no details.
  const int one = 1;
  const int fd = nl_socket_get_fd(st->sock);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return st;
}

Status dump(SocketState& st, int msgType, int family, const std::string& what,
            const std::function<void()>& restart, const std::function<void(nl_object*)>& onObject) {
  DumpContext ctx{&onObject};
  int err = 0;
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1 << (attempt - 1)));
    restart();
    st.clear();
    err = nl_rtgen_request(st.sock, msgType, family, NLM_F_DUMP);
    if (err < 0) return st.error(err, what);
    nl_cb* base = nl_socket_get_cb(st.sock);
    nl_cb* cb = nl_cb_clone(base);
    nl_cb_put(base);
    if (cb == nullptr) return fail(code::kInternal, what + ": out of memory");
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, onDumpMessage, &ctx);
    err = nl_recvmsgs(st.sock, cb);
    nl_cb_put(cb);
    if (err != -NLE_DUMP_INTR) break;
  }
  if (err == -NLE_DUMP_INTR) {
    return fail(code::kTryAgainLater, what + ": dump interrupted by concurrent changes " +
                                          std::to_string(kDumpAttempts) + " times");
  }
  if (err < 0) return st.error(err, what);
  return {};
}

int toAf(ip::Family family) { return family == ip::Family::kV4 ? AF_INET : AF_INET6; }

NlAddrPtr toNlAddr(const ip::Address& addr, int prefixLen) {
  NlAddrPtr out(nl_addr_build(toAf(addr.family()), addr.bytes(), addr.size()));
  if (out) nl_addr_set_prefixlen(out.get(), prefixLen);
  return out;
}

std::optional<ip::Address> fromNlAddr(nl_addr* addr) {
  if (addr == nullptr) return std::nullopt;
  const int af = nl_addr_get_family(addr);
  if (af != AF_INET && af != AF_INET6) return std::nullopt;
  const auto family = af == AF_INET ? ip::Family::kV4 : ip::Family::kV6;
  const unsigned len = nl_addr_get_len(addr);
  if (len == 0) return ip::Address::fromInt(family, 0);
  if (len != (af == AF_INET ? 4U : 16U)) return std::nullopt;
  return ip::Address::fromBytes(family, static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(addr)));
}

}  // namespace detail

Socket::Socket(std::unique_ptr<detail::SocketState> state) : state_(std::move(state)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

Result<Socket> Socket::open() {
  PODNET_TRY(auto state, detail::connect());
  return Socket(std::move(state));
}

Result<Socket> Socket::openIn(const netns::Handle& ns) {
  return netns::run(ns, [] { return open(); });
}

}  // namespace podnet::netlink
