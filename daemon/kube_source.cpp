#include "kube_source.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "podnet/log/log.hpp"

namespace podnet::daemon {

namespace {

using json = nlohmann::json;

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string stringAt(const json& object, const char* a, const char* b = nullptr) {
  const json* v = member(object, a);
  if (v && b) v = member(*v, b);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

json errorFields(const Error& e) { return {{"code", e.code}, {"error", e.msg}, {"details", e.details}}; }

// "%2F"-style escaping for a query value (continue tokens are opaque base64).
std::string queryEscape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

// Parses a Node, NodeList or watch event, leaving out the bulky parts podnetd
// never reads (managedFields, images, conditions, ...): less to allocate for
// every event of a large cluster.
json parseKube(std::string_view text) {
  const json::parser_callback_t skip = [](int, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key || !parsed.is_string()) return true;
    const auto& k = parsed.get_ref<const std::string&>();
    return k != "managedFields" && k != "images" && k != "conditions" && k != "annotations" &&
           k != "labels" && k != "nodeInfo" && k != "capacity" && k != "allocatable" &&
           k != "volumesAttached" && k != "volumesInUse" && k != "taints";
  };
  return json::parse(text, skip, false);
}

}  // namespace

// ---------------------------------------------------------------- pure part

Result<std::optional<Node>> nodeFromKube(const json& object) {
  Node node;
  node.name = stringAt(object, "metadata", "name");
  if (node.name.empty()) return Error{code::kDecode, "not a Node: no metadata.name"};
  std::vector<std::string> cidrs;
  if (const json* spec = member(object, "spec")) {
    if (const json* list = member(*spec, "podCIDRs"); list && list->is_array()) {
      for (const auto& c : *list)
        if (c.is_string()) cidrs.push_back(c.get<std::string>());
    }
    if (cidrs.empty()) {
      const std::string single = stringAt(*spec, "podCIDR");
      if (!single.empty()) cidrs.push_back(single);
    }
  }
  for (const auto& text : cidrs) {
    const auto prefix = ip::Prefix::parse(text);
    if (!prefix) {
      log::warn("Node has an unparsable pod CIDR; ignoring it", {{"node", node.name}, {"podCIDR", text}});
      continue;
    }
    node.podCidrs.push_back(prefix->network());
  }
  if (node.podCidrs.empty()) return std::optional<Node>();
  if (const json* status = member(object, "status")) {
    if (const json* addresses = member(*status, "addresses"); addresses && addresses->is_array()) {
      for (const auto& a : *addresses) {
        if (stringAt(a, "type") != "InternalIP") continue;
        if (const auto address = ip::Address::parse(stringAt(a, "address")))
          node.addresses.push_back(*address);
      }
    }
  }
  return std::optional<Node>(std::move(node));
}

Result<KubeNodeCache::Page> KubeNodeCache::addListPage(std::string_view body, bool first) {
  if (first) staging_.clear();
  const json doc = parseKube(body);
  if (doc.is_discarded() || !doc.is_object()) return Error{code::kDecode, "NodeList is not JSON"};
  const json* items = member(doc, "items");
  if (!items || !(items->is_array() || items->is_null()))
    return Error{code::kDecode, "NodeList has no items", stringAt(doc, "kind")};
  if (items->is_array()) {
    for (const auto& item : *items) {
      auto node = nodeFromKube(item);
      if (!node.ok()) return node.error();
      if (*node) staging_[(*node)->name] = std::move(**node);
    }
  }
  Page page;
  page.resourceVersion = stringAt(doc, "metadata", "resourceVersion");
  page.continueToken = stringAt(doc, "metadata", "continue");
  if (page.resourceVersion.empty()) return Error{code::kDecode, "NodeList has no metadata.resourceVersion"};
  return page;
}

bool KubeNodeCache::commitList() {
  const bool changed = staging_ != nodes_;
  nodes_ = std::move(staging_);
  staging_.clear();
  if (changed) sorted_.reset();
  return changed;
}

KubeNodeCache::Outcome KubeNodeCache::applyEvent(std::string_view line) {
  Outcome out;
  const json event = parseKube(line);
  const std::string type = event.is_discarded() ? std::string() : stringAt(event, "type");
  const json* object = event.is_discarded() ? nullptr : member(event, "object");
  if (type.empty() || !object || !object->is_object()) {
    out.message = "not a watch event: " + std::string(line.substr(0, 200));
    return out;
  }
  if (type == "ERROR") {
    // A metav1.Status; 410 (reason Expired/Gone) means our resourceVersion is too old.
    const json* c = member(*object, "code");
    const int status = c && c->is_number_integer() ? c->get<int>() : 0;
    out.kind = status == 410 ? Event::kGone : Event::kError;
    out.message =
        std::to_string(status) + " " + stringAt(*object, "reason") + ": " + stringAt(*object, "message");
    return out;
  }
  out.resourceVersion = stringAt(*object, "metadata", "resourceVersion");
  if (type == "BOOKMARK") {
    out.kind = out.resourceVersion.empty() ? Event::kMalformed : Event::kBookmark;
    if (out.resourceVersion.empty()) out.message = "BOOKMARK without resourceVersion";
    return out;
  }
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    out.message = "unknown watch event type " + type;
    return out;
  }
  auto node = nodeFromKube(*object);
  if (!node.ok()) {
    out.message = node.error().msg;
    out.resourceVersion.clear();
    return out;
  }
  const std::string name = stringAt(*object, "metadata", "name");
  bool changed = false;
  if (type == "DELETED" || !*node) {
    changed = nodes_.erase(name) > 0;
  } else {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
      nodes_.emplace(name, std::move(**node));
      changed = true;
    } else if (!(it->second == **node)) {
      it->second = std::move(**node);
      changed = true;
    }
  }
  if (changed) sorted_.reset();
  out.kind = changed ? Event::kChanged : Event::kUnchanged;
  return out;
}

