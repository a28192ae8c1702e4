#include "podnet/nft/masquerade.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace podnet;

namespace {
ip::Prefix prefix(const char* text) { return *ip::Prefix::parse(text); }
}  // namespace

TEST_CASE("nft: network ids are safe identifiers, distinct for names that sanitize alike") {
  CHECK(nft::networkId("mynet") == "mynet_c5b793f6");  // FNV-1a 32 of the name
  CHECK(nft::networkId("a.b-c") == "a_b_c_e97aa8b0");
  CHECK(nft::networkId("a.b") != nft::networkId("a_b"));
  CHECK(nft::networkId("a.b") != nft::networkId("a-b"));
  const std::string longName(200, 'x');
  CHECK(nft::networkId(longName).size() == 32 + 1 + 8);
  CHECK(nft::networkId(longName) != nft::networkId(longName + "y"));
  for (const char* name : {"0net", "net.v1-test_x", "Z", "a..b"}) {
    const auto id = nft::networkId(name);
    for (char c : id)
      CHECK(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'));
    // Every object name starts with a letter, whatever the network name.
    const auto n = nft::namesFor(name);
    CHECK(n.chain == "masq_" + id);
    CHECK(n.pods4 == "pods4_" + id);
    CHECK(n.pods6 == "pods6_" + id);
    CHECK(n.local4 == "local4_" + id);
    CHECK(n.local6 == "local6_" + id);
  }
}

namespace {
std::string withId(std::string text, const std::string& id) {
  for (auto at = text.find("ID"); at != std::string::npos; at = text.find("ID", at + id.size()))
    text.replace(at, 2, id);
  return text;
}
const nft::Pod kDual{.network = "net1",
                     .owner = "pn0123456789ab",
                     .addresses = {prefix("10.22.0.5/24"), prefix("fd22::5/64")}};

// The table once kDual's network exists with one other pod (pnOTHER, .9).
nft::TableState existing() {
  const auto n = nft::namesFor("net1");
  nft::TableState t;
  t.chains = {n.chain};
  t.rules = {n.chain, n.chain};
  t.sets = {{.name = n.pods4, .elements = {{*ip::Address::parse("10.22.0.9"), "pnOTHER"}}},
            {.name = n.pods6, .elements = {{*ip::Address::parse("fd22::9"), "pnOTHER"}}},
            {.name = n.local4, .prefixes = {prefix("10.22.0.0/24"), prefix("224.0.0.0/4")}},
            {.name = n.local6, .prefixes = {prefix("fd22::/64"), prefix("ff00::/8")}}};
  return t;
}
}  // namespace

TEST_CASE("nft: the first ADD creates the table, sets, chain, rules and elements (golden, dual-stack)") {
  const auto out = nft::renderAdd(kDual, std::nullopt);
  REQUIRE(out.ok());
  CHECK(*out ==
        withId("add table inet podnet\n"
               "add set inet podnet pods4_ID { type ipv4_addr; }\n"
               "add set inet podnet pods6_ID { type ipv6_addr; }\n"
               "add set inet podnet local4_ID { type ipv4_addr; flags interval; auto-merge; }\n"
               "add set inet podnet local6_ID { type ipv6_addr; flags interval; auto-merge; }\n"
               "add chain inet podnet masq_ID { type nat hook postrouting priority srcnat; policy accept; }\n"
               "add rule inet podnet masq_ID ip saddr @pods4_ID ip daddr != @local4_ID masquerade\n"
               "add rule inet podnet masq_ID ip6 saddr @pods6_ID ip6 daddr != @local6_ID masquerade\n"
               "add element inet podnet local4_ID { 10.22.0.0/24 }\n"
               "add element inet podnet local6_ID { fd22::/64 }\n"
               "add element inet podnet local4_ID { 224.0.0.0/4 }\n"
               "add element inet podnet local6_ID { ff00::/8 }\n"
               "add element inet podnet pods4_ID { 10.22.0.5 comment \"pn0123456789ab\" }\n"
               "add element inet podnet pods6_ID { fd22::5 comment \"pn0123456789ab\" }\n",
               nft::networkId("net1")));
}

TEST_CASE("nft: a later pod's ADD only adds its elements; repeating it adds nothing (golden)") {
  auto state = existing();
  const auto out = nft::renderAdd(kDual, state);
  REQUIRE(out.ok());
  CHECK(*out == withId("add element inet podnet pods4_ID { 10.22.0.5 comment \"pn0123456789ab\" }\n"
                       "add element inet podnet pods6_ID { fd22::5 comment \"pn0123456789ab\" }\n",
                       nft::networkId("net1")));
  state.sets[0].elements.push_back({*ip::Address::parse("10.22.0.5"), "pn0123456789ab"});
  state.sets[1].elements.push_back({*ip::Address::parse("fd22::5"), "pn0123456789ab"});
  CHECK(nft::renderAdd(kDual, state)->empty());
}

TEST_CASE("nft: ADD repairs what is missing and replaces another owner's element (golden)") {
  auto state = existing();
  state.rules.pop_back();                                             // a rule is gone
  state.sets.pop_back();                                              // local6 is gone
  state.sets[2].prefixes.pop_back();                                  // 224.0.0.0/4 is gone
  state.sets[0].elements[0].addr = *ip::Address::parse("10.22.0.5");  // .5 left by pnOTHER
  const auto out = nft::renderAdd(kDual, state);
  REQUIRE(out.ok());
  CHECK(*out == withId("add set inet podnet local6_ID { type ipv6_addr; flags interval; auto-merge; }\n"
                       "flush chain inet podnet masq_ID\n"
                       "add rule inet podnet masq_ID ip saddr @pods4_ID ip daddr != @local4_ID masquerade\n"
                       "add rule inet podnet masq_ID ip6 saddr @pods6_ID ip6 daddr != @local6_ID masquerade\n"
                       "add element inet podnet local6_ID { fd22::/64 }\n"
                       "add element inet podnet local4_ID { 224.0.0.0/4 }\n"
                       "add element inet podnet local6_ID { ff00::/8 }\n"
                       "delete element inet podnet pods4_ID { 10.22.0.5 }\n"
                       "add element inet podnet pods4_ID { 10.22.0.5 comment \"pn0123456789ab\" }\n"
                       "add element inet podnet pods6_ID { fd22::5 comment \"pn0123456789ab\" }\n",
                       nft::networkId("net1")));
}

TEST_CASE("nft: ADD of an IPv4-only pod adds no IPv6 elements") {
  const auto out =
      nft::renderAdd({.network = "n", .owner = "o", .addresses = {prefix("10.1.2.3/16")}}, std::nullopt);
  REQUIRE(out.ok());
  CHECK(out->find("{ 10.1.0.0/16 }") != std::string::npos);
  CHECK(out->find("ff00::/8") == std::string::npos);
  CHECK(out->find("add element inet podnet pods6") == std::string::npos);
  CHECK(out->find("add rule inet podnet masq_" + nft::networkId("n") + " ip6 saddr") != std::string::npos);
}

TEST_CASE("nft: ADD refuses owners that could escape the comment, and no addresses") {
  for (const char* owner : {"", "a\"b", "a b", "a;b", "a\nb", "x{"}) {
    const auto out =
        nft::renderAdd({.network = "n", .owner = owner, .addresses = {prefix("10.0.0.2/24")}}, std::nullopt);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code == code::kInvalidConfig);
  }
  CHECK_FALSE(
      nft::renderAdd({.network = "n", .owner = std::string(65, 'a'), .addresses = {prefix("10.0.0.2/24")}},
                     std::nullopt)
          .ok());
  CHECK_FALSE(nft::renderAdd({.network = "n", .owner = "o"}, std::nullopt).ok());
}

