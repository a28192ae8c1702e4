// The HTTP client: URLs, requests, streams (chunked or not), errors, timeouts
// and cancellation, against a tiny scripted server on 127.0.0.1 in this process.
#include "http_client.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace podnet::daemon::http {
namespace {

using namespace std::chrono_literals;

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Serves one connection at a time on 127.0.0.1: reads a request (header and a
// Content-Length body), records it, then runs the script on the socket.
class ScriptedServer {
 public:
  using Script = std::function<void(int fd, const std::atomic<bool>& stopping)>;

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  Url url(const std::string& path = "") const {
    return *Url::parse("http://127.0.0.1:" + std::to_string(port_) + path);
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void loop() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      std::size_t want = std::string::npos;
      while (req.size() < want) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        const auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
        const auto end = req.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          std::size_t length = 0;
          if (const auto cl = req.find("Content-Length: "); cl != std::string::npos && cl < end)
            length = std::stoul(req.substr(cl + 16));
          want = end + 4 + length;
        }
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      script_(c, stopping_);
      ::close(c);
    }
  }

  Script script_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

ScriptedServer::Script reply(std::string text) {
  return [text](int fd, const std::atomic<bool>&) { sendAll(fd, text); };
}

// Waits (in the server thread) until the test ends.
void hang(const std::atomic<bool>& stopping) {
  while (!stopping) std::this_thread::sleep_for(5ms);
}

struct StreamResult {
  std::vector<std::string> lines;
  std::optional<Result<void>> done;
  int doneCalls = 0;
};

StreamResult runStream(const Url& url, Request req,
                       std::function<void(Stream&, StreamResult&)> onEachLine = {}) {
  boost::asio::io_context io;
  Client client(io, url);
  StreamResult out;
  std::shared_ptr<Stream> stream;
  stream = client.stream(
      std::move(req),
      [&](std::string_view line) {
        out.lines.emplace_back(line);
        if (onEachLine) onEachLine(*stream, out);
      },
      [&](Result<void> r) {
        out.done = std::move(r);
        ++out.doneCalls;
      });
  io.run();
  return out;
}

TEST_CASE("http url: schemes, default ports, IPv6 brackets, paths - errors") {
  auto u = Url::parse("https://10.0.0.1:6443");
  REQUIRE(u.ok());
  CHECK(*u == Url{"https", "10.0.0.1", "6443", ""});
  CHECK(*Url::parse("http://[fd00::1]:2379/prefix/") == Url{"http", "fd00::1", "2379", "/prefix"});
  CHECK(*Url::parse("HTTPS://api.example") == Url{"https", "api.example", "443", ""});
  CHECK(Url::parse("http://host")->port == "80");
  CHECK(Url::parse("https://[fd00::1]:6443")->str() == "https://[fd00::1]:6443");
  for (const char* bad : {"ftp://h", "h:80", "http://", "http://fd00::1:80", "http://h:0", "http://h:70000",
                          "http://h:8x", "http://u@h", "http://h/p?q=1", "http://[fd00::1"}) {
    CAPTURE(bad);
    const auto r = Url::parse(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code::kInvalidConfig);
  }
}

TEST_CASE("http request: sends method, target under the base path, headers and body - reads the response") {
  ScriptedServer server(
      reply("HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"));
  boost::asio::io_context io;
  Client client(io, server.url("/base"));
  client.setHeader("Authorization", "Bearer t0ken");
  std::optional<Result<Response>> got;
  Request req;
  req.method = "POST";
  req.target = "/v3/kv/range";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = R"({"key":"a"})";
  client.request(req, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  REQUIRE(got);
  REQUIRE(got->ok());
  CHECK((*got)->status == 201);
  CHECK((*got)->body == "hello");
  CHECK((*got)->header("content-type") == "text/plain");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const auto& r = requests[0];
  CHECK(r.rfind("POST /base/v3/kv/range HTTP/1.1\r\n", 0) == 0);
  CHECK(r.find("Authorization: Bearer t0ken\r\n") != std::string::npos);
  CHECK(r.find("Host: 127.0.0.1:") != std::string::npos);
  CHECK(r.find("Content-Length: 11\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 11) == R"({"key":"a"})");
}

TEST_CASE("http request: a non-2xx status is a Response, not an Error - setHeader with \"\" removes") {
  ScriptedServer server(reply("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"));
  boost::asio::io_context io;
  Client client(io, server.url());
  client.setHeader("X-Test", "1");
  client.setHeader("X-Test", "");
  std::optional<Result<Response>> got;
  client.request({}, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  REQUIRE(got);
  REQUIRE(got->ok());
  CHECK((*got)->status == 404);
  CHECK((*got)->body == "not found");
  CHECK(server.requests().at(0).find("X-Test") == std::string::npos);
}

TEST_CASE("http request: connection refused is a try-again Error") {
  // A port nobody listens on: bind one, then close it.
  std::uint16_t port = 0;
  {
    ScriptedServer probe(reply(""));
    port = static_cast<std::uint16_t>(std::stoi(probe.url().port));
  }
  boost::asio::io_context io;
  Client client(io, *Url::parse("http://127.0.0.1:" + std::to_string(port)));
  std::optional<Result<Response>> got;
  client.request({}, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().code == code::kTryAgainLater);
  CHECK(got->error().msg.find("connect") != std::string::npos);
}

TEST_CASE("http request: a server that never answers times out") {
  ScriptedServer server([](int, const std::atomic<bool>& stopping) { hang(stopping); });
  boost::asio::io_context io;
  Client client(io, server.url());
  std::optional<Result<Response>> got;
  Request req;
  req.timeout = 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  client.request(req, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().msg.find("timed out") != std::string::npos);
  CHECK(took >= 190ms);
  CHECK(took < 2s);
}

TEST_CASE("http request: destroying the Client cancels and calls nothing back") {
  ScriptedServer server([](int, const std::atomic<bool>& stopping) { hang(stopping); });
  boost::asio::io_context io;
  int calls = 0;
  {
    auto client = std::make_unique<Client>(io, server.url());
    client->request({}, [&](Result<Response>) { ++calls; });
    io.run_for(100ms);
  }
  io.restart();
  io.run();
  CHECK(calls == 0);
}

TEST_CASE("http stream: chunked body, lines split across chunks, last line without newline") {
  ScriptedServer server([](int fd, const std::atomic<bool>&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (std::string_view chunk : {"{\"a\"", ":1}\n{\"b\":2}\r\n{\"c\"", ":3}\n\n", "{\"d\":4}"}) {
      char head[16];
      std::snprintf(head, sizeof head, "%zx\r\n", chunk.size());
      sendAll(fd, head);
      sendAll(fd, chunk);
      sendAll(fd, "\r\n");
      std::this_thread::sleep_for(10ms);
    }
    sendAll(fd, "0\r\n\r\n");
  });
  Request req;
  req.target = "/api/v1/nodes?watch=1";
  const auto out = runStream(server.url(), req);
  CHECK(out.lines == std::vector<std::string>{R"({"a":1})", R"({"b":2})", R"({"c":3})", R"({"d":4})"});
  REQUIRE(out.done);
  CHECK(out.done->ok());
  CHECK(out.doneCalls == 1);
  CHECK(server.requests().at(0).rfind("GET /api/v1/nodes?watch=1 HTTP/1.1", 0) == 0);
}

TEST_CASE("http stream: onDrained runs once per burst, after its lines, when nothing more is waiting") {
  // The second burst goes once the client drained the first (or, if it never
  // does, after a deadline that only ends a hang): two bursts, on any machine.
  std::atomic<bool> firstDrained{false};
  ScriptedServer server([&firstDrained](int fd, const std::atomic<bool>& stopping) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\na\nb\nc\n\r\n");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!firstDrained && !stopping && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    sendAll(fd, "4\r\nd\ne\n\r\n0\r\n\r\n");
  });
  boost::asio::io_context io;
  Client client(io, server.url());
  std::vector<std::string> lines;
  std::vector<std::size_t> drainedAt;
  std::optional<Result<void>> done;
  Request req;
  req.onDrained = [&] {
    drainedAt.push_back(lines.size());
    if (lines.size() == 3) firstDrained = true;
  };
  auto stream = client.stream(
      req, [&](std::string_view line) { lines.emplace_back(line); },
      [&](Result<void> r) { done = std::move(r); });
  io.run();
  CHECK(lines == std::vector<std::string>{"a", "b", "c", "d", "e"});
  REQUIRE_FALSE(drainedAt.empty());
  // After the first burst as a whole (never in its middle), and maybe before it.
  CHECK(std::find(drainedAt.begin(), drainedAt.end(), 3) != drainedAt.end());
  for (const auto n : drainedAt) CHECK((n == 0 || n == 3 || n == 5));
  REQUIRE(done);
  CHECK(done->ok());
}

TEST_CASE("http stream: a body without length ends at the server's close") {
  ScriptedServer server(reply("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nline1\nline2\n"));
  const auto out = runStream(server.url(), {});
  CHECK(out.lines == std::vector<std::string>{"line1", "line2"});
  REQUIRE(out.done);
  CHECK(out.done->ok());
}

TEST_CASE("http stream: a non-2xx status ends it with an Error carrying status and body") {
  ScriptedServer server(reply("HTTP/1.1 410 Gone\r\nContent-Length: 24\r\n\r\n{\"reason\":\"Expired\",x:1}"));
  const auto out = runStream(server.url(), {});
  CHECK(out.lines.empty());
  REQUIRE(out.done);
  REQUIRE_FALSE(out.done->ok());
  CAPTURE(out.done->error().msg);
  CHECK(out.done->error().code == code::kIo);
  CHECK(out.done->error().msg.find("HTTP 410") == 0);
  CHECK(out.done->error().msg.find("Expired") != std::string::npos);
  CHECK(out.done->error().details.find("status 410") != std::string::npos);

  ScriptedServer busy(reply("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"));
  const auto out503 = runStream(busy.url(), {});
  REQUIRE(out503.done);
  REQUIRE_FALSE(out503.done->ok());
  CHECK(out503.done->error().code == code::kTryAgainLater);
}

TEST_CASE("http stream: cancel() from onLine stops the lines - done runs once with \"cancelled\"") {
  ScriptedServer server([](int fd, const std::atomic<bool>& stopping) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\none\ntw\r\n");
    hang(stopping);
  });
  const auto out = runStream(server.url(), {}, [](Stream& s, StreamResult&) { s.cancel(); });
  CHECK(out.lines == std::vector<std::string>{"one"});
  REQUIRE(out.done);
  REQUIRE_FALSE(out.done->ok());
  CHECK(out.done->error().msg == "cancelled");
  CHECK(out.doneCalls == 1);
}

TEST_CASE("http stream: silence longer than idleTimeout ends it with an Error") {
  ScriptedServer server([](int fd, const std::atomic<bool>& stopping) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhey\n\r\n");
    hang(stopping);
  });
  Request req;
  req.idleTimeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = runStream(server.url(), req);
  CHECK(std::chrono::steady_clock::now() - t0 >= 290ms);
  CHECK(out.lines == std::vector<std::string>{"hey"});
  REQUIRE(out.done);
  REQUIRE_FALSE(out.done->ok());
  CHECK(out.done->error().msg.find("timed out") != std::string::npos);
}

TEST_CASE("http stream: a connection cut inside the chunked body is an Error, not a clean end") {
  ScriptedServer server(reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhey\n\r\n"));
  const auto out = runStream(server.url(), {});
  CHECK(out.lines == std::vector<std::string>{"hey"});
  REQUIRE(out.done);
  REQUIRE_FALSE(out.done->ok());
  CHECK(out.done->error().code == code::kTryAgainLater);
}

TEST_CASE("http client: https to a server without TLS fails the handshake") {
  ScriptedServer server(reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  boost::asio::io_context io;
  TlsOptions tls;
  tls.insecureSkipVerify = true;
  Client client(io, *Url::parse("https://127.0.0.1:" + server.url().port), tls);
  std::optional<Result<Response>> got;
  client.request({}, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().msg.find("TLS handshake") != std::string::npos);
}

TEST_CASE("http client: unreadable TLS files are a config Error") {
  boost::asio::io_context io;
  TlsOptions tls;
  tls.caFile = "/nonexistent/ca.crt";
  Client client(io, *Url::parse("https://127.0.0.1:1"), tls);
  std::optional<Result<Response>> got;
  client.request({}, [&](Result<Response> r) { got = std::move(r); });
  io.run();
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().code == code::kInvalidConfig);
  CHECK(got->error().msg.find("/nonexistent/ca.crt") != std::string::npos);
}

}  // namespace
}  // namespace podnet::daemon::http
