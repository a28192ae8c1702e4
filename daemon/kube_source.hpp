#pragma once
// The Kubernetes source: the cluster's Node objects, read from the API server
// the way client-go's reflector does (list, then watch from the list's
// resourceVersion), following only the documented API
// (https://kubernetes.io/docs/reference/using-api/api-concepts/):
//   GET /api/v1/nodes?limit=500[&continue=...]                 paginated list
//   GET /api/v1/nodes?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=T
// - A watch that ends normally is resumed from the last resourceVersion seen
//   (of an event or a BOOKMARK).
// - 410 Gone (an HTTP status or an ERROR event with code 410), any other
//   ERROR event and a malformed event lead to a full relist.
// - Transport errors retry with exponential backoff and jitter, resuming the
//   watch; a periodic full relist is the safety net.
// - The last good list is kept through any outage; nodes() is an Error only
//   before the first list.
// A Node counts once it has a pod CIDR (spec.podCIDRs, else spec.podCIDR);
// its addresses are the InternalIPs of status.addresses, in order.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "http_client.hpp"
#include "kubeconfig.hpp"
#include "node.hpp"

namespace podnet::daemon {

// One Kubernetes Node object as podnetd sees it: nullopt while it has no
// valid pod CIDR. Error (code::kDecode) when it is not a Node (no name).
Result<std::optional<Node>> nodeFromKube(const nlohmann::json& object);

// The Nodes known from the API, as lists and watch events arrive. Pure: no I/O.
class KubeNodeCache {
 public:
  struct Page {
    std::string resourceVersion;
    std::string continueToken;  // "" on the last page
  };
  // Adds one page of a NodeList to the staging area (cleared by first=true).
  Result<Page> addListPage(std::string_view body, bool first);
  // Replaces the visible nodes with the staging area; true if they changed.
  bool commitList();

  enum class Event { kChanged, kUnchanged, kBookmark, kGone, kError, kMalformed };
  struct Outcome {
    Event kind = Event::kMalformed;
    std::string resourceVersion;  // new resourceVersion to resume from ("" = none)
    std::string message;          // kError / kGone / kMalformed: why
  };
  // Applies one line of a watch stream (a JSON watch event).
  Outcome applyEvent(std::string_view line);

  // The visible nodes, sorted by name.
  const std::vector<Node>& nodes();
  std::size_t size() const { return nodes_.size(); }

 private:
  std::map<std::string, Node> nodes_;
  std::map<std::string, Node> staging_;
  std::optional<std::vector<Node>> sorted_;
};

struct KubeOptions {
  std::chrono::milliseconds requestTimeout{10000};
  std::chrono::milliseconds backoffInitial{250};
  std::chrono::milliseconds backoffMax{8000};
  // A full relist this often (+0..25 % jitter), whatever the watch says.
  std::chrono::milliseconds relistInterval{std::chrono::minutes(10)};
  // The server ends each watch after this (+0..100 % jitter), as client-go asks.
  std::chrono::seconds watchTimeout{300};
  std::size_t pageSize = 500;
  // Watch events are announced (changeFd) once every byte received has been
  // read, or at the latest coalesceMax after the first unannounced change: a
  // burst of 500 Node changes costs the daemon a few reconciles, not 500,
  // and a single change is announced at once.
  std::chrono::milliseconds coalesceMax{250};
};

class KubeSource final : public NodeSource {
 public:
  static Result<std::unique_ptr<KubeSource>> create(KubeConfig config, KubeOptions options = {});
  ~KubeSource() override;
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  Result<std::vector<Node>> nodes() override;
  int changeFd() const override { return eventFd_; }
  bool consumeChanges() override;
  std::string describe() const override;
  void start(boost::asio::io_context& io) override;

  // For tests and metrics.
  struct Counters {
    std::size_t lists = 0, watches = 0, events = 0, relistsGone = 0, errors = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  KubeSource(KubeConfig config, KubeOptions options, int eventFd);

  void relist(const char* why);
  void listPage(std::uint64_t gen, const std::string& continueToken);
  void watch();
  void onWatchLine(std::uint64_t gen, std::string_view line);
  void onWatchDone(std::uint64_t gen, Result<void> result);
  void retry(const char* what, const Error& error, bool relist);
  void armRelist();
  void refreshToken();
  void notify();
  void notifySoon();
  void flushNotify();
  std::chrono::milliseconds jitter(std::chrono::milliseconds base, double spread);

  KubeConfig config_;
  KubeOptions options_;
  int eventFd_ = -1;
  KubeNodeCache cache_;
  bool haveList_ = false;
  std::optional<Error> lastError_;
  std::string resourceVersion_;
  std::string token_;
  std::uint64_t gen_ = 0;  // bumped by every relist/watch; stale callbacks compare
  bool listing_ = false;
  int failures_ = 0;
  std::chrono::steady_clock::time_point watchStarted_;
  std::mt19937_64 rng_;
  Counters counters_;
  std::unique_ptr<http::Client> client_;
  std::shared_ptr<http::Stream> stream_;
  std::optional<boost::asio::steady_timer> retryTimer_;
  std::optional<boost::asio::steady_timer> relistTimer_;
  std::optional<boost::asio::steady_timer> notifyTimer_;
  std::optional<std::chrono::steady_clock::time_point> unannouncedSince_;
};

}  // namespace podnet::daemon
