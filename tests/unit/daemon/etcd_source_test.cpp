// The etcd source's state machine against an in-memory etcd that answers the
// v3 JSON gateway's requests as etcd 3.4 does (revisions, leases, create-if-
// absent and mod-revision compares, watches from a revision, compaction) and
// can be taken down and brought back.
#include "etcd_source.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace podnet::daemon {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

std::string b64(std::string_view s) { return etcd::base64Encode(s); }
std::string unb64(const json& j) { return *etcd::base64Decode(j.get<std::string>()); }
std::int64_t i64(const json& j) {
  return j.is_string() ? std::stoll(j.get<std::string>()) : j.get<std::int64_t>();
}

class FakeEtcd {
 public:
  struct Kv {
    std::string value;
    std::int64_t create = 0, mod = 0, lease = 0;
  };
  struct Watcher {
    std::string from, to;
    std::function<void(std::string_view)> onLine;
    std::function<void(Result<void>)> done;
    bool open = true;
  };
  struct Logged {
    std::int64_t revision;
    std::string key;
    bool deleted;
    Kv kv;
  };

  explicit FakeEtcd(asio::io_context& io) : io_(io) {}

  std::int64_t grant() {
    leases_.insert(++nextLease_);
    return nextLease_;
  }
  void put(const std::string& key, const std::string& value, std::int64_t lease = 0) {
    ++revision_;
    auto& kv = kvs_[key];
    if (kv.create == 0) kv.create = revision_;
    kv.mod = revision_;
    kv.value = value;
    kv.lease = lease;
    log(key, false, kv);
  }
  void remove(const std::string& key) {
    if (!kvs_.erase(key)) return;
    ++revision_;
    log(key, true, {});
  }
  // The lease and every key bound to it go, as when its TTL runs out.
  void expire(std::int64_t lease) {
    leases_.erase(lease);
    std::vector<std::string> keys;
    for (const auto& [k, kv] : kvs_) {
      if (kv.lease == lease) keys.push_back(k);
    }
    for (const auto& k : keys) remove(k);
  }
  // The next watch is canceled as if its start revision had been compacted.
  void compactNextWatch() { compactNext_ = true; }
  int canceledWatches = 0;
  int watches = 0;  // opened
  void setDown(bool down) {
    down_ = down;
    if (!down) return;
    for (auto& w : watchers_) {
      if (!w->open) continue;
      w->open = false;
      asio::post(io_, [w] { w->done(fail(code::kTryAgainLater, "connection reset")); });
    }
  }
  const std::map<std::string, Kv>& kvs() const { return kvs_; }
  int requests = 0;

  Result<http::Response> handle(const std::string& path, const json& req) {
    ++requests;
    if (down_) return fail(code::kTryAgainLater, "connection refused");
    json out{{"header", {{"revision", std::to_string(revision_)}}}};
    if (path == "/v3/lease/grant") {
      out["ID"] = std::to_string(grant());
      out["TTL"] = req["TTL"];
    } else if (path == "/v3/lease/keepalive") {
      const auto id = i64(req["ID"]);
      json r{{"header", out["header"]}, {"ID", std::to_string(id)}};
      if (leases_.count(id)) r["TTL"] = "3";
      return http::Response{.status = 200, .body = json{{"result", r}}.dump() + "\n"};
    } else if (path == "/v3/kv/range") {
      const auto from = unb64(req["key"]), to = unb64(req["range_end"]);
      json kvs = json::array();
      for (const auto& [k, kv] : kvs_) {
        if (k >= from && k < to) kvs.push_back(kvJson(k, kv));
      }
      if (!kvs.empty()) out["kvs"] = kvs;
    } else if (path == "/v3/kv/txn") {
      const auto& c = req["compare"][0];
      const auto key = unb64(c["key"]);
      const auto it = kvs_.find(key);
      const bool held = c["target"] == "CREATE"
                            ? it == kvs_.end() && i64(c["create_revision"]) == 0
                            : it != kvs_.end() && it->second.mod == i64(c["mod_revision"]);
      if (held) {
        const auto& p = req["success"][0]["request_put"];
        const auto lease = i64(p["lease"]);
        if (lease != 0 && !leases_.count(lease)) {
          return http::Response{.status = 404,
                                .body = R"({"message":"etcdserver: requested lease not found"})"};
        }
        put(unb64(p["key"]), unb64(p["value"]), lease);
        out["header"]["revision"] = std::to_string(revision_);
        out["succeeded"] = true;
      }
    } else {
      return http::Response{.status = 404, .body = "not found"};
    }
    return http::Response{.status = 200, .body = out.dump()};
  }

