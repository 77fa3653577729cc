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

// Fields of `c` marked searchable (text, editor, email and url fields with "searchable": true):
// they are indexed for full-text search in SearchTable(c).
std::vector<const Field*> SearchableFields(const Collection& c);
// The FTS5 table over c's searchable fields (rowid = the record's rowid); none when it has none.
std::string SearchTable(const Collection& c);
// The R*Tree of a geoPoint field: id = the record's rowid, min_lon/max_lon/min_lat/max_lat.
std::string GeoTable(const Collection& c, const Field& geo_point);

// Statements, in order, that migrate from `before` to `after`: creation when `before` is null,
// removal when `after` is null, otherwise renames, added and removed columns, single/multiple
// value conversions and index changes. Fields are matched by id, so a renamed field keeps its data.
// The full-text and R*Tree indexes of `before` are dropped first and those of `after` built last,
// kept current afterwards by triggers.
std::vector<std::string> MigrationSql(const Collection* before, const Collection* after);

}  // namespace strata::schema
