#pragma once
// ADD is a transaction: each step that changes the node registers its undo,
// and the undos run in reverse unless commit() is called.

#include <functional>
#include <utility>
#include <vector>

namespace podnet::plugin {

class Transaction {
 public:
  Transaction() = default;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (committed_) return;
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  }

  void onFailure(std::function<void()> undo) { undo_.push_back(std::move(undo)); }
  void commit() { committed_ = true; }

 private:
  std::vector<std::function<void()>> undo_;
  bool committed_ = false;
};

}  // namespace podnet::plugin
