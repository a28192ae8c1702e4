#pragma once
// A tiny HTTP/1.1 server on Boost.Asio for /healthz, /metrics and /status:
// one request per connection (Connection: close), GET only, requests over
// 8 KiB or slower than 5 s dropped. Runs on the daemon's io_context thread,
// so handlers read the daemon's state without locks.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "podnet/error/result.hpp"

namespace podnet::daemon {

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;

  bool operator==(const HttpResponse&) const = default;
};

using HttpHandler = std::function<HttpResponse(std::string_view path)>;

// "127.0.0.1:9650", "[::1]:9650".
Result<boost::asio::ip::tcp::endpoint> parseEndpoint(std::string_view text);

// The request line's target of a request head ("GET /metrics HTTP/1.1"),
// without its query; nullopt unless a GET (or HEAD) request line.
std::optional<std::string> requestPath(std::string_view head);
// The bytes of a complete response.
std::string formatResponse(const HttpResponse& response);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpHandler handler);
  // Binds and starts accepting.
  Status listen(const boost::asio::ip::tcp::endpoint& endpoint);

 private:
  void accept();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  HttpHandler handler_;
};

}  // namespace podnet::daemon
