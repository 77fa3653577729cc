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

util::Result<int64_t> Store::CountWhere(std::string_view table, std::string_view condition,
                                        const util::SqlParams& params) {
  std::string sql = "SELECT count(*) FROM `";
  sql += table;
  sql += "` WHERE (";
  sql += condition;
  sql += ')';
  auto rs = QueryCached(sql, params);
  if (!rs) return std::unexpected(rs.error());
  if (rs->rows.empty() || rs->rows[0].empty()) return std::unexpected(util::Status::Internal("count gave no row"));
  const auto* n = std::get_if<int64_t>(&rs->rows[0][0]);
  if (!n) return std::unexpected(util::Status::Internal("count is not an integer"));
  return *n;
}

util::Status Store::WriteAndWait(WriteFn work) {
  std::promise<util::Status> promise;
  auto future = promise.get_future();
  Write(std::move(work), [&promise](util::Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

}  // namespace strata::store
