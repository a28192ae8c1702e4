#pragma once
// Address ranges as host-local defines them: a Range is [start, end] inside a
// subnet with a gateway; a RangeSet is an ordered list of same-family Ranges
// from which one address per attachment is drawn.

#include <cstddef>
#include <optional>
#include <vector>

#include "podnet/ip/address.hpp"

namespace podnet::ipam {

struct Range {
  ip::Prefix subnet;  // network address, host bits cleared
  ip::Address start;  // inclusive
  ip::Address end;    // inclusive
  ip::Address gateway;

  // True when `a` lies in [start, end] (the gateway included).
  bool contains(const ip::Address& a) const;
  // "10.0.0.0/24 (10.0.0.1-10.0.0.254)": the form used in error messages.
  std::string str() const;
  bool operator==(const Range&) const = default;
};

using RangeSet = std::vector<Range>;

// "10.0.0.0/24 (10.0.0.1-10.0.0.254), 10.0.1.0/24 (...)".
std::string describe(const RangeSet& set);

// Index of the range holding `a` in [start, end], or nullopt.
std::optional<std::size_t> rangeFor(const RangeSet& set, const ip::Address& a);

// True when `a` may be handed out from `set`: inside some range and none of
// the set's gateways, the subnet's network address, nor (IPv4) its broadcast.
bool allocatable(const RangeSet& set, const ip::Address& a);

// Number of allocatable addresses in `set`, saturating at the U128 maximum.
ip::U128 capacity(const RangeSet& set);

// Walks a range set in host-local's round-robin order: from the address after
// `last` (when some range holds it) else from the first range's start, range
// by range with wrap-around, yielding only allocatable addresses, and ending
// after one full cycle. Each step is O(number of ranges), never O(range size).
class RangeIterator {
 public:
  RangeIterator(const RangeSet& set, std::optional<ip::Address> last);

  // The next candidate and its range index; nullopt after a full cycle.
  std::optional<std::pair<std::size_t, ip::Address>> next();

 private:
  // Advances cursor_ one raw address (wrapping ranges); false at the start.
  bool step();

  RangeSet set_;  // a copy: a few ranges, and no dangling reference
  std::size_t index_ = 0;
  std::optional<ip::Address> cursor_;
  std::optional<ip::Address> startAt_;
  bool done_ = false;
};

}  // namespace podnet::ipam
