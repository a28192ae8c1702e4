#include "http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <optional>

namespace podnet::daemon::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// ---------------------------------------------------------------- Url

Result<Url> Url::parse(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return Error{code::kInvalidConfig, "bad URL \"" + std::string(text) + "\"", why};
  };
  Url url;
  const auto schemeEnd = text.find("://");
  if (schemeEnd == std::string_view::npos) return bad("expected scheme://host[:port][/path]");
  url.scheme = std::string(text.substr(0, schemeEnd));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https") return bad("scheme must be http or https");
  std::string_view rest = text.substr(schemeEnd + 3);
  const auto pathStart = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, pathStart);
  std::string_view path = pathStart == std::string_view::npos ? "" : rest.substr(pathStart);
  if (!path.empty() && path.front() != '/') return bad("query and fragment are not allowed");
  if (path.find_first_of("?#") != std::string_view::npos) return bad("query and fragment are not allowed");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6] host");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("garbage after ]");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':') != colon) return bad("an IPv6 host needs [brackets]");
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    url.host = std::string(authority);
  }
  if (url.host.empty()) return bad("empty host");
  if (port.empty()) {
    url.port = url.scheme == "https" ? "443" : "80";
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("bad port \"" + std::string(port) + "\"");
    url.port = std::to_string(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path = std::string(path);
  return url;
}

std::string Url::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + port + path;
}

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

