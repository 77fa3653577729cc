#include "schema/ddl.hpp"

#include <fmt/format.h>

#include "schema/index.hpp"

namespace strata::schema {
namespace {

std::string Quote(std::string_view name) { return fmt::format("`{}`", name); }

std::string ColumnSql(const Field& f) { return Quote(f.name) + " " + ColumnDefinition(f); }

std::string CreateTableSql(const Collection& c, std::string_view table) {
  std::string sql = "CREATE TABLE " + Quote(table) + " (";
  for (std::size_t i = 0; i < c.fields.size(); ++i) {
    if (i) sql += ", ";
    sql += ColumnSql(c.fields[i]);
  }
  sql += ")";
  return sql;
}

void AppendCreateIndexes(const Collection& c, std::vector<std::string>& out) {
  for (const auto& raw : c.indexes) {
    auto idx = ParseIndex(raw);
    if (!idx) continue;  // refused by validation
    idx->table = c.name;
    out.push_back(IndexSql(*idx));
  }
}

void AppendDropIndexes(const Collection& c, std::vector<std::string>& out) {
  for (const auto& raw : c.indexes) {
    if (auto idx = ParseIndex(raw)) out.push_back("DROP INDEX IF EXISTS " + Quote(idx->name));
  }
}

std::string ViewQuery(const Collection& c) {
  auto it = c.options.find("viewQuery");
  return it != c.options.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

// The expression that reads `before`'s value of a field into the shape `after` stores.
std::string ConvertedValue(const Field& before, const Field& after) {
  const std::string col = Quote(before.name);
  if (!before.IsMultiple() && after.IsMultiple()) {
    return fmt::format("(CASE WHEN {0} IS NULL OR {0} = '' THEN '[]' ELSE json_array({0}) END)", col);
  }
  if (before.IsMultiple() && !after.IsMultiple()) {
    return fmt::format(
        "(CASE WHEN json_valid({0}) AND json_type({0}) = 'array' THEN "
        "COALESCE(json_extract({0}, '$[#-1]'), '') ELSE COALESCE({0}, '') END)",
        col);
  }
  return col;
}

// The full-text and geo indexes of `c`, with the triggers that keep them current, filled from
// the table's rows.
void AppendSideIndexes(const Collection& c, std::vector<std::string>& out) {
  if (c.type == CollectionType::kView) return;
  const std::string table = Quote(c.name);
  const auto searchable = SearchableFields(c);
  if (!searchable.empty()) {
    const std::string fts = Quote(SearchTable(c));
    std::string cols, news, olds;
    for (const Field* f : searchable) {
      cols += ", " + Quote(f->name);
      news += ", new." + Quote(f->name);
      olds += ", old." + Quote(f->name);
    }
    out.push_back(
        fmt::format("CREATE VIRTUAL TABLE {} USING fts5({}, content='{}', content_rowid='rowid', "
                    "tokenize='unicode61 remove_diacritics 2')",
                    fts, cols.substr(2), c.name));
    const std::string insert = fmt::format("INSERT INTO {}(rowid{}) VALUES (new.rowid{});", fts, cols, news);
    const std::string remove =
        fmt::format("INSERT INTO {0}({0}, rowid{1}) VALUES ('delete', old.rowid{2});", fts, cols, olds);
    const std::string name = SearchTable(c);
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER INSERT ON {} BEGIN {} END", Quote(name + "_ai"), table, insert));
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER DELETE ON {} BEGIN {} END", Quote(name + "_ad"), table, remove));
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER UPDATE ON {} BEGIN {} {} END", Quote(name + "_au"), table,
                              remove, insert));
    out.push_back(fmt::format("INSERT INTO {0}({0}) VALUES ('rebuild')", fts));
  }
  for (const auto& f : c.fields) {
    if (f.type != FieldType::kGeoPoint) continue;
    const std::string name = GeoTable(c, f);
    const std::string geo = Quote(name);
    auto coord = [&](std::string_view row, std::string_view key) {
      return fmt::format("COALESCE(json_extract({}.{}, '$.{}'), 0)", row, Quote(f.name), key);
    };
    out.push_back(fmt::format("CREATE VIRTUAL TABLE {} USING rtree(id, min_lon, max_lon, min_lat, max_lat)", geo));
    const std::string insert = fmt::format("INSERT INTO {0} VALUES (new.rowid, {1}, {1}, {2}, {2});", geo,
                                           coord("new", "lon"), coord("new", "lat"));
    const std::string remove = fmt::format("DELETE FROM {} WHERE id = old.rowid;", geo);
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER INSERT ON {} BEGIN {} END", Quote(name + "_ai"), table, insert));
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER DELETE ON {} BEGIN {} END", Quote(name + "_ad"), table, remove));
    out.push_back(fmt::format("CREATE TRIGGER {} AFTER UPDATE OF {} ON {} BEGIN {} {} END", Quote(name + "_au"),
                              Quote(f.name), table, remove, insert));
    out.push_back(fmt::format("INSERT INTO {0} SELECT rowid, {1}, {1}, {2}, {2} FROM {3}", geo, coord(table, "lon"),
                              coord(table, "lat"), table));
  }
}

void AppendDropSideIndexes(const Collection& c, std::vector<std::string>& out) {
  if (c.type == CollectionType::kView) return;
  std::vector<std::string> names;
  if (!SearchableFields(c).empty()) names.push_back(SearchTable(c));
  for (const auto& f : c.fields) {
    if (f.type == FieldType::kGeoPoint) names.push_back(GeoTable(c, f));
  }
  for (const auto& name : names) {
    for (const char* suffix : {"_ai", "_ad", "_au"}) out.push_back("DROP TRIGGER IF EXISTS " + Quote(name + suffix));
    out.push_back("DROP TABLE IF EXISTS " + Quote(name));
  }
}

}  // namespace

