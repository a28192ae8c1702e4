#include "daemon.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <memory>

#include "conflist.hpp"
#include "http_server.hpp"
#include "kernel.hpp"
#include "masquerade.hpp"
#include "metrics.hpp"
#include "podnet/log/log.hpp"
#include "podnet/netlink/events.hpp"
#include "sources.hpp"
#ifdef PODNET_HAVE_NFT
#include "podnet/nft/context.hpp"
#endif
#include "reconcile.hpp"
#include "status.hpp"

namespace podnet::daemon {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr auto kReadable = asio::posix::stream_descriptor::wait_read;

json errorJson(const Error& e) {
  json j{{"error", e.msg}, {"code", e.code}};
  if (!e.details.empty()) j["details"] = e.details;
  return j;
}

class Daemon {
 public:
  Daemon(Options options, std::unique_ptr<NodeSource> source, NetlinkKernel kernel,
         netlink::EventSocket events)
      : options_(std::move(options)),
        source_(std::move(source)),
        kernel_(std::move(kernel)),
        events_(std::move(events)),
        eventStream_(io_, ::dup(events_.fd())),
        signals_(io_, SIGTERM, SIGINT),
        resyncTimer_(io_),
        reconcileTimer_(io_),
        http_(io_, [this](std::string_view path) { return serve(path); }) {
    if (const int fd = source_->changeFd(); fd >= 0) sourceStream_.emplace(io_, ::dup(fd));
  }

  int run() {
    if (!options_.listen.empty()) {
      auto endpoint = parseEndpoint(options_.listen);
      if (endpoint.ok()) {
        if (auto st = http_.listen(*endpoint); !st.ok()) endpoint = st.error();
      }
      if (!endpoint.ok()) {
        log::error("cannot serve HTTP", errorJson(endpoint.error()));
        return 1;
      }
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      log::info("shutting down; routes stay in place", {{"signal", signo}});
      io_.stop();
    });
    log::info("podnetd started", {{"node", options_.nodeName},
                                  {"source", source_->describe()},
                                  {"listen", options_.listen},
                                  {"resyncMs", options_.resync.count()},
                                  {"routeProtocol", kRouteProtocol}});
    source_->start(io_);
    loadNodes("start");
    syncMasquerade(false);
    reconcileNow("start");
    waitEvents();
    waitSource();
    armResync();
    io_.run();
    return 0;
  }

 private:
  void waitEvents() {
    eventStream_.async_wait(kReadable, [this](const boost::system::error_code& ec) {
      if (ec) return;
      onRouteEvents();
      waitEvents();
    });
  }

  // Our own routes, connected subnets (protocol kernel) and any deletion
  // (e.g. of a foreign route that held a key we want) can change the result.
  void onRouteEvents() {
    bool matters = false;
    const auto st = events_.drain([&](const netlink::RouteEvent& e) {
      if (e.route.table != RT_TABLE_MAIN) return;
      matters = matters || e.kind == netlink::RouteEvent::Kind::kDeleted ||
                e.route.protocol == kRouteProtocol || e.route.protocol == RTPROT_KERNEL;
    });
    if (!st.ok()) {
      log::warn("route events lost; resyncing", errorJson(st.error()));
      matters = true;
    }
    if (matters) scheduleReconcile();
  }

  void waitSource() {
    if (!sourceStream_) return;
    sourceStream_->async_wait(kReadable, [this](const boost::system::error_code& ec) {
      if (ec) return;
      // One notification is one change: no need to wait for more.
      if (source_->consumeChanges() && loadNodes("change")) {
        reconcileNow("change");
        syncMasquerade(false);
      }
      waitSource();
    });
  }