const std::vector<Node>& KubeNodeCache::nodes() {
  if (!sorted_) {
    sorted_.emplace();
    sorted_->reserve(nodes_.size());
    for (const auto& [name, node] : nodes_) sorted_->push_back(node);  // map: sorted by name
  }
  return *sorted_;
}

// ---------------------------------------------------------------- the source

Result<std::unique_ptr<KubeSource>> KubeSource::create(KubeConfig config, KubeOptions options) {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Error{code::kIo, "eventfd", std::strerror(errno)};
  return std::unique_ptr<KubeSource>(new KubeSource(std::move(config), options, fd));
}

KubeSource::KubeSource(KubeConfig config, KubeOptions options, int eventFd)
    : config_(std::move(config)), options_(options), eventFd_(eventFd), rng_(std::random_device{}()) {}

KubeSource::~KubeSource() {
  stream_.reset();
  client_.reset();
  if (eventFd_ >= 0) ::close(eventFd_);
}

std::string KubeSource::describe() const {
  return "kubernetes " + config_.server.str() + " (" + config_.origin + ")";
}

Result<std::vector<Node>> KubeSource::nodes() {
  if (!haveList_) {
    Error e{code::kTryAgainLater, "no Node list from the Kubernetes API yet"};
    if (lastError_) e.details = lastError_->msg;
    return e;
  }
  return cache_.nodes();
}

bool KubeSource::consumeChanges() {
  std::uint64_t count = 0;
  bool any = false;
  while (::read(eventFd_, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) any = any || count > 0;
  return any;
}

void KubeSource::notify() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(eventFd_, &one, sizeof one);
}

// A change from the watch: announced when the stream has drained (onDrained),
// or coalesceMax after the first unannounced change if it never pauses.
void KubeSource::notifySoon() {
  if (unannouncedSince_) return;
  unannouncedSince_ = std::chrono::steady_clock::now();
  notifyTimer_->expires_after(options_.coalesceMax);
  notifyTimer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    flushNotify();
  });
}

