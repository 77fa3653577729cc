// Test-only resolvers: a table-driven FieldResolver (identifier → SQL or value) and ValueResolver
// (identifier → value). Used by the query module's tests and fuzz target; not thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "query/eval.hpp"
#include "query/sql.hpp"

namespace strata::query::testing {

class TableFieldResolver final : public FieldResolver {
 public:
  // A column `name` (quoted), optionally multi-valued, with the given type and NULL handling.
  TableFieldResolver& Column(std::string identifier, std::string column, SqlType type = SqlType::kAny,
                             bool multi = false, NullFallback nf = NullFallback::kAuto) {
    fields_[std::move(identifier)] = ResolvedField::Sql(SqlFragment(QuoteIdentifier(column)), type, multi, nf);
    return *this;
  }
  // Any trusted SQL expression.
  TableFieldResolver& Expression(std::string identifier, SqlFragment sql, SqlType type = SqlType::kAny,
                                 bool multi = false, NullFallback nf = NullFallback::kAuto) {
    fields_[std::move(identifier)] = ResolvedField::Sql(std::move(sql), type, multi, nf);
    return *this;
  }
  TableFieldResolver& Value(std::string identifier, boost::json::value value, bool multi = false) {
    fields_[std::move(identifier)] = ResolvedField::Value(std::move(value), multi);
    return *this;
  }
  // When set, identifiers not in the table resolve to a column of their own name (fuzzing).
  TableFieldResolver& Permissive(bool on) {
    permissive_ = on;
    return *this;
  }

  util::Result<ResolvedField> Resolve(std::string_view identifier) override {
    auto it = fields_.find(std::string(identifier));
    if (it != fields_.end()) return it->second;
    if (permissive_) return ResolvedField::Sql(SqlFragment(QuoteIdentifier(identifier)));
    return std::unexpected(util::Status::InvalidArgument("unknown field \"" + std::string(identifier) + "\""));
  }

 private:
  std::map<std::string, ResolvedField, std::less<>> fields_;
  bool permissive_ = false;
};

class TableValueResolver final : public ValueResolver {
 public:
  TableValueResolver& Set(std::string identifier, boost::json::value value, ValueSource source = ValueSource::kColumn,
                          bool multi = false, NullFallback nf = NullFallback::kAuto) {
    ResolvedValue v;
    v.value = std::move(value);
    v.source = source;
    v.multi = multi;
    v.null_fallback = nf;
    values_[std::move(identifier)] = std::move(v);
    return *this;
  }
  TableValueResolver& Permissive(bool on) {
    permissive_ = on;
    return *this;
  }

  util::Result<ResolvedValue> Resolve(std::string_view identifier) override {
    auto it = values_.find(std::string(identifier));
    if (it != values_.end()) return it->second;
    if (permissive_) return ResolvedValue{};
    return std::unexpected(util::Status::InvalidArgument("unknown field \"" + std::string(identifier) + "\""));
  }

 private:
  std::map<std::string, ResolvedValue, std::less<>> values_;
  bool permissive_ = false;
};

}  // namespace strata::query::testing
