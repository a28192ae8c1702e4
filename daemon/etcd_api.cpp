#include "etcd_api.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "subnet_lease.hpp"

namespace podnet::daemon::etcd {
namespace {

using nlohmann::json;

Error bad(std::string_view what, const std::string& why) {
  return fail(code::kDecode, "etcd: unexpected " + std::string(what) + " response", why);
}

Result<json> parseJson(std::string_view what, std::string_view body) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    return bad(what, e.what());
  }
}

// int64 fields arrive as strings; numbers are accepted too. Missing: 0.
Result<std::int64_t> int64Field(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::int64_t{0};
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
  }
  return fail(code::kDecode, std::string("etcd: ") + key + " is not an int64", it->dump());
}

Result<std::string> bytesField(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return fail(code::kDecode, std::string("etcd: ") + key + " is not a string");
  auto decoded = base64Decode(it->get_ref<const std::string&>());
  if (!decoded) return fail(code::kDecode, std::string("etcd: ") + key + " is not base64");
  return *decoded;
}

Result<std::int64_t> headerRevision(const json& j) {
  const auto h = j.find("header");
  if (h == j.end() || !h->is_object()) return std::int64_t{0};
  return int64Field(*h, "revision");
}

Result<KeyValue> parseKv(const json& j) {
  if (!j.is_object()) return fail(code::kDecode, "etcd: a kv is not an object");
  KeyValue kv;
  PODNET_TRY(kv.key, bytesField(j, "key"));
  PODNET_TRY(kv.value, bytesField(j, "value"));
  PODNET_TRY(kv.createRevision, int64Field(j, "create_revision"));
  PODNET_TRY(kv.modRevision, int64Field(j, "mod_revision"));
  PODNET_TRY(kv.lease, int64Field(j, "lease"));
  return kv;
}

// A streaming endpoint's line: the "result" object, or its "error".
Result<json> streamResult(std::string_view what, std::string_view line) {
  PODNET_TRY(auto j, parseJson(what, line));
  if (!j.is_object()) return bad(what, "not an object");
  if (const auto e = j.find("error"); e != j.end()) {
    std::string msg = e->is_object() ? e->value("message", e->dump()) : e->dump();
    return fail(code::kTryAgainLater, "etcd " + std::string(what) + ": " + msg);
  }
  const auto r = j.find("result");
  if (r == j.end() || !r->is_object()) return bad(what, "no result");
  return *r;
}

json put(std::string_view key, std::string_view value, std::int64_t lease) {
  return {{"request_put",
           {{"key", base64Encode(key)}, {"value", base64Encode(value)}, {"lease", std::to_string(lease)}}}};
}

}  // namespace

std::string rangeRequest(std::string_view key, std::string_view rangeEnd) {
  return json{{"key", base64Encode(key)}, {"range_end", base64Encode(rangeEnd)}}.dump();
}

Result<RangeResult> parseRange(std::string_view body) {
  PODNET_TRY(const auto j, parseJson("range", body));
  if (!j.is_object()) return bad("range", "not an object");
  RangeResult out;
  PODNET_TRY(out.revision, headerRevision(j));
  if (out.revision <= 0) return bad("range", "no header revision");
  if (const auto kvs = j.find("kvs"); kvs != j.end()) {
    if (!kvs->is_array()) return bad("range", "kvs is not a list");
    for (const auto& item : *kvs) {
      PODNET_TRY(auto kv, parseKv(item));
      out.kvs.push_back(std::move(kv));
    }
  }
  return out;
}

std::string grantRequest(std::chrono::seconds ttl) {
  return json{{"TTL", std::to_string(ttl.count())}, {"ID", "0"}}.dump();
}

Result<std::int64_t> parseGrant(std::string_view body) {
  PODNET_TRY(const auto j, parseJson("lease grant", body));
  if (!j.is_object()) return bad("lease grant", "not an object");
  if (const auto e = j.find("error"); e != j.end()) return fail(code::kIo, "etcd lease grant: " + e->dump());
  PODNET_TRY(const auto id, int64Field(j, "ID"));
  if (id == 0) return bad("lease grant", "no lease ID");
  return id;
}

std::string keepAliveRequest(std::int64_t lease) { return json{{"ID", std::to_string(lease)}}.dump(); }

Result<std::int64_t> parseKeepAlive(std::string_view body) {
  // One line (the request body held one keep-alive).
  const auto eol = body.find('\n');
  PODNET_TRY(const auto r, streamResult("lease keepalive", body.substr(0, eol)));
  return int64Field(r, "TTL");
}

std::string createIfAbsentTxn(std::string_view key, std::string_view value, std::int64_t lease) {
  json compare{
      {"key", base64Encode(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
  return json{{"compare", json::array({compare})}, {"success", json::array({put(key, value, lease)})}}.dump();
}

std::string replaceIfUnchangedTxn(std::string_view key, std::string_view value, std::int64_t lease,
                                  std::int64_t modRevision) {
  json compare{{"key", base64Encode(key)},
               {"target", "MOD"},
               {"result", "EQUAL"},
               {"mod_revision", std::to_string(modRevision)}};
  return json{{"compare", json::array({compare})}, {"success", json::array({put(key, value, lease)})}}.dump();
}

Result<TxnResult> parseTxn(std::string_view body) {
  PODNET_TRY(const auto j, parseJson("txn", body));
  if (!j.is_object()) return bad("txn", "not an object");
  TxnResult out;
  PODNET_TRY(out.revision, headerRevision(j));
  if (out.revision <= 0) return bad("txn", "no header revision");
  const auto s = j.find("succeeded");
  out.succeeded = s != j.end() && s->is_boolean() && s->get<bool>();
  return out;
}

std::string watchRequest(std::string_view key, std::string_view rangeEnd, std::int64_t startRevision) {
  return json{{"create_request",
               {{"key", base64Encode(key)},
                {"range_end", base64Encode(rangeEnd)},
                {"start_revision", std::to_string(startRevision)}}}}
      .dump();
}

Result<WatchMessage> parseWatchLine(std::string_view line) {
  PODNET_TRY(const auto r, streamResult("watch", line));
  WatchMessage m;
  PODNET_TRY(m.revision, headerRevision(r));
  m.created = r.value("created", false);
  m.canceled = r.value("canceled", false);
  PODNET_TRY(m.compactRevision, int64Field(r, "compact_revision"));
  if (const auto reason = r.find("cancel_reason"); reason != r.end() && reason->is_string())
    m.cancelReason = reason->get<std::string>();
  if (const auto events = r.find("events"); events != r.end()) {
    if (!events->is_array()) return bad("watch", "events is not a list");
    for (const auto& e : *events) {
      if (!e.is_object()) return bad("watch", "an event is not an object");
      Event ev;
      const auto type = e.value("type", std::string("PUT"));
      if (type != "PUT" && type != "DELETE") return bad("watch", "event type " + type);
      ev.deleted = type == "DELETE";
      const auto kv = e.find("kv");
      if (kv == e.end()) return bad("watch", "an event without kv");
      PODNET_TRY(ev.kv, parseKv(*kv));
      m.events.push_back(std::move(ev));
    }
  }
  return m;
}

Error gatewayError(std::string_view what, int status, std::string_view body) {
  std::string msg(body.substr(0, 200));
  try {
    const auto j = json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string())
      msg = j["message"].get<std::string>();
  } catch (const json::exception&) {
  }
  return fail(status >= 500 ? code::kTryAgainLater : code::kIo, "etcd " + std::string(what) + ": " + msg,
              "status " + std::to_string(status));
}

}  // namespace podnet::daemon::etcd
