#pragma once
// The etcd node source (flannel's model, for clusters without Kubernetes).
//
// Every node leases one subnet per cluster CIDR (family) from etcd, through
// its v3 JSON gateway: a key per subnet (subnet_lease.hpp), written with a
// create-if-absent transaction bound to the node's etcd lease, so one subnet
// never goes to two nodes; the lease is kept alive every TTL/3. After a
// restart a node finds the key whose value names it and re-puts it under its
// new lease (same subnet, no route changes anywhere). It ranges the prefix,
// then watches it from the range's revision: every other node's key is a
// node; a deleted or expired key removes it.
//
// When etcd is unreachable nodes() keeps serving the last list (routes stay),
// and the source retries with capped exponential backoff and jitter, trying
// the endpoints in turn. Back, it re-checks its lease (re-creating it, on the
// same subnet if still free, when it expired), re-ranges and re-watches, so
// whatever changed meanwhile is caught up.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "etcd_api.hpp"
#include "http_client.hpp"
#include "node.hpp"
#include "subnet_lease.hpp"

namespace podnet::daemon {

// How the source reaches etcd: the gateway over http::Client in podnetd, an
// in-memory store in the unit tests. Callbacks run on the io_context.
class EtcdTransport {
 public:
  virtual ~EtcdTransport() = default;
  // POSTs a JSON body to `path` ("/v3/kv/range"); `done` gets the response of
  // any HTTP status, or an Error for transport failures and timeouts.
  virtual void post(const std::string& path, std::string body, std::chrono::milliseconds timeout,
                    std::function<void(Result<http::Response>)> done) = 0;
  // Opens /v3/watch with `body`; onLine gets each response line.
  virtual std::shared_ptr<http::Stream> watch(std::string body, std::chrono::milliseconds timeout,
                                              std::function<void(std::string_view)> onLine,
                                              std::function<void(Result<void>)> done) = 0;
  // Moves on to the next endpoint (after a failure).
  virtual void failover() = 0;
  virtual std::string describe() const = 0;
};

// The gateway at `endpoints` (tried in turn), over http::Client.
std::unique_ptr<EtcdTransport> makeHttpTransport(boost::asio::io_context& io,
                                                 std::vector<http::Url> endpoints);

struct EtcdSettings {
  LeaseSpec lease;
  std::string prefix = "/podnet/subnets/";
  std::chrono::seconds ttl{30};
  std::chrono::milliseconds backoffMin{200};
  std::chrono::milliseconds backoffMax{5000};
};

// Checks Options (endpoints, prefix, cluster CIDRs, node addresses, TTL);
// code::kInvalidConfig naming the flag at fault.
Result<EtcdSettings> etcdSettings(const Options& options);

class EtcdSource final : public NodeSource {
 public:
  using TransportFactory = std::function<std::unique_ptr<EtcdTransport>(boost::asio::io_context&)>;

  // The transport is made in start(), on the daemon's io_context.
  EtcdSource(EtcdSettings settings, std::string description, TransportFactory makeTransport);
  static Result<std::unique_ptr<EtcdSource>> open(const Options& options);
  ~EtcdSource() override;
  EtcdSource(const EtcdSource&) = delete;
  EtcdSource& operator=(const EtcdSource&) = delete;

  // Error (code::kTryAgainLater) until the prefix was read once; then the
  // nodes of every valid key, this node's included once it holds a subnet.
  Result<std::vector<Node>> nodes() override;
  int changeFd() const override { return eventFd_; }
  bool consumeChanges() override;
  std::string describe() const override { return description_; }
  void start(boost::asio::io_context& io) override;

  // This node's subnets, in the order of the cluster CIDRs (nullopt: none yet).
  const std::vector<std::optional<ip::Prefix>>& ownSubnets() const { return owned_; }
  // True while the watch runs (etcd reachable, lease held).
  bool connected() const { return connected_; }
  std::int64_t lease() const { return leaseId_; }

 private:
  struct Entry {
    etcd::KeyValue kv;
    std::optional<Node> node;  // nullopt: the key or value is not a valid lease
  };

  void resync(const char* why);
  void failed(const Error& error);
  void ensureLease(std::uint64_t gen);
  void readAll(std::uint64_t gen, int attempt);
  void acquire(std::uint64_t gen, std::size_t family, int attempt);
  void startWatch(std::uint64_t gen);
  void onWatchLine(std::uint64_t gen, std::string_view line);
  void armKeepAlive(std::uint64_t gen);
  void keepAlive(std::uint64_t gen);

  void post(std::uint64_t gen, const std::string& path, std::string body,
            std::function<void(Result<std::string>)> then);
  void setEntries(std::map<std::string, Entry> entries);
  void apply(const etcd::KeyValue& kv, bool deleted);
  Entry makeEntry(const etcd::KeyValue& kv) const;
  std::string ownValue(const ip::Prefix& subnet) const;
  void publishIfChanged();
  std::chrono::milliseconds requestTimeout() const;

  EtcdSettings settings_;
  std::string description_;
  TransportFactory makeTransport_;
  int eventFd_ = -1;

  std::unique_ptr<EtcdTransport> transport_;
  std::unique_ptr<boost::asio::steady_timer> retryTimer_;
  std::unique_ptr<boost::asio::steady_timer> keepAliveTimer_;
  std::shared_ptr<http::Stream> watch_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks check it: the source still exists
  std::mt19937_64 random_;

  std::uint64_t gen_ = 0;  // bumped by every resync: callbacks of an older one are ignored
  std::int64_t leaseId_ = 0;
  std::int64_t revision_ = 0;
  std::map<std::string, Entry> entries_;  // key -> lease, as last read and watched
  std::vector<std::optional<ip::Prefix>> owned_;
  std::optional<std::vector<Node>> published_;  // what nodes() returns
  bool connected_ = false;
  bool everConnected_ = false;
  int failures_ = 0;  // in a row, for the backoff
};

}  // namespace podnet::daemon
