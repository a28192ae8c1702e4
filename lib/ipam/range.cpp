#include "podnet/ipam/range.hpp"

#include <algorithm>
#include <limits>

namespace podnet::ipam {
namespace {

constexpr ip::U128 kMax = std::numeric_limits<ip::U128>::max();

ip::U128 saturatingAdd(ip::U128 a, ip::U128 b) { return a > kMax - b ? kMax : a + b; }

// Addresses of `range` that are never handed out: the set's gateways, the
// subnet's network address and, for IPv4, its broadcast address.
bool excluded(const RangeSet& set, const Range& range, const ip::Address& a) {
  if (a == range.subnet.first()) return true;
  if (a.isV4() && a == range.subnet.last()) return true;
  return std::any_of(set.begin(), set.end(), [&](const Range& r) { return r.gateway == a; });
}

}  // namespace

bool Range::contains(const ip::Address& a) const {
  return a.family() == start.family() && start <= a && a <= end;
}

std::string Range::str() const { return subnet.str() + " (" + start.str() + "-" + end.str() + ")"; }

std::string describe(const RangeSet& set) {
  std::string out;
  for (const auto& r : set) {
    if (!out.empty()) out += ", ";
    out += r.str();
  }
  return out;
}

std::optional<std::size_t> rangeFor(const RangeSet& set, const ip::Address& a) {
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (set[i].contains(a)) return i;
  }
  return std::nullopt;
}

bool allocatable(const RangeSet& set, const ip::Address& a) {
  const auto index = rangeFor(set, a);
  return index && !excluded(set, set[*index], a);
}

ip::U128 capacity(const RangeSet& set) {
  ip::U128 total = 0;
  for (const auto& r : set) {
    if (r.end < r.start) continue;
    const ip::U128 span = r.end.toInt() - r.start.toInt();  // size - 1, never overflows
    // Distinct excluded addresses inside [start, end].
    std::vector<ip::Address> gone;
    auto note = [&](const ip::Address& a) {
      if (r.contains(a) && std::find(gone.begin(), gone.end(), a) == gone.end()) gone.push_back(a);
    };
    note(r.subnet.first());
    if (r.subnet.family() == ip::Family::kV4) note(r.subnet.last());
    for (const auto& other : set) note(other.gateway);
    const ip::U128 size = saturatingAdd(span, 1);
    const ip::U128 count = size - std::min<ip::U128>(size, gone.size());
    total = saturatingAdd(total, count);
  }
  return total;
}

RangeIterator::RangeIterator(const RangeSet& set, std::optional<ip::Address> last) : set_(set) {
  if (last) {
    if (auto index = rangeFor(set, *last)) {
      index_ = *index;
      cursor_ = *last;  // the first step yields last + 1
    }
  }
}

bool RangeIterator::step() {
  if (set_.empty()) return false;
  if (!cursor_) {
    cursor_ = set_[index_].start;
    startAt_ = cursor_;
    return true;
  }
  if (*cursor_ == set_[index_].end) {
    index_ = (index_ + 1) % set_.size();
    cursor_ = set_[index_].start;
  } else {
    cursor_ = cursor_->plus(1);
  }
  if (!startAt_) {
    startAt_ = cursor_;
  } else if (*cursor_ == *startAt_) {
    return false;
  }
  return true;
}

std::optional<std::pair<std::size_t, ip::Address>> RangeIterator::next() {
  while (!done_ && step()) {
    if (!excluded(set_, set_[index_], *cursor_)) return std::pair{index_, *cursor_};
  }
  done_ = true;
  return std::nullopt;
}

}  // namespace podnet::ipam