  std::shared_ptr<http::Stream> watch(const json& req, std::function<void(std::string_view)> onLine,
                                      std::function<void(Result<void>)> done) {
    ++watches;
    auto w = std::make_shared<Watcher>();
    w->onLine = std::move(onLine);
    w->done = std::move(done);
    if (down_) {
      w->open = false;
      asio::post(io_, [w] { w->done(fail(code::kTryAgainLater, "connection refused")); });
      return std::make_shared<Cancel>(w, io_);
    }
    const auto& c = req["create_request"];
    w->from = unb64(c["key"]);
    w->to = unb64(c["range_end"]);
    const auto start = i64(c["start_revision"]);
    watchers_.push_back(w);
    const auto header = json{{"revision", std::to_string(revision_)}};
    if (compactNext_) {
      compactNext_ = false;
      ++canceledWatches;
      send(w, json{{"header", header}, {"created", true}});
      send(w, json{{"header", header}, {"canceled", true}, {"compact_revision", std::to_string(start + 1)}});
      return std::make_shared<Cancel>(w, io_);
    }
    send(w, json{{"header", header}, {"created", true}});
    for (const auto& l : history_) {
      if (l.revision >= start) deliver(w, l);
    }
    return std::make_shared<Cancel>(w, io_);
  }

 private:
  struct Cancel final : http::Stream {
    Cancel(std::shared_ptr<Watcher> w, asio::io_context& io) : w_(std::move(w)), io_(io) {}
    void cancel() override {
      if (!w_->open) return;
      w_->open = false;
      asio::post(io_, [w = w_] { w->done(fail(code::kTryAgainLater, "cancelled")); });
    }
    std::shared_ptr<Watcher> w_;
    asio::io_context& io_;
  };

  static json kvJson(const std::string& k, const Kv& kv) {
    json j{{"key", b64(k)},
           {"create_revision", std::to_string(kv.create)},
           {"mod_revision", std::to_string(kv.mod)},
           {"version", "1"},
           {"value", b64(kv.value)}};
    if (kv.lease) j["lease"] = std::to_string(kv.lease);
    return j;
  }
  void send(const std::shared_ptr<Watcher>& w, json result) {
    asio::post(io_, [w, line = json{{"result", std::move(result)}}.dump()] {
      if (w->open) w->onLine(line);
    });
  }
  void deliver(const std::shared_ptr<Watcher>& w, const Logged& l) {
    if (!w->open || l.key < w->from || l.key >= w->to) return;
    json ev = l.deleted ? json{{"type", "DELETE"},
                               {"kv", {{"key", b64(l.key)}, {"mod_revision", std::to_string(l.revision)}}}}
                        : json{{"kv", kvJson(l.key, l.kv)}};
    send(w, json{{"header", {{"revision", std::to_string(l.revision)}}}, {"events", json::array({ev})}});
  }
  void log(const std::string& key, bool deleted, const Kv& kv) {
    history_.push_back(Logged{revision_, key, deleted, kv});
    for (const auto& w : watchers_) deliver(w, history_.back());
  }

