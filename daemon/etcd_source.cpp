#include "etcd_source.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "podnet/log/log.hpp"

namespace podnet::daemon {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// Re-reads after a lost create/replace race before backing off.
constexpr int kMaxRaces = 16;
// Candidates a node picks its subnet from at random: fewer races when many
// nodes start at once than "the first free one".
constexpr std::size_t kCandidates = 64;

json errorJson(const Error& e) {
  json j{{"error", e.msg}, {"code", e.code}};
  if (!e.details.empty()) j["details"] = e.details;
  return j;
}

class HttpTransport final : public EtcdTransport {
 public:
  HttpTransport(asio::io_context& io, std::vector<http::Url> endpoints)
      : io_(io), urls_(std::move(endpoints)) {
    clients_.resize(urls_.size());
  }

  void post(const std::string& path, std::string body, std::chrono::milliseconds timeout,
            std::function<void(Result<http::Response>)> done) override {
    client().request(http::Request{.method = "POST",
                                   .target = path,
                                   .headers = {{"Content-Type", "application/json"}},
                                   .body = std::move(body),
                                   .timeout = timeout},
                     std::move(done));
  }

  std::shared_ptr<http::Stream> watch(std::string body, std::chrono::milliseconds timeout,
                                      std::function<void(std::string_view)> onLine,
                                      std::function<void(Result<void>)> done) override {
    return client().stream(http::Request{.method = "POST",
                                         .target = "/v3/watch",
                                         .headers = {{"Content-Type", "application/json"}},
                                         .body = std::move(body),
                                         .timeout = timeout},
                           std::move(onLine), std::move(done));
  }

  void failover() override { current_ = (current_ + 1) % urls_.size(); }

  std::string describe() const override { return urls_[current_].str(); }

 private:
  http::Client& client() {
    auto& c = clients_[current_];
    if (!c) c = std::make_unique<http::Client>(io_, urls_[current_]);
    return *c;
  }

  asio::io_context& io_;
  std::vector<http::Url> urls_;
  std::vector<std::unique_ptr<http::Client>> clients_;
  std::size_t current_ = 0;
};

}  // namespace

std::unique_ptr<EtcdTransport> makeHttpTransport(asio::io_context& io, std::vector<http::Url> endpoints) {
  return std::make_unique<HttpTransport>(io, std::move(endpoints));
}

Result<EtcdSettings> etcdSettings(const Options& options) {
  EtcdSettings settings;
  PODNET_TRY(settings.lease, makeLeaseSpec(options.nodeName, options.nodeAddresses, options.clusterCidrs,
                                           options.subnetLenV4, options.subnetLenV6));
  if (options.etcdEndpoints.empty())
    return fail(code::kInvalidConfig, "--etcd-endpoints is required with --source etcd");
  if (options.etcdPrefix.empty()) return fail(code::kInvalidConfig, "--etcd-prefix must not be empty");
  if (options.leaseTtl < std::chrono::seconds(1))
    return fail(code::kInvalidConfig, "--lease-ttl must be at least 1 second");
  settings.prefix = options.etcdPrefix;
  settings.ttl = options.leaseTtl;
  return settings;
}

Result<std::unique_ptr<EtcdSource>> EtcdSource::open(const Options& options) {
  PODNET_TRY(auto settings, etcdSettings(options));
  std::vector<http::Url> urls;
  std::string endpoints;
  for (const auto& text : options.etcdEndpoints) {
    auto url = http::Url::parse(text);
    if (!url.ok()) return fail(code::kInvalidConfig, "--etcd-endpoints: " + url.error().msg, text);
    endpoints += (endpoints.empty() ? "" : ",") + url->str();
    urls.push_back(std::move(*url));
  }
  const std::string description = "etcd " + endpoints + " prefix " + settings.prefix;
  auto source = std::make_unique<EtcdSource>(
      std::move(settings), description, [urls](asio::io_context& io) { return makeHttpTransport(io, urls); });
  if (source->changeFd() < 0) return fail(code::kIo, "eventfd failed", std::strerror(errno));
  return source;
}

EtcdSource::EtcdSource(EtcdSettings settings, std::string description, TransportFactory makeTransport)
    : settings_(std::move(settings)),
      description_(std::move(description)),
      makeTransport_(std::move(makeTransport)),
      eventFd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      random_(std::random_device{}()),
      owned_(settings_.lease.clusterCidrs.size()) {}

EtcdSource::~EtcdSource() {
  alive_.reset();
  if (watch_) watch_->cancel();
  keepAliveTimer_.reset();
  retryTimer_.reset();
  transport_.reset();
  if (eventFd_ >= 0) ::close(eventFd_);
}

