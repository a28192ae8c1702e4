// etcd's v3 JSON gateway: request bodies and responses as etcd 3.4 sends
// them (recorded from Debian's etcd-server 3.4.23 with curl).
#include "etcd_api.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace podnet::daemon::etcd {
namespace {

using nlohmann::json;

constexpr const char* kHeader =
    R"("header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"%R","raft_term":"2"})";

std::string withHeader(std::string text, const char* revision) {
  std::string header = kHeader;
  header.replace(header.find("%R"), 2, revision);
  text.replace(text.find("%H"), 2, header);
  return text;
}

TEST_CASE("etcd api: range request and response") {
  CHECK(json::parse(rangeRequest("/p/", "/p0")) == json{{"key", "L3Av"}, {"range_end", "L3Aw"}});
  const auto r = parseRange(withHeader(
      R"({%H,"kvs":[{"key":"L3AvYQ==","create_revision":"2","mod_revision":"5","version":"1","value":"eHg=","lease":"7587899140562205447"},
          {"key":"L3AvYw==","create_revision":"4","mod_revision":"4","version":"1","value":"aGVsbG8="}],"count":"2"})",
      "9"));
  REQUIRE(r.ok());
  CHECK(r->revision == 9);
  REQUIRE(r->kvs.size() == 2);
  CHECK(
      r->kvs[0] ==
      KeyValue{
          .key = "/p/a", .value = "xx", .createRevision = 2, .modRevision = 5, .lease = 7587899140562205447});
  CHECK(r->kvs[1].lease == 0);
  CHECK(r->kvs[1].value == "hello");
  // No keys: no kvs at all.
  const auto empty = parseRange(withHeader("{%H}", "1"));
  REQUIRE(empty.ok());
  CHECK(empty->kvs.empty());
  for (const char* bad :
       {"", "[]", "{}", R"({"header":{"revision":"x"}})",
        R"({"header":{"revision":"3"},"kvs":[{"key":"!!"}]})", R"({"header":{"revision":"3"},"kvs":{}})"}) {
    INFO(bad);
    const auto e = parseRange(bad);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == code::kDecode);
  }
}

TEST_CASE("etcd api: lease grant and keep-alive") {
  CHECK(json::parse(grantRequest(std::chrono::seconds(30))) == json{{"TTL", "30"}, {"ID", "0"}});
  const auto id = parseGrant(withHeader(R"({%H,"ID":"7587899140562205445","TTL":"5"})", "1"));
  REQUIRE(id.ok());
  CHECK(*id == 7587899140562205445);
  CHECK_FALSE(parseGrant(withHeader("{%H}", "1")).ok());

  CHECK(json::parse(keepAliveRequest(7587899140562205447)) == json{{"ID", "7587899140562205447"}});
  const auto alive =
      parseKeepAlive(withHeader(R"({"result":{%H,"ID":"7587899140562205447","TTL":"5"}})", "2") + "\n");
  REQUIRE(alive.ok());
  CHECK(*alive == 5);
  // An unknown or expired lease: no TTL.
  const auto gone = parseKeepAlive(withHeader(R"({"result":{%H,"ID":"12345"}})", "2") + "\n");
  REQUIRE(gone.ok());
  CHECK(*gone == 0);
  const auto err =
      parseKeepAlive(R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().code == code::kTryAgainLater);
  CHECK(err.error().msg.find("no leader") != std::string::npos);
}

TEST_CASE("etcd api: transactions compare, put with the lease, report success") {
  const auto create = json::parse(createIfAbsentTxn("/p/a", "v", 42));
  CHECK(
      create ==
      json::parse(R"({"compare":[{"key":"L3AvYQ==","target":"CREATE","result":"EQUAL","create_revision":"0"}],
      "success":[{"request_put":{"key":"L3AvYQ==","value":"dg==","lease":"42"}}]})"));
  const auto replace = json::parse(replaceIfUnchangedTxn("/p/a", "v", 43, 17));
  CHECK(replace ==
        json::parse(R"({"compare":[{"key":"L3AvYQ==","target":"MOD","result":"EQUAL","mod_revision":"17"}],
      "success":[{"request_put":{"key":"L3AvYQ==","value":"dg==","lease":"43"}}]})"));
  const auto won = parseTxn(
      withHeader(R"({%H,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}]})", "2"));
  REQUIRE(won.ok());
  CHECK(won->succeeded);
  CHECK(won->revision == 2);
  const auto lost = parseTxn(withHeader("{%H}", "2"));
  REQUIRE(lost.ok());
  CHECK_FALSE(lost->succeeded);
  CHECK_FALSE(parseTxn("{}").ok());
}

TEST_CASE("etcd api: watch lines: created, puts, deletes, compaction") {
  CHECK(json::parse(watchRequest("/p/", "/p0", 10)) ==
        json{{"create_request", {{"key", "L3Av"}, {"range_end", "L3Aw"}, {"start_revision", "10"}}}});
  auto m = parseWatchLine(withHeader(R"({"result":{%H,"created":true}})", "2"));
  REQUIRE(m.ok());
  CHECK(m->created);
  CHECK(m->revision == 2);
  CHECK(m->events.empty());
  m = parseWatchLine(withHeader(
      R"({"result":{%H,"events":[{"kv":{"key":"L3AvYQ==","create_revision":"2","mod_revision":"2","version":"1","value":"eHg=","lease":"7"}},
                                   {"type":"DELETE","kv":{"key":"L3AvYw==","mod_revision":"3"}}]}})",
      "3"));
  REQUIRE(m.ok());
  CHECK_FALSE(m->created);
  REQUIRE(m->events.size() == 2);
  CHECK_FALSE(m->events[0].deleted);
  CHECK(m->events[0].kv ==
        KeyValue{.key = "/p/a", .value = "xx", .createRevision = 2, .modRevision = 2, .lease = 7});
  CHECK(m->events[1].deleted);
  CHECK(m->events[1].kv.key == "/p/c");
  CHECK(m->events[1].kv.modRevision == 3);
  m = parseWatchLine(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"canceled":true,"compact_revision":"4"}})");
  REQUIRE(m.ok());
  CHECK(m->canceled);
  CHECK(m->compactRevision == 4);
  for (const char* bad : {"{", R"({"result":{"events":[{"type":"EXPIRE","kv":{}}]}})",
                          R"({"result":{"events":[{"type":"PUT"}]}})", R"({"result":1})", R"({"x":{}})"}) {
    INFO(bad);
    CHECK_FALSE(parseWatchLine(bad).ok());
  }
  CHECK(parseWatchLine(R"({"error":{"message":"rpc error"}})").error().code == code::kTryAgainLater);
}

TEST_CASE("etcd api: gateway errors keep etcd's message and 5xx is retryable") {
  const auto e = gatewayError(
      "/v3/kv/txn", 404,
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  CHECK(e.code == code::kIo);
  CHECK(e.msg == "etcd /v3/kv/txn: etcdserver: requested lease not found");
  CHECK(e.details == "status 404");
  CHECK(gatewayError("x", 503, "busy").code == code::kTryAgainLater);
  CHECK(gatewayError("x", 503, "busy").msg == "etcd x: busy");
}

}  // namespace
}  // namespace podnet::daemon::etcd
