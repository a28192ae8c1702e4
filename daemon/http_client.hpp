#pragma once
// A small HTTP/1.1 client (plain or TLS) on the daemon's single-threaded
// Boost.Asio loop, for the stores podnetd reads: the Kubernetes API (list and
// chunked watch of Nodes) and etcd's v3 JSON gateway (range, txn, lease,
// watch). Boost.Beast does the HTTP, OpenSSL (boost::asio::ssl) the TLS.
//
// Every callback runs on the io_context given to the Client, exactly once
// (done) or once per line (onLine). Nothing blocks. Destroying the Client
// cancels every request and stream still running, and none of their callbacks
// runs after that (so callbacks may capture the Client's owner); an
// operation keeps itself alive until its socket work has finished.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podnet/error/result.hpp"

namespace podnet::daemon::http {

// "https://10.0.0.1:6443/prefix", "http://[fd00::1]:2379". scheme is "http"
// or "https"; port defaults to 80/443; host is without brackets; path is ""
// or starts with '/' and has no trailing '/' (it is prepended to every
// Request::target). Error (code::kInvalidConfig) for anything else.
struct Url {
  std::string scheme, host, port, path;

  static Result<Url> parse(std::string_view text);
  // Back to text, with brackets around an IPv6 host.
  std::string str() const;
  bool operator==(const Url&) const = default;
};

// TLS settings for an https Url. Each CA/cert/key is given either as a file
// (PEM) or as PEM data; files are re-read for every new connection, so a
// rotated certificate is picked up. No CA at all verifies against the system's
// default store. The server's name (or IP) is checked against its certificate
// unless insecureSkipVerify.
struct TlsOptions {
  std::string caFile, caData, certFile, keyFile, certData, keyData;
  bool insecureSkipVerify = false;
  // Name to verify and to send as SNI instead of the Url's host ("" = host).
  std::string serverName;
};

struct Request {
  std::string method = "GET";
  std::string target;  // "/api/v1/nodes?limit=500", appended to Url::path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Length when non-empty or method is not GET
  // request(): the whole exchange. stream(): connect + TLS + response headers.
  std::chrono::milliseconds timeout{10000};
  // stream() only: the stream ends with an Error when no byte arrived for this
  // long (0 = never).
  std::chrono::milliseconds idleTimeout{0};
  // stream() only, optional: runs after the lines of a read when no further
  // byte is waiting (the server paused), so a consumer can act once per burst
  // of lines instead of once per line.
  std::function<void()> onDrained;
};

struct Response {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names

  // First header of that (lower-case) name, "" if none.
  std::string header(std::string_view name) const;
};

// Limits that protect the daemon from a runaway server.
inline constexpr std::size_t kMaxBodyBytes = 64u << 20;  // request(): whole body
inline constexpr std::size_t kMaxLineBytes = 16u << 20;  // stream(): one line

// A running stream. cancel() ends it: `done` then runs (on the io_context,
// later, never from inside cancel()) with an Error whose code is
// code::kTryAgainLater and msg "cancelled"; onLine is not called again.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void cancel() = 0;
};

// Errors handed to `done`: code::kTryAgainLater for connection problems,
// timeouts and 5xx (retry later), code::kIo for other non-2xx statuses;
// details carry "status <n>" for HTTP statuses. A non-2xx Response is still
// a Response for request() (status set, no Error): the caller decides.
class Client {
 public:
  Client(boost::asio::io_context& io, Url base, TlsOptions tls = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request on a fresh connection (or an idle kept-alive one); `done` runs
  // on the io_context, exactly once, with the Response for any HTTP status, or
  // an Error for transport failures and timeouts.
  void request(Request req, std::function<void(Result<Response>)> done);

  // A long-lived streaming request (k8s watch, etcd /v3/watch): onLine gets
  // each '\n'-terminated line of the body as it arrives, without the '\n'
  // (chunked or not; a last unterminated line is delivered at the end too);
  // timeout applies to connect + headers only, idleTimeout to silence after.
  // A non-2xx status ends the stream with an Error whose msg carries the
  // status and whose details carry the body. `done` runs once: Ok when the
  // server ended the body, else an Error.
  std::shared_ptr<Stream> stream(Request req, std::function<void(std::string_view line)> onLine,
                                 std::function<void(Result<void>)> done);

  // Sent with every later request (e.g. "Authorization", "Bearer ..."); an
  // empty value removes the header.
  void setHeader(std::string name, std::string value);

  const Url& base() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace podnet::daemon::http