  void armResync() {
    resyncTimer_.expires_after(options_.resync);
    resyncTimer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      loadNodes("resync");
      reconcileNow("resync");
      syncMasquerade(true);
      armResync();
    });
  }

  void scheduleReconcile() {
    if (reconcilePending_) return;
    reconcilePending_ = true;
    reconcileTimer_.expires_after(kReconcileDelay);
    reconcileTimer_.async_wait([this](const boost::system::error_code& ec) {
      reconcilePending_ = false;
      if (!ec) reconcileNow("event");
    });
  }

  // Reads the node source; true if the list changed. On error the last good
  // list stays.
  bool loadNodes(const char* why) {
    auto loaded = source_->nodes();
    if (!loaded.ok()) {
      ++metrics_.sourceErrorsTotal;
      auto fields = errorJson(loaded.error());
      fields["source"] = source_->describe();
      fields["keeping"] = nodes_ ? "last good node list" : "no node list yet: changing nothing";
      log::error("cannot load nodes", fields);
      return false;
    }
    const bool changed = !nodes_ || *nodes_ != *loaded;
    if (changed) {
      log::info("node list loaded", {{"why", why}, {"nodes", loaded->size()}});
      nodes_ = std::move(*loaded);
      metrics_.nodesKnown = nodes_->size();
    }
    writeConflist();
    return changed;
  }

  void writeConflist() {
    if (options_.cniConfDir.empty() || !nodes_) return;
    const auto self = std::find_if(nodes_->begin(), nodes_->end(),
                                   [&](const Node& n) { return n.name == options_.nodeName; });
    if (self == nodes_->end() || self->podCidrs.empty()) {
      if (!warnedNoSelf_)
        log::warn("this node has no pod CIDR in the node list; no CNI config written",
                  {{"node", options_.nodeName}});
      warnedNoSelf_ = true;
      return;
    }
    warnedNoSelf_ = false;
    const std::string path = options_.cniConfDir + "/" + options_.conflistName;
    const auto written = writeFileIfChanged(path, renderConflist(ConflistSpec{.network = options_.network,
                                                                              .podCidrs = self->podCidrs,
                                                                              .dataDir = options_.ipamDataDir,
                                                                              .mtu = options_.mtu,
                                                                              .portmap = options_.portmap}));
    if (!written.ok()) {
      log::error("cannot write CNI config", errorJson(written.error()));
    } else if (*written) {
      ++metrics_.conflistWritesTotal;
      json cidrs = json::array();
      for (const auto& c : self->podCidrs) cidrs.push_back(c.str());
      log::info("CNI config written", {{"path", path}, {"podCIDRs", cidrs}});
    }
  }

  void reconcileNow(const char* why) {
    if (!nodes_) return;
    const auto start = std::chrono::steady_clock::now();
    auto result = reconcile(kernel_, *nodes_, options_.nodeName);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++metrics_.reconcileTotal;
    metrics_.reconcileSecondsSum += seconds;
    metrics_.reconcileSecondsLast = seconds;
    if (!result.ok()) {
      ++metrics_.reconcileErrorsTotal;
      log::error("reconcile failed", errorJson(result.error()));
      return;
    }
    auto& report = *result;
    for (const auto& e : report.errors) log::error("route change failed", errorJson(e));
    if (!report.errors.empty()) ++metrics_.reconcileErrorsTotal;
    metrics_.routesReplacedTotal += report.replaced;
    metrics_.routesRemovedTotal += report.removed;
    metrics_.routesProgrammed = report.programmed.size();
    metrics_.routesBlocked = report.blocked.size();
    std::vector<std::string> unreachable;
    for (const auto& s : report.plan.skipped) {
      if (std::find(unreachable.begin(), unreachable.end(), s.node) == unreachable.end())
        unreachable.push_back(s.node);
    }
    metrics_.nodesUnreachable = unreachable.size();
    // Log what is new, not every periodic pass.
    if (report.replaced + report.removed > 0 || !report.errors.empty() ||
        report.plan.skipped != lastSkipped_ || report.blocked != lastBlocked_) {
      json skipped = json::array();
      for (const auto& s : report.plan.skipped) {
        skipped.push_back({{"node", s.node}, {"podCIDR", s.podCidr.str()}, {"reason", s.reason}});
      }
      json blocked = json::array();
      for (const auto& r : report.blocked) blocked.push_back(describe(r));
      log::info("reconciled", {{"why", why},
                               {"wanted", report.plan.routes.size()},
                               {"replaced", report.replaced},
                               {"removed", report.removed},
                               {"errors", report.errors.size()},
                               {"skipped", skipped},
                               {"blocked", blocked},
                               {"seconds", seconds}});
    }
    lastSkipped_ = report.plan.skipped;
    lastBlocked_ = report.blocked;
    metrics_.ready = true;
    last_ = std::move(report);
  }

  // Writes podnetd's nftables table when its wanted content changed (or,
  // with `verify`, when it has gone missing); one transaction each time.
  void syncMasquerade(bool verify) {
#ifdef PODNET_HAVE_NFT
    if (!nodes_) return;
    if (!nft_) {
      auto ctx = nft::Context::open();
      if (!ctx.ok()) {
        ++metrics_.masqueradeErrorsTotal;
        log::error("cannot open libnftables", errorJson(ctx.error()));
        return;
      }
      nft_.emplace(std::move(*ctx));
    }
    const auto table = options_.masquerade ? renderMasquerade(*nodes_, options_.nodeName) : std::string();
    const auto script = table.empty() ? renderMasqueradeRemoval() : table;
    // At start, and with `verify`, a table that is already right is left alone.
    if (!table.empty() && (masqueradeApplied_.empty() || (verify && script == masqueradeApplied_))) {
      const auto listing = nft_->run("list table inet " + std::string(kMasqueradeTable));
      if (listing.ok() && masqueradeMarker(*listing) == masqueradeMarker(table)) {
        masqueradeApplied_ = script;
        return;
      }
    } else if (script == masqueradeApplied_) {
      return;
    }
    if (auto done = nft_->run(script); !done.ok()) {
      ++metrics_.masqueradeErrorsTotal;
      masqueradeApplied_.clear();
      log::error("cannot write the masquerade table", errorJson(done.error()));
      return;
    }
    masqueradeApplied_ = script;
    log::info(table.empty() ? "masquerade table removed" : "masquerade table written",
              {{"table", "inet " + std::string(kMasqueradeTable)}});
#else
    (void)verify;
    if (options_.masquerade && !warnedNoNft_) log::warn("built without nftables: no masquerade");
    warnedNoNft_ = true;
#endif
  }

  HttpResponse serve(std::string_view path) {
    if (path == "/healthz") {
      return metrics_.ready ? HttpResponse{.body = "ok\n"}
                            : HttpResponse{.status = 503, .body = "not ready: no node list loaded yet\n"};
    }
    if (path == "/metrics") {
      return HttpResponse{.contentType = "text/plain; version=0.0.4; charset=utf-8",
                          .body = renderMetrics(metrics_)};
    }
    if (path == "/status") {
      const auto doc = statusJson(nodes_ ? *nodes_ : std::vector<Node>{}, options_.nodeName,
                                  last_ ? &*last_ : nullptr, metrics_.ready);
      return HttpResponse{.contentType = "application/json", .body = doc.dump() + "\n"};
    }
    return HttpResponse{.status = 404, .body = "not found\n"};
  }

  Options options_;
  asio::io_context io_;
  std::unique_ptr<NodeSource> source_;
  NetlinkKernel kernel_;
  netlink::EventSocket events_;
  asio::posix::stream_descriptor eventStream_;  // a dup of events_.fd(), for readiness only
  std::optional<asio::posix::stream_descriptor> sourceStream_;
  asio::signal_set signals_;
  asio::steady_timer resyncTimer_;
  asio::steady_timer reconcileTimer_;
  HttpServer http_;
  std::optional<std::vector<Node>> nodes_;
  std::optional<ReconcileReport> last_;
  std::vector<Skipped> lastSkipped_;
  std::vector<netlink::Route> lastBlocked_;
  Metrics metrics_;
  bool reconcilePending_ = false;
  bool warnedNoSelf_ = false;
#ifdef PODNET_HAVE_NFT
  std::optional<nft::Context> nft_;
  std::string masqueradeApplied_;  // the last script that succeeded
#else
  bool warnedNoNft_ = false;
#endif
};

}  // namespace

int run(const Options& options) {
  auto source = makeSource(options);
  if (!source.ok()) {
    log::error("cannot open the node source", errorJson(source.error()));
    return 1;
  }
  auto socket = netlink::Socket::open();
  auto events = netlink::EventSocket::open();
  if (!socket.ok() || !events.ok()) {
    log::error("cannot open netlink", errorJson(socket.ok() ? events.error() : socket.error()));
    return 1;
  }
  // Boost.Asio reports setup failures (descriptors, signals) as exceptions.
  try {
    Daemon daemon(options, std::move(*source), NetlinkKernel(std::move(*socket)), std::move(*events));
    return daemon.run();
  } catch (const std::exception& e) {
    log::error("podnetd failed", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace podnet::daemon