void KubeSource::flushNotify() {
  if (!unannouncedSince_) return;
  unannouncedSince_.reset();
  notifyTimer_->cancel();
  notify();
}

void KubeSource::start(boost::asio::io_context& io) {
  client_ = std::make_unique<http::Client>(io, config_.server, config_.tls);
  client_->setHeader("Accept", "application/json");
  retryTimer_.emplace(io);
  relistTimer_.emplace(io);
  notifyTimer_.emplace(io);
  if (!config_.token.empty()) client_->setHeader("Authorization", "Bearer " + config_.token);
  relist("start");
  armRelist();
}

std::chrono::milliseconds KubeSource::jitter(std::chrono::milliseconds base, double spread) {
  std::uniform_real_distribution<double> dist(0.0, spread);
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(static_cast<double>(base.count()) * (1.0 + dist(rng_))));
}

void KubeSource::refreshToken() {
  if (config_.tokenFile.empty()) return;
  std::ifstream in(config_.tokenFile);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (!in || token.empty()) {
    log::warn("cannot read the token file; keeping the last token", {{"file", config_.tokenFile}});
    return;
  }
  if (token != token_) {
    if (!token_.empty()) log::info("token file changed; using the new token", {{"file", config_.tokenFile}});
    token_ = std::move(token);
    client_->setHeader("Authorization", "Bearer " + token_);
  }
}

void KubeSource::armRelist() {
  relistTimer_->expires_after(jitter(options_.relistInterval, 0.25));
  relistTimer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (!listing_) relist("periodic");
    armRelist();
  });
}

void KubeSource::relist(const char* why) {
  if (stream_) stream_->cancel();
  stream_.reset();
  retryTimer_->cancel();
  listing_ = true;
  ++counters_.lists;
  log::debug("listing Nodes", {{"why", why}});
  listPage(++gen_, "");
}

void KubeSource::listPage(std::uint64_t gen, const std::string& continueToken) {
  refreshToken();
  http::Request req;
  req.target = "/api/v1/nodes?limit=" + std::to_string(options_.pageSize);
  if (!continueToken.empty()) req.target += "&continue=" + queryEscape(continueToken);
  req.timeout = options_.requestTimeout;
  const bool first = continueToken.empty();
  client_->request(std::move(req), [this, gen, first](Result<http::Response> r) {
    if (gen != gen_) return;
    if (!r.ok()) return retry("list Nodes", r.error(), true);
    if (r->status != 200) {
      Error e{r->status >= 500 || r->status == 429 ? code::kTryAgainLater : code::kIo,
              "list Nodes: HTTP " + std::to_string(r->status), r->body.substr(0, 512)};
      return retry("list Nodes", e, true);
    }
    auto page = cache_.addListPage(r->body, first);
    if (!page.ok()) return retry("list Nodes", page.error(), true);
    if (!page->continueToken.empty()) return listPage(gen, page->continueToken);
    const bool changed = cache_.commitList() || !haveList_;
    haveList_ = true;
    listing_ = false;
    failures_ = 0;
    lastError_.reset();
    resourceVersion_ = page->resourceVersion;
    log::info("listed Nodes", {{"nodes", cache_.size()}, {"resourceVersion", resourceVersion_}});
    if (changed) notify();
    watch();
  });
}

