#include "store/store.hpp"

#include <algorithm>
#include <future>

namespace strata::store {

int ResultSet::ColumnIndex(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> ReadTracker::Tables() {
  Stop();
  std::sort(tables_.begin(), tables_.end());
  tables_.erase(std::unique(tables_.begin(), tables_.end()), tables_.end());
  return tables_;
}

util::Status Store::WriteAndWait(WriteFn work) {
  std::promise<util::Status> promise;
  auto future = promise.get_future();
  Write(std::move(work), [&promise](util::Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

}  // namespace strata::store