namespace {
// `nft -j list table inet podnet` as nftables 1.0.6 prints it: networks a and b.
std::string listing() {
  const auto a = nft::namesFor("a");
  const auto b = nft::namesFor("b");
  return R"({"nftables":[{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}},
{"table":{"family":"inet","name":"podnet","handle":1}},
{"set":{"family":"inet","name":")" +
         a.pods4 + R"(","table":"podnet","type":"ipv4_addr","handle":1,
  "elem":[{"elem":{"val":"10.0.0.5","comment":"pnA1"}},{"elem":{"val":"10.0.0.6","comment":"pnA2"}},"10.0.0.9"]}},
{"set":{"family":"inet","name":")" +
         a.local4 + R"(","table":"podnet","type":"ipv4_addr","handle":2,"flags":["interval"],
  "elem":[{"prefix":{"addr":"10.0.0.0","len":24}},{"prefix":{"addr":"224.0.0.0","len":4}}]}},
{"set":{"family":"inet","name":")" +
         a.pods6 + R"(","table":"podnet","type":"ipv6_addr","handle":3,
  "elem":[{"elem":{"val":"fd00::5","comment":"pnA1"}}]}},
{"set":{"family":"inet","name":")" +
         a.local6 + R"(","table":"podnet","type":"ipv6_addr","handle":4,"flags":["interval"]}},
{"chain":{"family":"inet","table":"podnet","name":")" +
         a.chain + R"(","handle":5,"type":"nat","hook":"postrouting","prio":100,"policy":"accept"}},
{"rule":{"family":"inet","table":"podnet","chain":")" +
         a.chain + R"(","handle":8,"expr":[{"masquerade":null}]}},
{"set":{"family":"inet","name":")" +
         b.pods4 + R"(","table":"podnet","type":"ipv4_addr","handle":6,
  "elem":[{"elem":{"val":"10.1.0.5","comment":"pnB1"}}]}},
{"set":{"family":"inet","name":")" +
         b.pods6 + R"(","table":"podnet","type":"ipv6_addr","handle":7}},
{"set":{"family":"inet","name":")" +
         b.local4 + R"(","table":"podnet","type":"ipv4_addr","handle":8,"flags":["interval"]}},
{"set":{"family":"inet","name":")" +
         b.local6 + R"(","table":"podnet","type":"ipv6_addr","handle":9,"flags":["interval"]}},
{"chain":{"family":"inet","table":"podnet","name":")" +
         b.chain + R"(","handle":10,"type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}
]})";
}
auto owner(std::string_view want) {
  return [want](std::string_view o) { return o == want; };
}
}  // namespace

