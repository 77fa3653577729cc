// SQLite DDL for collections: the statements that take the database from one definition of a
// collection to the next without losing data. Stateless; thread-safe. Collections passed here
// must have passed Validate().
#pragma once

#include <string>
#include <vector>

#include "schema/collection.hpp"

namespace strata::schema {

// The SQLite column definition of a field, e.g. "TEXT DEFAULT '' NOT NULL".
std::string ColumnDefinition(const Field& field);

// Statements, in order, that migrate from `before` to `after`: creation when `before` is null,
// removal when `after` is null, otherwise renames, added and removed columns, single/multiple
// value conversions and index changes. Fields are matched by id, so a renamed field keeps its data.
std::vector<std::string> MigrationSql(const Collection* before, const Collection* after);

}  // namespace strata::schema
