// Masquerade state in table inet podnet: rendering, parsing, applying.
#include "podnet/nft/masquerade.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "podnet/log/log.hpp"
#include "podnet/nft/context.hpp"

namespace podnet::nft {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdPrefix = 32;
constexpr std::size_t kMaxOwner = 64;
constexpr auto kLockTimeout = std::chrono::milliseconds(10000);

std::uint32_t fnv1a32(std::string_view s) {
  std::uint32_t h = 2166136261U;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619U;
  }
  return h;
}

bool validOwner(std::string_view owner) {
  if (owner.empty() || owner.size() > kMaxOwner) return false;
  return std::all_of(owner.begin(), owner.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const NamedSet* findSet(const TableState& t, const std::string& name) {
  for (const auto& s : t.sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// How commands name table inet podnet.
std::string tableSpec() { return fmt::format("inet {}", kTable); }

bool hasPodnetTable(const json& listing) {
  for (const auto& item : listing.at("nftables")) {
    const auto t = item.find("table");
    if (t == item.end()) continue;
    if (t->value("family", "") == "inet" && t->value("name", "") == kTable) return true;
  }
  return false;
}

}  // namespace

std::string networkId(std::string_view network) {
  std::string id;
  for (char c : network.substr(0, kMaxIdPrefix)) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    id.push_back(safe ? c : '_');
  }
  return fmt::format("{}_{:08x}", id, fnv1a32(network));
}

Names namesFor(std::string_view network) {
  const std::string id = networkId(network);
  return {.chain = "masq_" + id,
          .pods4 = "pods4_" + id,
          .pods6 = "pods6_" + id,
          .local4 = "local4_" + id,
          .local6 = "local6_" + id};
}

Result<std::string> renderAdd(const Pod& pod, const std::optional<TableState>& table) {
  if (!validOwner(pod.owner))
    return fail(code::kInvalidConfig, "masquerade owner must be 1-64 of [A-Za-z0-9_.:-]", pod.owner);
  if (pod.addresses.empty()) return fail(code::kInvalidConfig, "masquerade needs at least one pod address");
  const Names n = namesFor(pod.network);
  const std::string t = tableSpec();
  const TableState empty;
  const TableState& state = table ? *table : empty;
  std::string out;
  if (!table) out += fmt::format("add table {}\n", t);

  const std::pair<const std::string*, const char*> sets[] = {
      {&n.pods4, "type ipv4_addr;"},
      {&n.pods6, "type ipv6_addr;"},
      {&n.local4, "type ipv4_addr; flags interval; auto-merge;"},
      {&n.local6, "type ipv6_addr; flags interval; auto-merge;"}};
  for (const auto& [name, spec] : sets) {
    if (findSet(state, *name) == nullptr) out += fmt::format("add set {} {} {{ {} }}\n", t, *name, spec);
  }
  const auto rules = std::count(state.rules.begin(), state.rules.end(), n.chain);
  if (!contains(state.chains, n.chain)) {
    out += fmt::format("add chain {} {} {{ type nat hook postrouting priority srcnat; policy accept; }}\n", t,
                       n.chain);
  } else if (rules != 2) {
    out += fmt::format("flush chain {} {}\n", t, n.chain);
  }
  if (rules != 2) {
    out += fmt::format(
        "add rule {t} {c} ip saddr @{p4} ip daddr != @{l4} masquerade\n"
        "add rule {t} {c} ip6 saddr @{p6} ip6 daddr != @{l6} masquerade\n",
        fmt::arg("t", t), fmt::arg("c", n.chain), fmt::arg("p4", n.pods4), fmt::arg("p6", n.pods6),
        fmt::arg("l4", n.local4), fmt::arg("l6", n.local6));
  }

  // Subnets first, then multicast, each once and only when not there yet.
  std::vector<ip::Prefix> local;
  for (const auto& a : pod.addresses) {
    if (std::find(local.begin(), local.end(), a.network()) == local.end()) local.push_back(a.network());
  }
  for (const auto& a : pod.addresses) {
    const ip::Prefix multicast = *ip::Prefix::parse(a.addr.isV4() ? "224.0.0.0/4" : "ff00::/8");
    if (std::find(local.begin(), local.end(), multicast) == local.end()) local.push_back(multicast);
  }
  for (const auto& p : local) {
    const std::string& name = p.addr.isV4() ? n.local4 : n.local6;
    const NamedSet* set = findSet(state, name);
    if (set != nullptr && std::find(set->prefixes.begin(), set->prefixes.end(), p) != set->prefixes.end())
      continue;
    out += fmt::format("add element {} {} {{ {} }}\n", t, name, p.str());
  }

  for (const auto& a : pod.addresses) {
    const std::string& name = a.addr.isV4() ? n.pods4 : n.pods6;
    const NamedSet* set = findSet(state, name);
    const Element* old = nullptr;
    if (set != nullptr) {
      for (const auto& e : set->elements) {
        if (e.addr == a.addr) old = &e;
      }
    }
    if (old != nullptr && old->comment == pod.owner) continue;
    // Another owner's leftover: the address is ours now.
    if (old != nullptr) out += fmt::format("delete element {} {} {{ {} }}\n", t, name, a.addr.str());
    out += fmt::format("add element {} {} {{ {} comment \"{}\" }}\n", t, name, a.addr.str(), pod.owner);
  }
  return out;
}

Result<TableState> parseTable(std::string_view text) {
  try {
    const json doc = json::parse(text);
    TableState state;
    for (const auto& item : doc.at("nftables")) {
      if (const auto c = item.find("chain"); c != item.end()) {
        state.chains.push_back(c->at("name").get<std::string>());
        continue;
      }
      if (const auto r = item.find("rule"); r != item.end()) {
        state.rules.push_back(r->at("chain").get<std::string>());
        continue;
      }
      const auto s = item.find("set");
      if (s == item.end()) continue;
      NamedSet set{.name = s->at("name").get<std::string>()};
      if (const auto elems = s->find("elem"); elems != s->end()) {
        for (const auto& e : *elems) {
          // "10.0.0.6", or {"elem": {"val": "10.0.0.5", "comment": "..."}},
          // or {"prefix": {"addr": "10.0.0.0", "len": 24}}; ranges are skipped.
          const json* val = &e;
          std::string comment;
          if (e.is_object()) {
            if (const auto p = e.find("prefix"); p != e.end()) {
              const auto addr = ip::Address::parse(p->at("addr").get<std::string>());
              if (addr) set.prefixes.push_back({*addr, p->at("len").get<int>()});
              continue;
            }
            const auto inner = e.find("elem");
            if (inner == e.end()) continue;
            val = &inner->at("val");
            comment = inner->value("comment", "");
          }
          if (!val->is_string()) continue;
          const auto addr = ip::Address::parse(val->get<std::string>());
          if (addr) set.elements.push_back({.addr = *addr, .comment = std::move(comment)});
        }
      }
      state.sets.push_back(std::move(set));
    }
    return state;
  } catch (const json::exception& e) {
    return fail(code::kInternal, "cannot parse nftables' JSON listing", e.what());
  }
}

RemovePlan renderRemove(const TableState& state, std::string_view network,
                        const std::function<bool(std::string_view owner)>& matches) {
  const Names n = namesFor(network);
  const std::string t = tableSpec();
  const std::vector<std::string> ourSets = {n.pods4, n.pods6, n.local4, n.local6};
  RemovePlan plan;
  std::string elements;
  int remaining = 0;
  for (const std::string* name : {&n.pods4, &n.pods6}) {
    const NamedSet* set = findSet(state, *name);
    if (set == nullptr) continue;
    for (const auto& e : set->elements) {
      if (!matches(e.comment)) {
        ++remaining;
        continue;
      }
      ++plan.removed;
      elements += fmt::format("delete element {} {} {{ {} }}\n", t, *name, e.addr.str());
    }
  }
  if (remaining > 0) {
    plan.commands = std::move(elements);
    return plan;
  }

  // The network's last pod: its chain and sets go, and the table with them
  // when no other network is left in it.
  const bool ourChain = contains(state.chains, n.chain);
  bool others = std::any_of(state.chains.begin(), state.chains.end(),
                            [&](const std::string& c) { return c != n.chain; });
  others = others || std::any_of(state.sets.begin(), state.sets.end(),
                                 [&](const NamedSet& s) { return !contains(ourSets, s.name); });
  if (!others) {
    if (ourChain || !state.sets.empty()) plan.commands = fmt::format("delete table {}\n", t);
    return plan;
  }
  if (ourChain)
    plan.commands +=
        fmt::format("flush chain {t} {c}\ndelete chain {t} {c}\n", fmt::arg("t", t), fmt::arg("c", n.chain));
  for (const auto& name : ourSets) {
    if (findSet(state, name) != nullptr) plan.commands += fmt::format("delete set {} {}\n", t, name);
  }
  return plan;
}

namespace {

// The table as it is now, nullopt when there is none.
Result<std::optional<TableState>> readTable(Context& ctx) {
  PODNET_TRY(const std::string tables, ctx.run("list tables inet", true));
  try {
    if (!hasPodnetTable(json::parse(tables))) return std::optional<TableState>();
  } catch (const json::exception& e) {
    return fail(code::kInternal, "cannot parse nftables' JSON listing", e.what());
  }
  PODNET_TRY(const std::string listing, ctx.run(fmt::format("list table {}", tableSpec()), true));
  PODNET_TRY(TableState state, parseTable(listing));
  return std::optional<TableState>(std::move(state));
}

}  // namespace

Status addPod(const Pod& pod) {
  PODNET_CHECK(renderAdd(pod, std::nullopt));  // refuse bad input before locking
  PODNET_TRY(Context ctx, Context::open());
  PODNET_TRY(const Lock lock, Lock::acquire(kLockDir, kLockPath, kLockTimeout));
  PODNET_TRY(const auto state, readTable(ctx));
  PODNET_TRY(const std::string commands, renderAdd(pod, state));
  if (commands.empty()) return {};
  PODNET_TRY(const std::string out, ctx.run(commands));
  return {};
}

Result<std::vector<ip::Address>> podAddresses(std::string_view network, std::string_view owner) {
  PODNET_TRY(Context ctx, Context::open());
  PODNET_TRY(const auto state, readTable(ctx));  // one transaction's result: no lock needed
  std::vector<ip::Address> out;
  if (!state) return out;
  const Names n = namesFor(network);
  for (const std::string* name : {&n.pods4, &n.pods6}) {
    const NamedSet* set = findSet(*state, *name);
    if (set == nullptr) continue;
    for (const auto& e : set->elements) {
      if (e.comment == owner) out.push_back(e.addr);
    }
  }
  return out;
}

Result<int> removePods(std::string_view network, const std::function<bool(std::string_view owner)>& matches) {
  PODNET_TRY(Context ctx, Context::open());
  PODNET_TRY(const Lock lock, Lock::acquire(kLockDir, kLockPath, kLockTimeout));
  PODNET_TRY(const auto state, readTable(ctx));
  if (!state) return 0;
  const RemovePlan plan = renderRemove(*state, network, matches);
  if (plan.commands.empty()) return plan.removed;
  PODNET_TRY(const std::string out, ctx.run(plan.commands));
  log::debug("masquerade: removed", {{"network", network}, {"elements", plan.removed}});
  return plan.removed;
}

}  // namespace podnet::nft