TEST_CASE("nft: the JSON listing parses into chains, sets and pod elements") {
  const auto state = nft::parseTable(listing());
  REQUIRE(state.ok());
  const auto a = nft::namesFor("a");
  CHECK(state->chains == std::vector<std::string>{a.chain, nft::namesFor("b").chain});
  REQUIRE(state->sets.size() == 8);
  CHECK(state->sets[0].name == a.pods4);
  CHECK(state->sets[0].elements == std::vector<nft::Element>{{*ip::Address::parse("10.0.0.5"), "pnA1"},
                                                             {*ip::Address::parse("10.0.0.6"), "pnA2"},
                                                             {*ip::Address::parse("10.0.0.9"), ""}});
  CHECK(state->sets[1].elements.empty());  // prefixes are not pod elements
  CHECK(state->sets[1].prefixes == std::vector<ip::Prefix>{prefix("10.0.0.0/24"), prefix("224.0.0.0/4")});
  CHECK(state->rules == std::vector<std::string>{a.chain});
  CHECK(state->sets[2].elements == std::vector<nft::Element>{{*ip::Address::parse("fd00::5"), "pnA1"}});
  CHECK_FALSE(nft::parseTable("{").ok());
  CHECK_FALSE(nft::parseTable(R"({"nope":[]})").ok());
}

TEST_CASE("nft: DEL removes the owner's elements of both families (golden)") {
  const auto state = *nft::parseTable(listing());
  const auto a = nft::namesFor("a");
  const auto plan = nft::renderRemove(state, "a", owner("pnA1"));
  CHECK(plan.removed == 2);
  CHECK(plan.commands == "delete element inet podnet " + a.pods4 + " { 10.0.0.5 }\n" +
                             "delete element inet podnet " + a.pods6 + " { fd00::5 }\n");
  // Absent owner, absent network: nothing to do.
  CHECK(nft::renderRemove(state, "a", owner("pnZZ")).commands.empty());
  CHECK(nft::renderRemove(state, "c", owner("pnA1")).commands.empty());
  CHECK(nft::renderRemove(nft::TableState{}, "a", owner("pnA1")).commands.empty());
}

TEST_CASE("nft: the network's last pod takes its chain and sets, the last network the table (golden)") {
  const auto state = *nft::parseTable(listing());
  const auto a = nft::namesFor("a");
  const auto all = [](std::string_view) { return true; };
  auto plan = nft::renderRemove(state, "a", all);
  CHECK(plan.removed == 4);
  CHECK(plan.commands == "flush chain inet podnet " + a.chain + "\ndelete chain inet podnet " + a.chain +
                             "\n" + "delete set inet podnet " + a.pods4 + "\ndelete set inet podnet " +
                             a.pods6 + "\n" + "delete set inet podnet " + a.local4 +
                             "\ndelete set inet podnet " + a.local6 + "\n");

  // Network b alone in the table: its last pod takes the table.
  nft::TableState onlyB;
  for (const auto& s : state.sets)
    if (s.name.find(nft::networkId("b")) != std::string::npos) onlyB.sets.push_back(s);
  onlyB.chains = {nft::namesFor("b").chain};
  plan = nft::renderRemove(onlyB, "b", owner("pnB1"));
  CHECK(plan.removed == 1);
  CHECK(plan.commands == "delete table inet podnet\n");

  // GC semantics: keep set of owners; the uncommented element goes too.
  plan = nft::renderRemove(state, "a", [](std::string_view o) { return o != "pnA2"; });
  CHECK(plan.removed == 3);
  CHECK(plan.commands.find("10.0.0.6") == std::string::npos);
  CHECK(plan.commands.find("{ 10.0.0.9 }") != std::string::npos);
}

TEST_CASE("nft: empty leftovers of a network are removed by any DEL") {
  nft::TableState leftover;
  const auto a = nft::namesFor("a");
  leftover.chains = {a.chain};
  leftover.sets = {{.name = a.pods4}, {.name = a.local4}};
  CHECK(nft::renderRemove(leftover, "a", owner("x")).commands == "delete table inet podnet\n");
}
