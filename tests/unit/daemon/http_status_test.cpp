// The HTTP endpoint's parsing and formatting, /metrics, and the status table.
#include <doctest/doctest.h>

#include "http_server.hpp"
#include "metrics.hpp"
#include "status.hpp"

namespace podnet::daemon {
namespace {

TEST_CASE("http: request paths and listen addresses") {
  CHECK(requestPath("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == "/metrics");
  CHECK(requestPath("GET /healthz?verbose=1 HTTP/1.0\r\n\r\n") == "/healthz");
  CHECK_FALSE(requestPath("POST /metrics HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(requestPath("GET metrics HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(requestPath("GET /metrics\r\n\r\n"));
  CHECK_FALSE(requestPath("garbage"));
  const auto ep = parseEndpoint("127.0.0.1:9650");
  REQUIRE(ep.ok());
  CHECK(ep->port() == 9650);
  CHECK(parseEndpoint("[::1]:80").ok());
  CHECK_FALSE(parseEndpoint("127.0.0.1").ok());
  CHECK_FALSE(parseEndpoint("127.0.0.1:99999").ok());
  CHECK_FALSE(parseEndpoint("localhost:80").ok());
  CHECK(formatResponse({.status = 404, .body = "no\n"}) ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
        "Connection: close\r\n\r\nno\n");
}

TEST_CASE("metrics: Prometheus text with the documented names") {
  const auto text = renderMetrics(Metrics{.nodesKnown = 3,
                                          .routesProgrammed = 4,
                                          .reconcileTotal = 2,
                                          .reconcileSecondsSum = 0.5,
                                          .ready = true});
  CHECK(text.find("\npodnetd_nodes_known 3\n") != std::string::npos);
  CHECK(text.find("\npodnetd_routes_programmed 4\n") != std::string::npos);
  CHECK(text.find("\npodnetd_reconcile_total 2\n") != std::string::npos);
  CHECK(text.find("\npodnetd_reconcile_duration_seconds_sum 0.5\n") != std::string::npos);
  CHECK(text.find("\npodnetd_reconcile_duration_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("\npodnetd_reconcile_errors_total 0\n") != std::string::npos);
  CHECK(text.find("\npodnetd_ready 1\n") != std::string::npos);
}

TEST_CASE("status: one row per pod CIDR with its state") {
  const std::vector<Node> nodes{
      {.name = "n1",
       .addresses = {*ip::Address::parse("192.168.77.11")},
       .podCidrs = {*ip::Prefix::parse("10.244.1.0/24")}},
      {.name = "n2",
       .addresses = {*ip::Address::parse("192.168.77.12")},
       .podCidrs = {*ip::Prefix::parse("10.244.2.0/24")}},
      {.name = "far",
       .addresses = {*ip::Address::parse("10.9.9.9")},
       .podCidrs = {*ip::Prefix::parse("10.244.9.0/24")}},
  };
  ReconcileReport report;
  const netlink::Route route{.dst = *ip::Prefix::parse("10.244.2.0/24"),
                             .gateway = ip::Address::parse("192.168.77.12"),
                             .oif = 3,
                             .protocol = kRouteProtocol};
  report.plan.routes = {route};
  report.programmed = {route};
  report.plan.skipped = {
      {.node = "far", .podCidr = *ip::Prefix::parse("10.244.9.0/24"), .reason = "unreachable: x"}};
  const auto doc = statusJson(nodes, "n1", &report, true);
  CHECK(renderStatusTable(doc) ==
        "NODE       ADDRESSES      POD CIDR       STATE       ROUTE/REASON\n"
        "n1 (self)  192.168.77.11  10.244.1.0/24  local\n"
        "n2         192.168.77.12  10.244.2.0/24  programmed  via 192.168.77.12\n"
        "far        10.9.9.9       10.244.9.0/24  skipped     unreachable: x\n");
}

}  // namespace
}  // namespace podnet::daemon