std::vector<const Field*> SearchableFields(const Collection& c) {
  std::vector<const Field*> out;
  for (const auto& f : c.fields) {
    const bool text = f.type == FieldType::kText || f.type == FieldType::kEditor || f.type == FieldType::kEmail ||
                      f.type == FieldType::kUrl;
    if (text && f.BoolOption("searchable")) out.push_back(&f);
  }
  return out;
}

std::string SearchTable(const Collection& c) { return "_fts_" + c.name; }

std::string GeoTable(const Collection& c, const Field& geo_point) { return "_geo_" + c.name + "_" + geo_point.id; }

std::string ColumnDefinition(const Field& f) {
  switch (f.type) {
    case FieldType::kText:
      if (f.IsPrimaryKey()) return "TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL";
      return "TEXT DEFAULT '' NOT NULL";
    case FieldType::kNumber:
      return "NUMERIC DEFAULT 0 NOT NULL";
    case FieldType::kBool:
      return "BOOLEAN DEFAULT FALSE NOT NULL";
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile:
      return f.IsMultiple() ? "JSON DEFAULT '[]' NOT NULL" : "TEXT DEFAULT '' NOT NULL";
    case FieldType::kJson:
      return "JSON DEFAULT NULL";
    case FieldType::kGeoPoint:
      return "JSON DEFAULT '{\"lon\":0,\"lat\":0}' NOT NULL";
    case FieldType::kEmail:
    case FieldType::kUrl:
    case FieldType::kEditor:
    case FieldType::kDate:
    case FieldType::kAutodate:
    case FieldType::kPassword:
      return "TEXT DEFAULT '' NOT NULL";
  }
  return "TEXT DEFAULT '' NOT NULL";
}

std::vector<std::string> MigrationSql(const Collection* before, const Collection* after) {
  std::vector<std::string> out;
  if (!before && !after) return out;
  if (before) AppendDropSideIndexes(*before, out);
  if (!after) {
    out.push_back((before->type == CollectionType::kView ? "DROP VIEW IF EXISTS " : "DROP TABLE IF EXISTS ") +
                  Quote(before->name));
    return out;
  }
  if (after->type == CollectionType::kView) {
    if (before) out.push_back("DROP VIEW IF EXISTS " + Quote(before->name));
    out.push_back("CREATE VIEW " + Quote(after->name) + " AS " + ViewQuery(*after));
    return out;
  }
  if (!before) {
    out.push_back(CreateTableSql(*after, after->name));
    AppendCreateIndexes(*after, out);
    AppendSideIndexes(*after, out);
    return out;
  }

  AppendDropIndexes(*before, out);
  if (before->name != after->name) {
    out.push_back("ALTER TABLE " + Quote(before->name) + " RENAME TO " + Quote(after->name));
  }
  bool needs_rebuild = false;
  for (const auto& f : after->fields) {
    const Field* old = before->FindFieldById(f.id);
    if (old && (old->IsMultiple() != f.IsMultiple() || old->IsPrimaryKey() != f.IsPrimaryKey())) needs_rebuild = true;
  }

  if (needs_rebuild) {
    // Copy into a table of the new shape, converting values, then swap it in.
    const std::string tmp = "_strata_migrate_" + after->name;
    out.push_back("DROP TABLE IF EXISTS " + Quote(tmp));
    out.push_back(CreateTableSql(*after, tmp));
    std::string cols, values;
    for (const auto& f : after->fields) {
      const Field* old = before->FindFieldById(f.id);
      if (!old) continue;
      if (!cols.empty()) {
        cols += ", ";
        values += ", ";
      }
      cols += Quote(f.name);
      values += ConvertedValue(*old, f);
    }
    if (!cols.empty()) {
      out.push_back(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", Quote(tmp), cols, values, Quote(after->name)));
    }
    out.push_back("DROP TABLE " + Quote(after->name));
    out.push_back("ALTER TABLE " + Quote(tmp) + " RENAME TO " + Quote(after->name));
  } else {
    for (const auto& old : before->fields) {
      if (!after->FindFieldById(old.id)) {
        out.push_back("ALTER TABLE " + Quote(after->name) + " DROP COLUMN " + Quote(old.name));
      }
    }
    // Renames go through temporary names so that swaps (a→b, b→a) cannot collide.
    std::vector<std::pair<std::string, std::string>> renames;
    for (const auto& f : after->fields) {
      const Field* old = before->FindFieldById(f.id);
      if (old && old->name != f.name) renames.emplace_back(old->name, f.name);
    }
    for (std::size_t i = 0; i < renames.size(); ++i) {
      out.push_back(fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", Quote(after->name), Quote(renames[i].first),
                                Quote(fmt::format("_strata_rename_{}", i))));
    }
    for (std::size_t i = 0; i < renames.size(); ++i) {
      out.push_back(fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", Quote(after->name),
                                Quote(fmt::format("_strata_rename_{}", i)), Quote(renames[i].second)));
    }
    for (const auto& f : after->fields) {
      if (!before->FindFieldById(f.id)) {
        out.push_back("ALTER TABLE " + Quote(after->name) + " ADD COLUMN " + ColumnSql(f));
      }
    }
  }
  AppendCreateIndexes(*after, out);
  AppendSideIndexes(*after, out);
  return out;
}

}  // namespace strata::schema