  asio::io_context& io_;
  std::map<std::string, Kv> kvs_;
  std::set<std::int64_t> leases_;
  std::vector<Logged> history_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  std::int64_t revision_ = 1, nextLease_ = 100;
  bool down_ = false;
  bool compactNext_ = false;
};

class FakeTransport final : public EtcdTransport {
 public:
  FakeTransport(asio::io_context& io, FakeEtcd& etcd) : io_(io), etcd_(etcd) {}
  void post(const std::string& path, std::string body, std::chrono::milliseconds,
            std::function<void(Result<http::Response>)> done) override {
    asio::post(io_, [this, path, body = std::move(body), done = std::move(done)] {
      done(etcd_.handle(path, json::parse(body)));
    });
  }
  std::shared_ptr<http::Stream> watch(std::string body, std::chrono::milliseconds,
                                      std::function<void(std::string_view)> onLine,
                                      std::function<void(Result<void>)> done) override {
    return etcd_.watch(json::parse(body), std::move(onLine), std::move(done));
  }
  void failover() override { ++failovers; }
  std::string describe() const override { return "fake"; }
  int failovers = 0;

 private:
  asio::io_context& io_;
  FakeEtcd& etcd_;
};

const std::string kPrefix = "/podnet/subnets/";

EtcdSettings settings(const std::string& name, int i, const char* cidr = "10.244.0.0/16") {
  auto spec = makeLeaseSpec(name, {"192.168.77." + std::to_string(10 + i)}, {cidr}, 24, 64);
  REQUIRE(spec.ok());
  return EtcdSettings{.lease = *spec,
                      .prefix = kPrefix,
                      .ttl = std::chrono::seconds(3),
                      .backoffMin = std::chrono::milliseconds(5),
                      .backoffMax = std::chrono::milliseconds(20)};
}

struct Harness {
  asio::io_context io;
  FakeEtcd etcd{io};
  std::vector<FakeTransport*> transports;

  std::unique_ptr<EtcdSource> source(const std::string& name, int i, const char* cidr = "10.244.0.0/16") {
    auto s =
        std::make_unique<EtcdSource>(settings(name, i, cidr), "etcd fake", [this](asio::io_context& ctx) {
          auto t = std::make_unique<FakeTransport>(ctx, etcd);
          transports.push_back(t.get());
          return t;
        });
    REQUIRE(s->changeFd() >= 0);
    return s;
  }
  // Runs the loop until pred() holds (true) or 30 s pass (false). The
  // deadline only ends a hang: what is awaited takes milliseconds.
  template <class Pred>
  bool runUntil(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  // Runs the loop a while, before a check that something did NOT happen.
  void settle() {
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
};

std::string value(const std::string& name, int i, const std::string& cidr) {
  return R"({"name":")" + name + R"(","addresses":["192.168.77.)" + std::to_string(10 + i) +
         R"("],"podCIDRs":[")" + cidr + R"("]})";
}

ip::Prefix P(const char* text) { return *ip::Prefix::parse(text); }

