// Index definitions of a collection, parsed from their SQL text so that they can be validated
// and regenerated in canonical form (never executed as the user wrote them). Plain value types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::schema {

struct IndexColumn {
  std::string name;
  std::string collate;  // e.g. "NOCASE", or empty
  bool descending = false;
};

struct Index {
  bool unique = false;
  std::string name;
  std::string table;
  std::vector<IndexColumn> columns;
  std::string where;  // the partial-index condition, or empty
};

// Parses `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON table (col [COLLATE c] [ASC|DESC], ...)
// [WHERE condition]` with names bare or quoted (`x`, "x", [x]). Returns nullopt for anything else,
// including expression columns and a condition containing ';'.
std::optional<Index> ParseIndex(std::string_view sql);

// The index as canonical SQL: CREATE [UNIQUE] INDEX `name` ON `table` (`col` ...) [WHERE ...].
std::string IndexSql(const Index& index);

// True for identifiers made only of [A-Za-z0-9_], the shape of every collection, field and index name.
bool IsPlainIdentifier(std::string_view s);

}  // namespace strata::schema