Result<std::vector<Node>> EtcdSource::nodes() {
  if (!published_) return fail(code::kTryAgainLater, "etcd: the node leases have not been read yet");
  return *published_;
}

bool EtcdSource::consumeChanges() {
  std::uint64_t n = 0;
  return ::read(eventFd_, &n, sizeof n) == static_cast<ssize_t>(sizeof n) && n > 0;
}

void EtcdSource::start(asio::io_context& io) {
  transport_ = makeTransport_(io);
  retryTimer_ = std::make_unique<asio::steady_timer>(io);
  keepAliveTimer_ = std::make_unique<asio::steady_timer>(io);
  resync("start");
}

std::chrono::milliseconds EtcdSource::requestTimeout() const {
  // Short enough that a hung etcd is noticed well before the lease expires.
  const auto third = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.ttl) / 3;
  return std::clamp(third, std::chrono::milliseconds(500), std::chrono::milliseconds(5000));
}

void EtcdSource::resync(const char* why) {
  ++gen_;
  connected_ = false;
  if (watch_) watch_->cancel();
  watch_.reset();
  keepAliveTimer_->cancel();
  retryTimer_->cancel();
  log::debug("etcd: syncing", {{"why", why}, {"endpoint", transport_->describe()}});
  ensureLease(gen_);
}

void EtcdSource::failed(const Error& error) {
  ++gen_;  // whatever is still under way belongs to the failed attempt
  connected_ = false;
  if (watch_) watch_->cancel();
  watch_.reset();
  keepAliveTimer_->cancel();
  ++failures_;
  const auto& endpoint = transport_->describe();
  transport_->failover();
  auto delay = settings_.backoffMin;
  for (int i = 1; i < failures_ && delay < settings_.backoffMax; ++i) delay *= 2;
  delay = std::min(delay, settings_.backoffMax);
  // Jitter: somewhere in [delay/2, delay], so that nodes do not come back in step.
  std::uniform_int_distribution<long> jitter(delay.count() / 2, delay.count());
  delay = std::chrono::milliseconds(jitter(random_));
  auto fields = errorJson(error);
  fields["endpoint"] = endpoint;
  fields["retryMs"] = delay.count();
  fields["attempt"] = failures_;
  fields["keeping"] = published_ ? "last node list" : "no node list yet";
  log::warn("etcd: request failed; retrying", fields);
  retryTimer_->expires_after(delay);
  retryTimer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    resync("retry");
  });
}

void EtcdSource::post(std::uint64_t gen, const std::string& path, std::string body,
                      std::function<void(Result<std::string>)> then) {
  transport_->post(path, std::move(body), requestTimeout(),
                   [this, gen, path, alive = std::weak_ptr<int>(alive_),
                    then = std::move(then)](Result<http::Response> r) {
                     if (alive.expired() || gen != gen_) return;
                     if (!r.ok()) return failed(r.error());
                     if (r->status != 200) return failed(etcd::gatewayError(path, r->status, r->body));
                     then(std::move(r->body));
                   });
}

void EtcdSource::ensureLease(std::uint64_t gen) {
  auto grant = [this, gen] {
    post(gen, "/v3/lease/grant", etcd::grantRequest(settings_.ttl), [this, gen](Result<std::string> body) {
      auto id = etcd::parseGrant(*body);
      if (!id.ok()) return failed(id.error());
      leaseId_ = *id;
      log::info("etcd: lease granted", {{"lease", leaseId_}, {"ttlSeconds", settings_.ttl.count()}});
      readAll(gen, 0);
    });
  };
  if (leaseId_ == 0) return grant();
  // A lease of ours may have outlived an outage: keep it if it is alive.
  post(gen, "/v3/lease/keepalive", etcd::keepAliveRequest(leaseId_),
       [this, gen, grant](Result<std::string> body) {
         auto ttl = etcd::parseKeepAlive(*body);
         if (!ttl.ok()) return failed(ttl.error());
         if (*ttl > 0) return readAll(gen, 0);
         log::warn("etcd: our lease expired; granting a new one", {{"lease", leaseId_}});
         leaseId_ = 0;
         grant();
       });
}