TEST_CASE("etcd source: leases a free subnet and serves every node's lease") {
  Harness h;
  h.etcd.put(kPrefix + "10.244.0.0-24", value("n2", 2, "10.244.0.0/24"), h.etcd.grant());
  h.etcd.put(kPrefix + "bogus", "not json");                            // ignored, logged
  h.etcd.put("/other/10.244.9.0-24", value("n9", 9, "10.244.9.0/24"));  // outside the prefix
  auto s = h.source("n1", 1);
  CHECK_FALSE(s->nodes().ok());  // nothing read yet: the daemon changes nothing
  s->start(h.io);
  REQUIRE(h.runUntil([&] { return s->connected(); }));
  REQUIRE(s->ownSubnets()[0].has_value());
  const auto mine = *s->ownSubnets()[0];
  CHECK(mine != P("10.244.0.0/24"));
  CHECK(P("10.244.0.0/16").contains(mine.addr));
  // In the store: our key, bound to our lease, naming us.
  const auto& kv = h.etcd.kvs().at(subnetKey(kPrefix, mine));
  CHECK(kv.lease == s->lease());
  CHECK(kv.value == value("n1", 1, mine.str()));
  const auto nodes = s->nodes();
  REQUIRE(nodes.ok());
  REQUIRE(nodes->size() == 2);
  CHECK((*nodes)[0].name == "n1");
  CHECK((*nodes)[0].podCidrs == std::vector{mine});
  CHECK((*nodes)[1] == Node{.name = "n2",
                            .addresses = {*ip::Address::parse("192.168.77.12")},
                            .podCidrs = {P("10.244.0.0/24")}});
  CHECK(s->consumeChanges());
  CHECK_FALSE(s->consumeChanges());

  // Another node comes and goes (its lease expires): a change each time.
  const auto lease3 = h.etcd.grant();
  h.etcd.put(kPrefix + "10.244.77.0-24", value("n3", 3, "10.244.77.0/24"), lease3);
  REQUIRE(h.runUntil([&] { return s->nodes()->size() == 3; }));
  CHECK(s->consumeChanges());
  h.etcd.expire(lease3);
  REQUIRE(h.runUntil([&] { return s->nodes()->size() == 2; }));
  CHECK(s->consumeChanges());
  // A put that changes nothing (a node re-putting its lease) is no change.
  h.etcd.put(kPrefix + "10.244.0.0-24", value("n2", 2, "10.244.0.0/24"), h.etcd.grant());
  h.settle();
  CHECK_FALSE(s->consumeChanges());
}

TEST_CASE("etcd source: after a restart a node reclaims its own subnet under its new lease") {
  Harness h;
  const auto old = h.etcd.grant();
  h.etcd.put(kPrefix + "10.244.200.0-24", value("n1", 1, "10.244.200.0/24"), old);
  const auto before = h.etcd.kvs().size();
  auto s = h.source("n1", 1);
  s->start(h.io);
  REQUIRE(h.runUntil([&] { return s->connected(); }));
  CHECK(s->ownSubnets()[0] == P("10.244.200.0/24"));
  CHECK(h.etcd.kvs().size() == before);
  CHECK(h.etcd.kvs().at(kPrefix + "10.244.200.0-24").lease == s->lease());
  CHECK(s->lease() != old);
  // The old lease may now expire: the key is no longer bound to it.
  h.etcd.expire(old);
  h.settle();
  CHECK(h.etcd.kvs().count(kPrefix + "10.244.200.0-24") == 1);
  CHECK(s->nodes()->size() == 1);
}

TEST_CASE("etcd source: nodes starting at once never get the same subnet") {
  Harness h;
  // Four subnets for five nodes: races on every txn, and one node left without.
  std::vector<std::unique_ptr<EtcdSource>> sources;
  for (int i = 1; i <= 5; ++i) sources.push_back(h.source("n" + std::to_string(i), i, "10.244.0.0/22"));
  for (auto& s : sources) s->start(h.io);
  REQUIRE(h.runUntil([&] {
    return std::all_of(sources.begin(), sources.end(), [](const auto& s) { return s->connected(); });
  }));
  std::set<ip::Prefix> subnets;
  int without = 0;
  for (const auto& s : sources) {
    if (s->ownSubnets()[0]) {
      subnets.insert(*s->ownSubnets()[0]);
    } else {
      ++without;
    }
  }
  CHECK(subnets.size() == 4);
  CHECK(without == 1);
  CHECK(h.etcd.kvs().size() == 4);
  // Every source sees the same four nodes.
  for (const auto& s : sources) CHECK(s->nodes()->size() == 4);

  // A node leaves for good (its daemon gone, its lease expired): the one
  // left without a subnet gets the freed one at its next keep-alive.
  const auto it =
      std::find_if(sources.begin(), sources.end(), [](const auto& s) { return s->ownSubnets()[0]; });
  const auto freed = *(*it)->ownSubnets()[0];
  const auto lease = (*it)->lease();
  sources.erase(it);
  h.etcd.expire(lease);
  REQUIRE(h.runUntil([&] {
    return std::all_of(sources.begin(), sources.end(),
                       [](const auto& s) { return s->ownSubnets()[0].has_value(); });
  }));
  CHECK(std::any_of(sources.begin(), sources.end(),
                    [&](const auto& s) { return s->ownSubnets()[0] == freed; }));
}

