#pragma once
// etcd's v3 JSON gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/txn,
// /v3/lease/grant, /v3/lease/keepalive, /v3/watch) as request bodies to send
// and response bodies to parse; no I/O. Keys and values travel base64, int64
// fields as JSON strings (grpc-gateway), and fields holding their default
// (0, false, PUT) are left out of responses. A streaming endpoint (watch,
// keepalive) answers one {"result": {...}} or {"error": {...}} per line.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "podnet/error/result.hpp"

namespace podnet::daemon::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t createRevision = 0;
  std::int64_t modRevision = 0;
  std::int64_t lease = 0;  // 0: bound to no lease

  bool operator==(const KeyValue&) const = default;
};

struct RangeResult {
  std::int64_t revision = 0;  // the store's revision the range was read at
  std::vector<KeyValue> kvs;
};

struct Event {
  bool deleted = false;  // a DELETE (also a lease's expiry); else a PUT
  KeyValue kv;           // a DELETE carries the key and its mod_revision only
};

struct WatchMessage {
  std::int64_t revision = 0;  // header revision
  bool created = false;
  bool canceled = false;
  std::int64_t compactRevision = 0;  // set when canceled because start_revision was compacted
  std::string cancelReason;
  std::vector<Event> events;
};

std::string rangeRequest(std::string_view key, std::string_view rangeEnd);
Result<RangeResult> parseRange(std::string_view body);

std::string grantRequest(std::chrono::seconds ttl);
// The granted lease's ID.
Result<std::int64_t> parseGrant(std::string_view body);

std::string keepAliveRequest(std::int64_t lease);
// The lease's remaining TTL in seconds; 0 when the lease no longer exists.
Result<std::int64_t> parseKeepAlive(std::string_view body);

// Puts key=value bound to `lease` if the key does not exist
// (create_revision == 0).
std::string createIfAbsentTxn(std::string_view key, std::string_view value, std::int64_t lease);
// Puts key=value bound to `lease` if the key is still at `modRevision`.
std::string replaceIfUnchangedTxn(std::string_view key, std::string_view value, std::int64_t lease,
                                  std::int64_t modRevision);
struct TxnResult {
  bool succeeded = false;     // the compares held and the success branch ran
  std::int64_t revision = 0;  // the store's revision after the txn
};
Result<TxnResult> parseTxn(std::string_view body);

// A watch of [key, rangeEnd) from startRevision on.
std::string watchRequest(std::string_view key, std::string_view rangeEnd, std::int64_t startRevision);
Result<WatchMessage> parseWatchLine(std::string_view line);

// The error a non-200 gateway answer stands for: its "message" (or the body)
// as msg; code::kTryAgainLater for 5xx, code::kIo otherwise.
Error gatewayError(std::string_view what, int status, std::string_view body);

}  // namespace podnet::daemon::etcd