void EtcdSource::readAll(std::uint64_t gen, int attempt) {
  post(gen, "/v3/kv/range", etcd::rangeRequest(settings_.prefix, prefixRangeEnd(settings_.prefix)),
       [this, gen, attempt](Result<std::string> body) {
         auto range = etcd::parseRange(*body);
         if (!range.ok()) return failed(range.error());
         std::map<std::string, Entry> entries;
         for (const auto& kv : range->kvs) entries.emplace(kv.key, makeEntry(kv));
         revision_ = range->revision;
         entries_ = std::move(entries);
         publishIfChanged();
         acquire(gen, 0, attempt);
       });
}

std::string EtcdSource::ownValue(const ip::Prefix& subnet) const {
  return encodeLeaseValue(
      Node{.name = settings_.lease.nodeName, .addresses = settings_.lease.addresses, .podCidrs = {subnet}});
}

void EtcdSource::acquire(std::uint64_t gen, std::size_t family, int attempt) {
  const auto& cidrs = settings_.lease.clusterCidrs;
  if (family == cidrs.size()) return startWatch(gen);
  const auto& cidr = cidrs[family];
  const int len = settings_.lease.subnetLen(cidr);
  auto fits = [&](const ip::Prefix& p) { return p.len == len && cidr.contains(p.addr); };

  // A key of this family that names this node: ours from before (a restart,
  // or an outage that outlived our lease). Prefer the one we held last.
  const Entry* mine = nullptr;
  std::vector<ip::Prefix> used;
  for (const auto& [key, e] : entries_) {
    const auto subnet = parseSubnetKey(settings_.prefix, key);
    if (!subnet) continue;
    used.push_back(*subnet);
    if (!e.node || e.node->name != settings_.lease.nodeName || !fits(*subnet)) continue;
    if (!mine || owned_[family] == subnet) mine = &e;
  }

  auto next = [this, gen, family] { acquire(gen, family + 1, 0); };
  auto raced = [this, gen, attempt](const char* what) {
    if (attempt + 1 >= kMaxRaces) return failed(fail(code::kTryAgainLater, std::string("etcd: ") + what));
    log::info("etcd: lost a race for a subnet; re-reading", {{"what", what}, {"attempt", attempt + 1}});
    readAll(gen, attempt + 1);
  };
  auto txn = [this, gen, family, next, raced](const ip::Prefix& subnet, std::string body,
                                              std::int64_t createRevision, const char* what) {
    post(gen, "/v3/kv/txn", std::move(body),
         [this, family, subnet, createRevision, next, raced, what](Result<std::string> answer) {
           auto r = etcd::parseTxn(*answer);
           if (!r.ok()) return failed(r.error());
           if (!r->succeeded) return raced(what);
           const auto key = subnetKey(settings_.prefix, subnet);
           apply(etcd::KeyValue{.key = key,
                                .value = ownValue(subnet),
                                .createRevision = createRevision ? createRevision : r->revision,
                                .modRevision = r->revision,
                                .lease = leaseId_},
                 false);
           if (owned_[family] != subnet)
             log::info("etcd: subnet leased", {{"subnet", subnet.str()}, {"key", key}, {"how", what}});
           owned_[family] = subnet;
           publishIfChanged();
           next();
         });
  };

  if (mine) {
    const auto subnet = *parseSubnetKey(settings_.prefix, mine->kv.key);
    const auto value = ownValue(subnet);
    if (mine->kv.lease == leaseId_ && mine->kv.value == value) {
      owned_[family] = subnet;
      return next();
    }
    return txn(subnet, etcd::replaceIfUnchangedTxn(mine->kv.key, value, leaseId_, mine->kv.modRevision),
               mine->kv.createRevision, "reclaimed");
  }
  std::optional<ip::Prefix> pick;
  // The subnet we held before, if nobody took it meanwhile.
  if (const auto& last = owned_[family]; last && fits(*last) && freeSubnets(*last, len, used, 1).size() == 1)
    pick = *last;
  if (!pick) {
    const auto free = freeSubnets(cidr, len, used, kCandidates);
    if (free.empty()) {
      log::error("etcd: no free subnet left in the cluster CIDR",
                 {{"clusterCIDR", cidr.str()}, {"subnetLen", len}, {"leases", entries_.size()}});
      owned_[family].reset();
      return next();
    }
    std::uniform_int_distribution<std::size_t> any(0, free.size() - 1);
    pick = free[any(random_)];
  }
  txn(*pick, etcd::createIfAbsentTxn(subnetKey(settings_.prefix, *pick), ownValue(*pick), leaseId_), 0,
      "created");
}

