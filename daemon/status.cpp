#include "status.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "http_server.hpp"

namespace podnet::daemon {

using nlohmann::json;

json statusJson(const std::vector<Node>& nodes, std::string_view self, const ReconcileReport* last,
                bool ready) {
  json out{{"self", std::string(self)}, {"ready", ready}, {"nodes", json::array()}};
  for (const auto& node : nodes) {
    json n{{"name", node.name}, {"addresses", json::array()}, {"podCIDRs", json::array()}};
    for (const auto& a : node.addresses) n["addresses"].push_back(a.str());
    for (const auto& cidr : node.podCidrs) {
      json c{{"cidr", cidr.str()}, {"state", "unknown"}};
      const auto sameDst = [&](const netlink::Route& r) { return r.dst == cidr; };
      if (node.name == self) {
        c["state"] = "local";
      } else if (last != nullptr) {
        const auto& p = last->programmed;
        const auto& b = last->blocked;
        const auto& wanted = last->plan.routes;
        const auto& skipped = last->plan.skipped;
        const auto skip = std::find_if(skipped.begin(), skipped.end(), [&](const Skipped& s) {
          return s.node == node.name && s.podCidr == cidr;
        });
        if (const auto it = std::find_if(p.begin(), p.end(), sameDst); it != p.end()) {
          c["state"] = "programmed";
          c["route"] = "via " + it->gateway->str();
        } else if (std::any_of(b.begin(), b.end(), sameDst)) {
          c["state"] = "blocked";
          c["reason"] = "another protocol's route holds this destination";
        } else if (std::any_of(wanted.begin(), wanted.end(), sameDst)) {
          c["state"] = "failed";
        } else if (skip != skipped.end()) {
          c["state"] = "skipped";
          c["reason"] = skip->reason;
        }
      }
      n["podCIDRs"].push_back(std::move(c));
    }
    out["nodes"].push_back(std::move(n));
  }
  return out;
}

std::string renderStatusTable(const json& status) {
  std::vector<std::array<std::string, 5>> rows{{"NODE", "ADDRESSES", "POD CIDR", "STATE", "ROUTE/REASON"}};
  for (const auto& n : status.value("nodes", json::array())) {
    std::string addrs;
    for (const auto& a : n.value("addresses", json::array()))
      addrs += (addrs.empty() ? "" : ",") + a.get<std::string>();
    const auto cidrs = n.value("podCIDRs", json::array());
    std::string name = n.value("name", "");
    if (name == status.value("self", "")) name += " (self)";
    if (cidrs.empty()) rows.push_back({name, addrs, "-", "-", ""});
    for (const auto& c : cidrs) {
      rows.push_back({name, addrs, c.value("cidr", ""), c.value("state", ""),
                      c.contains("route") ? c.value("route", "") : c.value("reason", "")});
    }
  }
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

Result<json> fetchStatus(const std::string& endpoint) {
  namespace asio = boost::asio;
  PODNET_TRY(const auto ep, parseEndpoint(endpoint));
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(ep, ec);
  if (ec) return fail(code::kIo, "connect to podnetd at " + endpoint + ": " + ec.message());
  const std::string request = "GET /status HTTP/1.1\r\nHost: podnetd\r\nConnection: close\r\n\r\n";
  asio::write(socket, asio::buffer(request), ec);
  std::string response;
  if (!ec) asio::read(socket, asio::dynamic_buffer(response), ec);
  if (ec && ec != asio::error::eof)
    return fail(code::kIo, "read from podnetd at " + endpoint + ": " + ec.message());
  const auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) {
    return fail(code::kIo,
                "podnetd at " + endpoint + " answered: " + response.substr(0, response.find('\r')));
  }
  try {
    return json::parse(response.substr(body + 4));
  } catch (const json::exception& e) {
    return fail(code::kDecode, "podnetd's /status is not JSON", e.what());
  }
}

}  // namespace podnet::daemon