TEST_CASE("etcd source: an outage keeps the list, then it re-leases the same subnet and catches up") {
  Harness h;
  h.etcd.put(kPrefix + "10.244.2.0-24", value("n2", 2, "10.244.2.0/24"), h.etcd.grant());
  auto s = h.source("n1", 1);
  s->start(h.io);
  REQUIRE(h.runUntil([&] { return s->connected(); }));
  const auto mine = *s->ownSubnets()[0];
  const auto listed = *s->nodes();
  s->consumeChanges();

  h.etcd.setDown(true);
  REQUIRE(h.runUntil([&] { return !s->connected(); }));
  // It keeps retrying, failing over each time.
  const auto requests = h.etcd.requests;
  const auto failovers = h.transports.back()->failovers;
  CHECK(h.runUntil(
      [&] { return h.etcd.requests >= requests + 2 && h.transports.back()->failovers >= failovers + 2; }));
  REQUIRE(s->nodes().ok());
  CHECK(*s->nodes() == listed);  // routes stay
  CHECK_FALSE(s->consumeChanges());

  // Meanwhile our lease expired, and node 2 left while node 3 came.
  h.etcd.setDown(false);
  h.etcd.expire(s->lease());
  h.etcd.remove(kPrefix + "10.244.2.0-24");
  h.etcd.put(kPrefix + "10.244.3.0-24", value("n3", 3, "10.244.3.0/24"), h.etcd.grant());
  h.etcd.setDown(true);
  h.settle();
  const auto oldLease = s->lease();
  h.etcd.setDown(false);
  REQUIRE(h.runUntil([&] { return s->connected(); }));
  CHECK(s->lease() != oldLease);
  CHECK(s->ownSubnets()[0] == mine);
  CHECK(h.etcd.kvs().at(subnetKey(kPrefix, mine)).lease == s->lease());
  const auto nodes = s->nodes();
  REQUIRE(nodes->size() == 2);
  CHECK((*nodes)[1].name == "n3");
  CHECK(s->consumeChanges());
}

TEST_CASE("etcd source: a deleted own key is leased again and a compacted watch re-reads") {
  Harness h;
  auto s = h.source("n1", 1);
  s->start(h.io);
  REQUIRE(h.runUntil([&] { return s->connected(); }));
  const auto mine = *s->ownSubnets()[0];
  h.etcd.remove(subnetKey(kPrefix, mine));
  REQUIRE(h.runUntil([&] { return h.etcd.kvs().count(subnetKey(kPrefix, mine)) == 1; }));
  CHECK(s->ownSubnets()[0] == mine);  // the same one, still free
  REQUIRE(h.runUntil([&] { return s->connected(); }));

  // A watch restarted from a compacted revision is canceled: the source
  // re-reads (and sees what happened meanwhile) instead of missing events.
  h.etcd.setDown(true);
  REQUIRE(h.runUntil([&] { return !s->connected(); }));
  h.etcd.setDown(false);
  h.etcd.put(kPrefix + "10.244.5.0-24", value("n5", 5, "10.244.5.0/24"));
  h.etcd.compactNextWatch();
  const auto watches = h.etcd.watches;
  REQUIRE(h.runUntil([&] { return h.etcd.watches == watches + 2 && s->connected(); }));
  CHECK(h.etcd.canceledWatches == 1);
  CHECK(s->nodes()->size() == 2);
}

}  // namespace
}  // namespace podnet::daemon