void KubeSource::watch() {
  refreshToken();
  const auto timeout = std::chrono::duration_cast<std::chrono::seconds>(
      jitter(std::chrono::duration_cast<std::chrono::milliseconds>(options_.watchTimeout), 1.0));
  http::Request req;
  req.target =
      "/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=" + queryEscape(resourceVersion_) +
      "&timeoutSeconds=" + std::to_string(timeout.count());
  req.timeout = options_.requestTimeout;
  // Bookmarks come about every minute; twice the server's own timeout of
  // silence means a dead connection.
  req.idleTimeout = std::chrono::milliseconds(std::max<std::int64_t>(60, 2 * timeout.count()) * 1000);
  ++counters_.watches;
  watchStarted_ = std::chrono::steady_clock::now();
  const auto gen = ++gen_;
  req.onDrained = [this, gen] {
    if (gen == gen_) flushNotify();
  };
  stream_ = client_->stream(
      std::move(req), [this, gen](std::string_view line) { onWatchLine(gen, line); },
      [this, gen](Result<void> r) { onWatchDone(gen, std::move(r)); });
}

void KubeSource::onWatchLine(std::uint64_t gen, std::string_view line) {
  if (gen != gen_) return;
  ++counters_.events;
  const auto out = cache_.applyEvent(line);
  switch (out.kind) {
    case KubeNodeCache::Event::kChanged: notifySoon(); [[fallthrough]];
    case KubeNodeCache::Event::kUnchanged:
    case KubeNodeCache::Event::kBookmark:
      if (!out.resourceVersion.empty()) resourceVersion_ = out.resourceVersion;
      failures_ = 0;
      return;
    case KubeNodeCache::Event::kGone:
      ++counters_.relistsGone;
      log::info("watch expired (410 Gone); relisting", {{"reason", out.message}});
      relist("gone");
      return;
    case KubeNodeCache::Event::kError:
      retry("watch Nodes", Error{code::kIo, "ERROR event: " + out.message}, true);
      return;
    case KubeNodeCache::Event::kMalformed:
      retry("watch Nodes", Error{code::kDecode, "malformed watch event", out.message}, true);
      return;
  }
}

void KubeSource::onWatchDone(std::uint64_t gen, Result<void> r) {
  if (gen != gen_) return;
  stream_.reset();
  if (r.ok()) {
    // A watch the server ends at once, again and again, must not spin.
    if (std::chrono::steady_clock::now() - watchStarted_ < std::chrono::seconds(1)) {
      retry("watch Nodes", Error{code::kTryAgainLater, "watch ended at once"}, false);
      return;
    }
    log::debug("watch ended; resuming", {{"resourceVersion", resourceVersion_}});
    watch();
    return;
  }
  const bool gone = r.error().msg.rfind("HTTP 410", 0) == 0;
  if (gone) {
    ++counters_.relistsGone;
    relist("gone");
    return;
  }
  retry("watch Nodes", r.error(), false);
}

// Backs off (exponentially, with jitter), then relists or resumes the watch.
void KubeSource::retry(const char* what, const Error& error, bool relistAfter) {
  ++counters_.errors;
  ++gen_;  // whatever was running is stale now
  if (stream_) stream_->cancel();
  stream_.reset();
  lastError_ = error;
  const int exponent = std::min(failures_, 16);
  ++failures_;
  auto delay = options_.backoffInitial * (1LL << exponent);
  if (delay > options_.backoffMax) delay = options_.backoffMax;
  // Equal jitter: half fixed, half random, so many nodes do not retry in step.
  delay = jitter(delay / 2, 1.0);
  auto fields = errorFields(error);
  fields["what"] = what;
  fields["retryMs"] = delay.count();
  fields["keeping"] = haveList_ ? "last good node list" : "no node list yet";
  log::warn("Kubernetes API error; retrying", fields);
  const bool doRelist = relistAfter || !haveList_ || resourceVersion_.empty();
  if (error.code == code::kIo && error.msg.find("HTTP 401") != std::string::npos) token_.clear();
  listing_ = doRelist;
  retryTimer_->expires_after(delay);
  retryTimer_->async_wait([this, doRelist](const boost::system::error_code& ec) {
    if (ec) return;
    if (doRelist)
      relist("retry");
    else
      watch();
  });
}

}  // namespace podnet::daemon
