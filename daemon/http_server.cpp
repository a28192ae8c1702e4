#include "http_server.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <memory>

namespace podnet::daemon {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::size_t kMaxRequest = 8192;
constexpr auto kTimeout = std::chrono::seconds(5);

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpHandler handler)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buf_(kMaxRequest),
        handler_(std::move(handler)) {}

  void start() {
    auto self = shared_from_this();
    timer_.expires_after(kTimeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    asio::async_read_until(
        socket_, buf_, "\r\n\r\n",
        [self](const boost::system::error_code& ec, std::size_t n) { self->onRead(ec, n); });
  }

 private:
  void onRead(const boost::system::error_code& ec, std::size_t n) {
    HttpResponse response;
    if (ec) {
      if (ec != asio::error::not_found) {  // not_found: the request is over kMaxRequest
        timer_.cancel();
        return;
      }
      response = HttpResponse{.status = 400, .body = "request too large\n"};
    } else {
      const std::string head(asio::buffers_begin(buf_.data()),
                             asio::buffers_begin(buf_.data()) + static_cast<long>(n));
      const auto path = requestPath(head);
      const auto method = head.substr(0, head.find_first_of(" \r\n"));
      if (!path && !method.empty() && method != "GET" && method != "HEAD") {
        response = HttpResponse{.status = 405, .body = "read-only: GET or HEAD only\n"};
      } else {
        response = path ? handler_(*path) : HttpResponse{.status = 400, .body = "bad request\n"};
      }
    }
    out_ = formatResponse(response);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [self](const boost::system::error_code&, std::size_t) {
      boost::system::error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
      self->timer_.cancel();
    });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buf_;
  HttpHandler handler_;
  std::string out_;
};

}  // namespace

Result<tcp::endpoint> parseEndpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail(code::kInvalidConfig, "listen address needs a port: " + std::string(text));
  std::string_view host = text.substr(0, colon);
  const std::string_view portText = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const auto [end, err] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (err != std::errc() || end != portText.data() + portText.size() || port > 65535) {
    return fail(code::kInvalidConfig, "bad port in listen address " + std::string(text));
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(std::string(host), ec);
  if (ec) return fail(code::kInvalidConfig, "bad IP in listen address " + std::string(text));
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

std::optional<std::string> requestPath(std::string_view head) {
  const auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  const std::string_view method = line.substr(0, sp1);
  if (method != "GET" && method != "HEAD") return std::nullopt;
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) return std::nullopt;
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.empty() || target.front() != '/') return std::nullopt;
  target = target.substr(0, target.find('?'));
  return std::string(target);
}

std::string formatResponse(const HttpResponse& r) {
  return "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
         "\r\nContent-Type: " + r.contentType + "\r\nContent-Length: " + std::to_string(r.body.size()) +
         (r.status == 405 ? "\r\nAllow: GET, HEAD" : "") + "\r\nConnection: close\r\n\r\n" + r.body;
}

HttpServer::HttpServer(asio::io_context& io, HttpHandler handler)
    : io_(io), acceptor_(io), handler_(std::move(handler)) {}

Status HttpServer::listen(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(code::kIo, "listen on " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
  }
  accept();
  return {};
}

void HttpServer::accept() {
  acceptor_.async_accept(io_, [this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), handler_)->start();
    accept();
  });
}

}  // namespace podnet::daemon
