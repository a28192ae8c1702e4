// Batch: several changes, one sendmsg, one ack each.
#include <linux/if.h>
#include <netlink/msg.h>

#include "detail.hpp"
#include "podnet/netlink/socket.hpp"

namespace podnet::netlink {

Batch::~Batch() {
  for (auto& r : requests_) nlmsg_free(static_cast<nl_msg*>(r.msg));
}

void Batch::queue(void* msg, int err, std::string what) {
  if (msg == nullptr) {
    if (!buildError_) {
      buildError_ = err < 0 ? fail(code::kIo, what + ": " + nl_geterror(err))
                            : fail(code::kInternal, what + ": out of memory");
    }
    return;
  }
  requests_.push_back({msg, std::move(what)});
}

void Batch::setUp(int index) {
  std::string what = "set link " + std::to_string(index) + " up";
  const detail::LinkPtr orig(rtnl_link_alloc());
  const detail::LinkPtr changes(rtnl_link_alloc());
  nl_msg* msg = nullptr;
  int err = 0;
  if (orig && changes) {
    rtnl_link_set_ifindex(orig.get(), index);
    rtnl_link_set_flags(changes.get(), IFF_UP);
    err = rtnl_link_build_change_request(orig.get(), changes.get(), 0, &msg);
  }
  queue(msg, err, std::move(what));
}

void Batch::addAddress(int index, const ip::Prefix& prefix, AddrOptions options) {
  std::string what = detail::describeAddAddress(index, prefix);
  auto addr = detail::toRtnlAddr(index, prefix, options, what);
  if (!addr) {
    if (!buildError_) buildError_ = addr.error();
    return;
  }
  nl_msg* msg = nullptr;
  const int err = rtnl_addr_build_add_request(addr->get(), NLM_F_EXCL, &msg);
  queue(msg, err, std::move(what));
}

void Batch::addRoute(const Route& r) {
  std::string what = "add route " + describe(r);
  auto route = detail::toRtnl(r, what);
  if (!route) {
    if (!buildError_) buildError_ = route.error();
    return;
  }
  nl_msg* msg = nullptr;
  const int err = rtnl_route_build_add_request(route->get(), NLM_F_EXCL, &msg);
  queue(msg, err, std::move(what));
}

Status Batch::send() {
  if (buildError_) return *buildError_;
  if (requests_.empty()) return {};
  // Sequence numbers and NLM_F_ACK as libnl's own send would set them, in
  // order, so each ack matches the next expected sequence number.
  std::string train;
  for (auto& r : requests_) {
    auto* msg = static_cast<nl_msg*>(r.msg);
    nl_complete_msg(state_.sock, msg);
    const nlmsghdr* hdr = nlmsg_hdr(msg);
    train.append(reinterpret_cast<const char*>(hdr), NLMSG_ALIGN(hdr->nlmsg_len));
  }
  state_.clear();
  int err = nl_sendto(state_.sock, train.data(), train.size());
  if (err < 0) return state_.error(err, requests_.front().what);
  std::optional<Error> first;
  for (const auto& r : requests_) {
    state_.clear();
    err = nl_wait_for_ack(state_.sock);
    if (err < 0 && !first) first = state_.error(err, r.what);
  }
  for (auto& r : requests_) nlmsg_free(static_cast<nl_msg*>(r.msg));
  requests_.clear();
  if (first) return *first;
  return {};
}

}  // namespace podnet::netlink