namespace {

bool isIpLiteral(const std::string& host) {
  ErrorCode ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string hostHeader(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + url.host + "]" : url.host;
  const bool defaultPort =
      (url.scheme == "https" && url.port == "443") || (url.scheme == "http" && url.port == "80");
  if (!defaultPort) h += ":" + url.port;
  return h;
}

Error statusError(int status, const std::string& body) {
  std::string shortBody = body.substr(0, 512);
  while (!shortBody.empty() && (shortBody.back() == '\n' || shortBody.back() == '\r')) shortBody.pop_back();
  const int c = (status >= 500 || status == 429) ? code::kTryAgainLater : code::kIo;
  return Error{c, "HTTP " + std::to_string(status) + ": " + shortBody,
               "status " + std::to_string(status) + "; body: " + body.substr(0, 4096)};
}

Error transportError(const std::string& what, const ErrorCode& ec) {
  return Error{code::kTryAgainLater, what + ": " + ec.message(), ec.category().name()};
}

// The TLS context for one connection: CA, client certificate, key. Files are
// read now, so a rotated file is used by the next connection.
Result<std::shared_ptr<asio::ssl::context>> makeContext(const TlsOptions& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ErrorCode ec;
  const auto check = [&](const char* what) -> Result<void> {
    if (ec) return Error{code::kInvalidConfig, std::string("TLS: cannot load ") + what, ec.message()};
    return {};
  };
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (!tls.caData.empty()) {
    ctx->add_certificate_authority(asio::buffer(tls.caData), ec);
    PODNET_CHECK(check("CA data"));
  } else if (!tls.caFile.empty()) {
    ctx->load_verify_file(tls.caFile, ec);
    PODNET_CHECK(check(("CA file " + tls.caFile).c_str()));
  } else {
    ctx->set_default_verify_paths(ec);
    PODNET_CHECK(check("the system's CA store"));
  }
  if (!tls.certData.empty()) {
    ctx->use_certificate_chain(asio::buffer(tls.certData), ec);
    PODNET_CHECK(check("client certificate data"));
  } else if (!tls.certFile.empty()) {
    ctx->use_certificate_chain_file(tls.certFile, ec);
    PODNET_CHECK(check(("client certificate " + tls.certFile).c_str()));
  }
  if (!tls.keyData.empty()) {
    ctx->use_private_key(asio::buffer(tls.keyData), asio::ssl::context::pem, ec);
    PODNET_CHECK(check("client key data"));
  } else if (!tls.keyFile.empty()) {
    ctx->use_private_key_file(tls.keyFile, asio::ssl::context::pem, ec);
    PODNET_CHECK(check(("client key " + tls.keyFile).c_str()));
  }
  ctx->set_verify_mode(tls.insecureSkipVerify ? asio::ssl::verify_none : asio::ssl::verify_peer);
  return ctx;
}

// One HTTP exchange (request or stream) on its own connection.
class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(asio::io_context& io, Url url, TlsOptions tls, bhttp::request<bhttp::string_body> req,
            std::chrono::milliseconds timeout, std::chrono::milliseconds idleTimeout)
      : io_(io),
        url_(std::move(url)),
        tls_(std::move(tls)),
        req_(std::move(req)),
        timeout_(timeout),
        idleTimeout_(idleTimeout),
        resolver_(io),
        timer_(io) {}
  virtual ~Operation() = default;

  void start() {
    if (url_.scheme == "https") {
      auto ctx = makeContext(tls_);
      if (!ctx.ok()) {
        fail(ctx.error());
        return;
      }
      ctx_ = std::move(*ctx);
      ssl_.emplace(io_, *ctx_);
      SSL* ssl = ssl_->native_handle();
      const std::string& name = tls_.serverName.empty() ? url_.host : tls_.serverName;
      if (!tls_.insecureSkipVerify) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int ok = isIpLiteral(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                         : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
        if (ok != 1) {
          fail(Error{code::kInvalidConfig, "TLS: cannot verify against \"" + name + "\""});
          return;
        }
      }
      if (!isIpLiteral(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
    } else {
      plain_.emplace(io_);
    }
    arm(timeout_);
    auto self = shared_from_this();
    const auto flags = isIpLiteral(url_.host) ? tcp::resolver::numeric_host : tcp::resolver::flags{};
    resolver_.async_resolve(url_.host, url_.port, flags,
                            [self](const ErrorCode& ec, const tcp::resolver::results_type& results) {
                              if (self->done_) return;
                              if (ec) return self->fail(transportError("resolve " + self->url_.host, ec));
                              self->connect(results);
                            });
  }

  // Ends the operation; its handler then reports "cancelled".
  void cancel() {
    if (done_) return;
    cancelled_ = true;
    close();
  }

  bool finished() const { return done_; }

  // Client destroyed: end without calling anything back.
  void abandon() {
    silenced_ = true;
    cancel();
  }

 protected:
  virtual void onHeaders() = 0;      // the response's header is in parser_
  virtual void report(Error e) = 0;  // ends with an error, exactly once

  tcp::socket& socket() { return ssl_ ? ssl_->next_layer() : *plain_; }

  // (Re)arms the deadline; 0 disarms it.
  void arm(std::chrono::milliseconds d) {
    if (d.count() <= 0) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(d);
    timer_.async_wait([weak = weak_from_this()](const ErrorCode& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && !self->done_) {
        self->timedOut_ = true;
        self->close();
      }
    });
  }

  void close() {
    ErrorCode ignored;
    resolver_.cancel();
    if (ssl_ || plain_) {
      socket().cancel(ignored);
      socket().close(ignored);
    }
    timer_.cancel();
  }

  // The handler of a failed async step: says why (cancel, timeout, ec).
  void fail(const std::string& what, const ErrorCode& ec) {
    if (cancelled_) return fail(Error{code::kTryAgainLater, "cancelled"});
    if (timedOut_) return fail(Error{code::kTryAgainLater, what + ": timed out"});
    fail(transportError(what, ec));
  }
  void fail(Error e) {
    if (done_) return;
    done_ = true;
    close();
    report(std::move(e));
  }
  // Marks success; the caller reports.
  bool succeed() {
    if (done_) return false;
    done_ = true;
    close();
    return true;
  }

  template <class Handler>
  void readSome(Handler&& h) {
    if (ssl_)
      bhttp::async_read_some(*ssl_, buffer_, parser_, std::forward<Handler>(h));
    else
      bhttp::async_read_some(*plain_, buffer_, parser_, std::forward<Handler>(h));
  }
  template <class Handler>
  void readAll(Handler&& h) {
    if (ssl_)
      bhttp::async_read(*ssl_, buffer_, parser_, std::forward<Handler>(h));
    else
      bhttp::async_read(*plain_, buffer_, parser_, std::forward<Handler>(h));
  }

  asio::io_context& io_;
  Url url_;
  TlsOptions tls_;
  bhttp::request<bhttp::string_body> req_;
  std::chrono::milliseconds timeout_, idleTimeout_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::shared_ptr<asio::ssl::context> ctx_;
  std::optional<asio::ssl::stream<tcp::socket>> ssl_;
  std::optional<tcp::socket> plain_;
  beast::flat_buffer buffer_;
  bhttp::response_parser<bhttp::string_body> parser_;
  bool done_ = false;
  bool cancelled_ = false;
  bool silenced_ = false;
  bool timedOut_ = false;

 private:
  void connect(const tcp::resolver::results_type& results) {
    auto self = shared_from_this();
    asio::async_connect(socket(), results, [self](const ErrorCode& ec, const tcp::endpoint&) {
      if (self->done_) return;
      if (ec) return self->fail("connect " + self->url_.str(), ec);
      ErrorCode ignored;
      self->socket().set_option(tcp::no_delay(true), ignored);
      if (self->ssl_)
        self->handshake();
      else
        self->write();
    });
  }

  void handshake() {
    auto self = shared_from_this();
    ssl_->async_handshake(asio::ssl::stream_base::client, [self](const ErrorCode& ec) {
      if (self->done_) return;
      if (ec) return self->fail("TLS handshake with " + self->url_.str(), ec);
      self->write();
    });
  }

  void write() {
    auto self = shared_from_this();
    auto handler = [self](const ErrorCode& ec, std::size_t) {
      if (self->done_) return;
      if (ec) return self->fail("send request", ec);
      self->readHeader();
    };
    if (ssl_)
      bhttp::async_write(*ssl_, req_, handler);
    else
      bhttp::async_write(*plain_, req_, handler);
  }

  void readHeader() {
    auto self = shared_from_this();
    auto handler = [self](const ErrorCode& ec, std::size_t) {
      if (self->done_) return;
      if (ec) return self->fail("read response header", ec);
      self->onHeaders();
    };
    if (ssl_)
      bhttp::async_read_header(*ssl_, buffer_, parser_, handler);
    else
      bhttp::async_read_header(*plain_, buffer_, parser_, handler);
  }
};

class RequestOp final : public Operation {
 public:
  RequestOp(asio::io_context& io, Url url, TlsOptions tls, bhttp::request<bhttp::string_body> req,
            std::chrono::milliseconds timeout, std::function<void(Result<Response>)> done)
      : Operation(io, std::move(url), std::move(tls), std::move(req), timeout, {}),
        done_cb_(std::move(done)) {
    parser_.body_limit(kMaxBodyBytes);
  }

 private:
  void onHeaders() override {
    auto self = std::static_pointer_cast<RequestOp>(shared_from_this());
    readAll([self](const ErrorCode& ec, std::size_t) {
      if (self->done_) return;
      if (ec) return self->fail("read response body", ec);
      if (!self->succeed()) return;
      auto msg = self->parser_.release();
      Response r;
      r.status = static_cast<int>(msg.result_int());
      for (const auto& field : msg) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        r.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      r.body = std::move(msg.body());
      self->deliver(std::move(r));
    });
  }
  void report(Error e) override { deliver(std::move(e)); }
  void deliver(Result<Response> r) {
    // Always later, never from inside request() or cancel().
    if (silenced_) return;
    auto self = std::static_pointer_cast<RequestOp>(shared_from_this());
    asio::post(io_, [self, r = std::move(r)]() mutable {
      auto cb = std::move(self->done_cb_);
      if (cb && !self->silenced_) cb(std::move(r));
    });
  }

  std::function<void(Result<Response>)> done_cb_;
};

class StreamOp final : public Operation, public Stream {
 public:
  StreamOp(asio::io_context& io, Url url, TlsOptions tls, bhttp::request<bhttp::string_body> req,
           std::chrono::milliseconds timeout, std::chrono::milliseconds idle,
           std::function<void(std::string_view)> onLine, std::function<void()> onDrained,
           std::function<void(Result<void>)> done)
      : Operation(io, std::move(url), std::move(tls), std::move(req), timeout, idle),
        onLine_(std::move(onLine)),
        onDrained_(std::move(onDrained)),
        done_cb_(std::move(done)) {
    // Not boost::none: Beast 1.74 compares a Content-Length against a disengaged
    // optional as "greater" and fails every response that has one.
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.eager(true);
  }

  void cancel() override { Operation::cancel(); }

 private:
  void onHeaders() override {
    const int status = static_cast<int>(parser_.get().result_int());
    if (status < 200 || status > 299) {
      // Read what the server says (bounded), then end with it.
      parser_.body_limit(64 * 1024);
      auto self = std::static_pointer_cast<StreamOp>(shared_from_this());
      readAll([self, status](const ErrorCode&, std::size_t) {
        if (self->done_) return;
        self->fail(statusError(status, self->parser_.get().body()));
      });
      return;
    }
    arm(idleTimeout_);
    readBody();
  }

  void readBody() {
    if (parser_.is_done()) return finishBody();
    auto self = std::static_pointer_cast<StreamOp>(shared_from_this());
    readSome([self](const ErrorCode& ec, std::size_t) {
      if (self->done_) return;
      if (ec && ec != bhttp::error::end_of_stream) return self->fail("read stream", ec);
      self->arm(self->idleTimeout_);
      if (!self->splitLines(false)) return;
      if (ec) return self->finishBody();
      if (self->onDrained_ && !self->moreWaiting()) {
        self->onDrained_();
        if (self->done_ || self->cancelled_) return self->fail(Error{code::kTryAgainLater, "cancelled"});
      }
      self->readBody();
    });
  }

  // Bytes already received but not yet parsed, decrypted or read.
  bool moreWaiting() {
    // The parser is eager: what is left in buffer_ is an incomplete piece
    // whose rest has not arrived yet.
    if (ssl_ && SSL_pending(ssl_->native_handle()) > 0) return true;
    ErrorCode ec;
    return socket().available(ec) > 0 && !ec;
  }

  // Hands every complete line to onLine; false if the stream ended meanwhile.
  bool splitLines(bool last) {
    std::string& body = parser_.get().body();
    std::size_t start = 0;
    while (!done_ && !cancelled_) {
      const auto nl = body.find('\n', scanned_);
      if (nl == std::string::npos) break;
      std::string_view line(body.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = nl + 1;
      scanned_ = start;
      if (!line.empty()) onLine_(line);
    }
    if (last && !done_ && !cancelled_ && start < body.size()) {
      std::string_view line = std::string_view(body).substr(start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = body.size();
      if (!line.empty()) onLine_(line);
    }
    if (cancelled_) fail(Error{code::kTryAgainLater, "cancelled"});
    if (done_) return false;
    body.erase(0, start);
    scanned_ = body.size();
    if (body.size() > kMaxLineBytes) {
      fail(Error{code::kIo, "stream line longer than " + std::to_string(kMaxLineBytes) + " bytes"});
      return false;
    }
    return true;
  }

  void finishBody() {
    if (!splitLines(true)) return;
    if (!succeed()) return;
    deliver({});
  }

  void report(Error e) override { deliver(std::move(e)); }
  void deliver(Result<void> r) {
    onLine_ = nullptr;
    onDrained_ = nullptr;
    if (silenced_) return;
    auto self = std::static_pointer_cast<StreamOp>(shared_from_this());
    asio::post(io_, [self, r = std::move(r)]() mutable {
      auto cb = std::move(self->done_cb_);
      if (cb && !self->silenced_) cb(std::move(r));
    });
  }

  std::function<void(std::string_view)> onLine_;
  std::function<void()> onDrained_;
  std::function<void(Result<void>)> done_cb_;
  std::size_t scanned_ = 0;
};

}  // namespace

// ---------------------------------------------------------------- Client

struct Client::Impl {
  Impl(asio::io_context& ioContext, Url u, TlsOptions t)
      : io(ioContext), base(std::move(u)), tls(std::move(t)) {}

  asio::io_context& io;
  Url base;
  TlsOptions tls;
  std::map<std::string, std::string> headers;
  std::vector<std::weak_ptr<Operation>> ops;

  bhttp::request<bhttp::string_body> build(Request& r) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(r.method);
    req.target(base.path + (r.target.empty() ? "/" : r.target));
    req.version(11);
    req.set(bhttp::field::host, hostHeader(base));
    req.set(bhttp::field::user_agent, "podnetd");
    for (const auto& [k, v] : headers) req.set(k, v);
    for (const auto& [k, v] : r.headers) req.set(k, v);
    req.body() = std::move(r.body);
    if (!req.body().empty() || r.method != "GET") req.prepare_payload();
    return req;
  }

  void track(const std::shared_ptr<Operation>& op) {
    ops.erase(std::remove_if(ops.begin(), ops.end(),
                             [](const std::weak_ptr<Operation>& w) {
                               auto p = w.lock();
                               return !p || p->finished();
                             }),
              ops.end());
    ops.push_back(op);
  }
};

Client::Client(asio::io_context& io, Url base, TlsOptions tls)
    : impl_(std::make_shared<Impl>(io, std::move(base), std::move(tls))) {}

Client::~Client() {
  for (auto& weak : impl_->ops)
    if (auto op = weak.lock()) op->abandon();
}

void Client::request(Request req, std::function<void(Result<Response>)> done) {
  auto op = std::make_shared<RequestOp>(impl_->io, impl_->base, impl_->tls, impl_->build(req), req.timeout,
                                        std::move(done));
  impl_->track(op);
  op->start();
}

std::shared_ptr<Stream> Client::stream(Request req, std::function<void(std::string_view)> onLine,
                                       std::function<void(Result<void>)> done) {
  auto op = std::make_shared<StreamOp>(impl_->io, impl_->base, impl_->tls, impl_->build(req), req.timeout,
                                       req.idleTimeout, std::move(onLine), std::move(req.onDrained),
                                       std::move(done));
  impl_->track(op);
  op->start();
  return op;
}

void Client::setHeader(std::string name, std::string value) {
  if (value.empty())
    impl_->headers.erase(name);
  else
    impl_->headers[std::move(name)] = std::move(value);
}

const Url& Client::base() const { return impl_->base; }

}  // namespace podnet::daemon::http
