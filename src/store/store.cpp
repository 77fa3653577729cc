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

void ResultSet::Append(std::span<const ColumnRef> row) {
  auto& values = rows.emplace_back();
  values.reserve(row.size());
  for (const auto& column : row) values.push_back(column.Value());
}

ColumnRef ColumnRef::Of(const util::SqlValue& value) {
  ColumnRef ref;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    ref.type = Type::kInteger;
    ref.integer = *i;
  } else if (const auto* b = std::get_if<bool>(&value)) {
    ref.type = Type::kInteger;
    ref.integer = *b ? 1 : 0;
  } else if (const auto* d = std::get_if<double>(&value)) {
    ref.type = Type::kReal;
    ref.real = *d;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    ref.type = Type::kText;
    ref.text = *s;
  }
  return ref;
}

std::vector<ColumnRef> ColumnRef::Of(const std::vector<util::SqlValue>& row) {
  std::vector<ColumnRef> refs;
  refs.reserve(row.size());
  for (const auto& v : row) refs.push_back(Of(v));
  return refs;
}

util::SqlValue ColumnRef::Value() const {
  switch (type) {
    case Type::kInteger:
      return integer;
    case Type::kReal:
      return real;
    case Type::kText:
    case Type::kBlob:
      return std::string(text);
    case Type::kNull:
      break;
  }
  return std::monostate{};
}

util::Status Store::QueryRows(std::string_view sql, const util::SqlParams& params, RowSink& sink) {
  auto rs = Query(sql, params);
  if (!rs) return rs.error();
  sink.Columns(rs->columns);
  for (const auto& row : rs->rows) {
    if (!sink.Row(ColumnRef::Of(row))) break;
  }
  return util::Status::Ok();
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