void EtcdSource::startWatch(std::uint64_t gen) {
  const auto alive = std::weak_ptr<int>(alive_);
  watch_ = transport_->watch(
      etcd::watchRequest(settings_.prefix, prefixRangeEnd(settings_.prefix), revision_ + 1), requestTimeout(),
      [this, gen, alive](std::string_view line) {
        if (alive.expired() || gen != gen_) return;
        onWatchLine(gen, line);
      },
      [this, gen, alive](Result<void> done) {
        if (alive.expired() || gen != gen_) return;
        failed(done.ok() ? fail(code::kTryAgainLater, "etcd: the watch stream ended") : done.error());
      });
}

void EtcdSource::onWatchLine(std::uint64_t gen, std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  auto m = etcd::parseWatchLine(line);
  if (!m.ok()) return failed(m.error());
  if (m->created && !connected_) {
    connected_ = true;
    failures_ = 0;
    json owned = json::array();
    for (const auto& o : owned_) {
      if (o) owned.push_back(o->str());
    }
    log::info(everConnected_ ? "etcd: back in sync" : "etcd: in sync", {{"endpoint", transport_->describe()},
                                                                        {"revision", revision_},
                                                                        {"leases", entries_.size()},
                                                                        {"lease", leaseId_},
                                                                        {"subnets", owned}});
    everConnected_ = true;
    armKeepAlive(gen);
  }
  if (m->canceled) {
    log::warn("etcd: watch canceled; re-reading",
              {{"compactRevision", m->compactRevision}, {"reason", m->cancelReason}});
    return resync("watch canceled");
  }
  bool lostOwn = false;
  for (const auto& e : m->events) {
    revision_ = std::max(revision_, e.kv.modRevision);
    if (e.deleted) {
      for (const auto& o : owned_) lostOwn = lostOwn || (o && subnetKey(settings_.prefix, *o) == e.kv.key);
    }
    apply(e.kv, e.deleted);
  }
  publishIfChanged();
  if (lostOwn) {
    log::warn("etcd: our subnet's key was deleted; leasing again");
    resync("own key deleted");
  }
}

void EtcdSource::armKeepAlive(std::uint64_t gen) {
  keepAliveTimer_->expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(settings_.ttl) / 3);
  keepAliveTimer_->async_wait(
      [this, gen, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired() || gen != gen_) return;
        keepAlive(gen);
      });
}

void EtcdSource::keepAlive(std::uint64_t gen) {
  post(gen, "/v3/lease/keepalive", etcd::keepAliveRequest(leaseId_), [this, gen](Result<std::string> body) {
    auto ttl = etcd::parseKeepAlive(*body);
    if (!ttl.ok()) return failed(ttl.error());
    if (*ttl > 0) {
      // A family still without a subnet (the cluster CIDR was full): try again.
      if (std::any_of(owned_.begin(), owned_.end(), [](const auto& o) { return !o; }))
        return resync("no subnet yet");
      return armKeepAlive(gen);
    }
    log::warn("etcd: our lease expired; leasing again", {{"lease", leaseId_}});
    leaseId_ = 0;
    resync("lease expired");
  });
}

EtcdSource::Entry EtcdSource::makeEntry(const etcd::KeyValue& kv) const {
  Entry e{.kv = kv, .node = std::nullopt};
  const auto subnet = parseSubnetKey(settings_.prefix, kv.key);
  auto node = decodeLeaseValue(kv.value);
  if (!subnet || !node.ok()) {
    log::warn("etcd: ignoring a key that is not a valid subnet lease",
              {{"key", kv.key}, {"error", node.ok() ? "the key names no subnet" : node.error().msg}});
    return e;
  }
  // The key is what the transaction guarded: it wins over the value.
  if (node->podCidrs != std::vector<ip::Prefix>{*subnet}) {
    log::warn("etcd: ignoring a lease whose podCIDRs differ from its key", {{"key", kv.key}});
    return e;
  }
  e.node = std::move(*node);
  return e;
}

void EtcdSource::apply(const etcd::KeyValue& kv, bool deleted) {
  if (deleted) {
    entries_.erase(kv.key);
  } else {
    entries_.insert_or_assign(kv.key, makeEntry(kv));
  }
}

void EtcdSource::publishIfChanged() {
  std::vector<Node> leases;
  leases.reserve(entries_.size());
  for (const auto& [key, e] : entries_) {
    if (e.node) leases.push_back(*e.node);
  }
  auto nodes = mergeLeases(leases);
  if (published_ && *published_ == nodes) return;
  published_ = std::move(nodes);
  const std::uint64_t one = 1;
  if (::write(eventFd_, &one, sizeof one) < 0) {
    log::warn("etcd: cannot signal a change", {{"error", std::strerror(errno)}});
  }
}

}  // namespace podnet::daemon
