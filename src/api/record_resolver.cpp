#include "api/record_resolver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "schema/ddl.hpp"
#include "schema/values.hpp"

namespace strata::api {
namespace {

using query::QuoteIdentifier;
using query::ResolvedField;
using query::SqlFragment;
using query::SqlType;
using schema::Collection;
using schema::Field;
using schema::FieldType;

util::Status Unknown(std::string_view identifier) {
  return util::Status::InvalidArgument(fmt::format("unknown or unsupported field {:?}", identifier));
}

SqlType TypeOf(const Field& f) {
  switch (f.type) {
    case FieldType::kNumber:
      return SqlType::kNumber;
    case FieldType::kBool:
      return SqlType::kBool;
    case FieldType::kJson:
    case FieldType::kGeoPoint:
      return SqlType::kAny;
    default:
      return f.IsMultiple() ? SqlType::kAny : SqlType::kText;
  }
}

std::string Column(const std::string& alias, std::string_view name) {
  return QuoteIdentifier(alias) + "." + QuoteIdentifier(name);
}

// `col` of `f` as a JSON array, as PocketBase reads it: an array is itself; any other value is one
// element (a json field's as JSON, another field's as its text).
std::string AsJsonArray(const Field& f, const std::string& col) {
  return fmt::format(
      "(CASE WHEN (CASE WHEN json_valid({0}) THEN json_type({0}) = 'array' ELSE 0 END) THEN {0} ELSE {1} END)", col,
      // A json field's value that is not JSON (a view's computed text) is one text item.
      f.type == FieldType::kJson
          ? fmt::format("(CASE WHEN json_valid({0}) THEN json_array(json({0})) ELSE json_array({0}) END)", col)
          : "json_array(" + col + ")");
}

// The number of values of `col`: an array's length; 0 for a json field that holds no array, and for
// an empty single select, relation or file.
std::string ArrayLength(const Field& f, const std::string& col) {
  if (f.type == FieldType::kJson) {
    return fmt::format(
        "(CASE WHEN (CASE WHEN json_valid({0}) THEN json_type({0}) = 'array' ELSE 0 END) THEN json_array_length({0}) "
        "ELSE 0 END)",
        col);
  }
  return fmt::format("(CASE WHEN {0} = '' OR {0} IS NULL THEN 0 ELSE json_array_length({1}) END)", col,
                     AsJsonArray(f, col));
}

// A JSON path for json_extract from the remaining segments ("a.b.0" → "$.a.b[0]"); nullopt when a
// segment is not a plain key or index.
std::optional<std::string> JsonPath(std::string_view rest) {
  std::string path = "$";
  while (!rest.empty()) {
    const auto dot = rest.find('.');
    std::string_view seg = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    if (seg.empty()) return std::nullopt;
    bool digits = true;
    for (char ch : seg) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return std::nullopt;
      digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    }
    path += digits ? fmt::format("[{}]", seg) : fmt::format(".\"{}\"", seg);
  }
  return path;
}

boost::json::value Lookup(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? boost::json::value(nullptr) : it->value();
}

}  // namespace

util::Result<ResolvedField> RecordFieldResolver::Resolve(std::string_view identifier) {
  // "@collection.users:u.email": the text after the last ':' holds a '.', so it is an alias.
  auto [path, modifier] = query::SplitModifier(identifier);
  if (!modifier.empty() && modifier != "isset" && modifier != "changed" && modifier != "length" && modifier != "each" &&
      modifier != "lower") {
    return std::unexpected(Unknown(identifier));
  }
  if (path.starts_with("@request.")) return ResolveRequest(path.substr(9), modifier);
  if (path.starts_with("@collection.")) {
    // @collection.name[:alias].field… — the alias is part of the collection segment.
    std::string_view rest = path.substr(12);
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos) return std::unexpected(Unknown(identifier));
    // The collection, and its alias: references with the same one name the same rows.
    const std::string_view key = rest.substr(0, dot);
    const std::string_view name = key.substr(0, key.find(':'));
    rest = rest.substr(dot + 1);
    const Collection* target = snapshot_.Find(name);
    if (!target) return std::unexpected(Unknown(identifier));
    auto [known, added] = collection_aliases_.try_emplace(std::string(key));
    if (added) known->second = NextAlias();
    const std::string alias = known->second;
    auto inner = ResolvePath(*target, alias, rest, modifier, 1);
    if (!inner) return inner;
    SqlFragment sql("(SELECT json_group_array(");
    if (inner->multi) {
      sql.Append("__j.value) FROM ")
          .Append(QuoteIdentifier(target->name))
          .Append(" AS ")
          .Append(QuoteIdentifier(alias));
      sql.Append(", json_each(").Append(inner->sql).Append(") AS __j)");
    } else {
      sql.Append(inner->sql)
          .Append(") FROM ")
          .Append(QuoteIdentifier(target->name))
          .Append(" AS ")
          .Append(QuoteIdentifier(alias))
          .Append(")");
    }
    auto field = ResolvedField::Sql(std::move(sql), inner->type, /*multi=*/true);
    if (!inner->multi) {
      field.rows_key = "@collection." + std::string(key);
      field.rows = SqlFragment(QuoteIdentifier(target->name) + " AS " + QuoteIdentifier(alias));
      field.row_item = inner->sql;
    }
    return field;
  }
  auto r = ResolvePath(collection_, alias_, path, modifier, 0);
  if (!r)
    return std::unexpected(r.error().code() == util::Status::Code::kInvalidArgument ? Unknown(identifier) : r.error());
  return r;
}

namespace {

// A field's value in `body` as PocketBase's rules see it: the body's value (cast as the field stores
// it) with the field's modifiers ("f+", "+f", "f-") applied, to the record's value (`current`, on
// update) or the zero value when the body names the field only through them; nullopt when the body
// does not name it.
std::optional<boost::json::value> BodyValue(const Field& f, const boost::json::object& body,
                                            const boost::json::object* current) {
  const auto it = body.find(f.name);
  bool modified = false;
  for (const std::string& key : schema::ModifierKeys(f)) modified = modified || body.contains(key);
  if (!modified) {
    if (it == body.end()) return std::nullopt;
    return it->value().is_null() ? boost::json::value(nullptr) : schema::CastValue(f, it->value());
  }
  boost::json::value base;
  if (it != body.end()) {
    base = schema::CastValue(f, it->value());
  } else if (const auto* was = current ? current->if_contains(f.name) : nullptr) {
    base = *was;
  } else {
    base = schema::ZeroValue(f);
  }
  bool touched = false;
  return schema::ApplyModifiers(f, body, std::move(base), touched);
}

}  // namespace

util::Result<ResolvedField> RecordFieldResolver::ResolveRequest(std::string_view path, std::string_view modifier) {
  auto value_of = [&](const boost::json::value& v) -> util::Result<ResolvedField> {
    if (modifier == "length") {
      // As PocketBase's toSlice: one value is one item.
      int64_t n = 0;
      if (v.is_array()) {
        n = static_cast<int64_t>(v.as_array().size());
      } else if (!v.is_null() && !(v.is_string() && v.as_string().empty())) {
        n = 1;
      }
      return ResolvedField::Value(n);
    }
    if (modifier == "lower") {
      std::string s = v.is_string() ? std::string(v.as_string()) : std::string();
      for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return ResolvedField::Value(boost::json::value(s));
    }
    if (modifier == "each") return ResolvedField::Value(v, /*multi=*/true);
    if (!modifier.empty()) return std::unexpected(Unknown(path));
    return ResolvedField::Value(v);
  };
  if (path == "method") return value_of(boost::json::value(request_.method));
  if (path == "context") return value_of(boost::json::value(request_.context));
  auto split = [](std::string_view p, std::string_view prefix) -> std::optional<std::string_view> {
    if (!p.starts_with(prefix)) return std::nullopt;
    return p.substr(prefix.size());
  };
  if (auto key = split(path, "auth.")) {
    if (!request_.auth.is_object()) return value_of(nullptr);
    if (key->find('.') != std::string_view::npos) {
      // A relation of the requester: resolve it in SQL from the requester's own row.
      const Collection* auth_collection =
          snapshot_.Find(std::string(request_.auth.as_object().at("collectionId").as_string()));
      if (!auth_collection) return value_of(nullptr);
      const std::string alias = NextAlias();
      auto inner = ResolvePath(*auth_collection, alias, *key, modifier, 1);
      if (!inner) return inner;
      SqlFragment sql("(SELECT ");
      sql.Append(inner->sql)
          .Append(" FROM ")
          .Append(QuoteIdentifier(auth_collection->name))
          .Append(" AS ")
          .Append(QuoteIdentifier(alias))
          .Append(" WHERE ")
          .Append(Column(alias, "id"))
          .Append(" = ")
          .Bind(std::string(request_.auth.as_object().at("id").as_string()))
          .Append(")");
      return ResolvedField::Sql(std::move(sql), inner->type, inner->multi);
    }
    return value_of(Lookup(request_.auth.as_object(), *key));
  }
  if (auto key = split(path, "body.")) {
    if (const auto dot = key->find('.'); dot != std::string_view::npos) {
      // A relation's fields, of the records the body names in it (PocketBase's
      // "@request.body.board.members.id ?= @request.auth.id").
      const Field* rel = collection_.FindField(key->substr(0, dot));
      if (!rel || rel->type != FieldType::kRelation) return value_of(Lookup(request_.body, *key));
      const Collection* target = snapshot_.Find(rel->StringOption("collectionId"));
      // The ids the record will hold (modifiers applied), each once (the cast drops repeats).
      boost::json::array ids;
      const auto submitted = BodyValue(*rel, request_.body, request_.current);
      if (submitted && submitted->is_array()) {
        ids = submitted->as_array();
      } else if (submitted && submitted->is_string() && !submitted->as_string().empty()) {
        ids.push_back(*submitted);
      }
      if (!target || ids.empty()) return ResolvedField::Value(nullptr);
      const std::string alias = NextAlias();
      auto inner = ResolvePath(*target, alias, key->substr(dot + 1), modifier, 1);
      if (!inner) return inner;
      const std::string rows = QuoteIdentifier(target->name) + " AS " + QuoteIdentifier(alias);
      if (!rel->IsMultiple() && !inner->multi) {
        SqlFragment sql("(SELECT ");
        sql.Append(inner->sql).Append(" FROM " + rows + " WHERE " + Column(alias, "id") + " = ");
        sql.Bind(std::string(ids.front().as_string())).Append(")");
        return ResolvedField::Sql(std::move(sql), inner->type, false);
      }
      SqlFragment sql("(SELECT json_group_array(");
      if (inner->multi) {
        sql.Append("__j.value) FROM " + rows + ", json_each(").Append(inner->sql).Append(") AS __j");
      } else {
        sql.Append(inner->sql).Append(") FROM " + rows);
      }
      sql.Append(" WHERE " + Column(alias, "id") + " IN (SELECT value FROM json_each(");
      sql.Bind(boost::json::serialize(ids)).Append(")))");
      return ResolvedField::Sql(std::move(sql), inner->type, /*multi=*/true);
    }
    // A value of one of the collection's fields as the field would store it, as PocketBase casts
    // it (a form's "5" is the number 5 for a number field, "true" the boolean), modifiers applied.
    bool present = request_.body.contains(*key);
    auto submitted = Lookup(request_.body, *key);
    if (const Field* f = collection_.FindField(*key)) {
      const auto value = BodyValue(*f, request_.body, request_.current);
      present = value.has_value();
      submitted = value.value_or(nullptr);
    }
    if (modifier == "isset") return ResolvedField::Value(present);
    if (modifier == "changed") {
      const bool changed = present && (!request_.current || Lookup(*request_.current, *key) != submitted);
      return ResolvedField::Value(changed);
    }
    return value_of(submitted);
  }
  if (auto key = split(path, "query.")) return value_of(Lookup(request_.query, *key));
  if (auto key = split(path, "headers.")) return value_of(Lookup(request_.headers, *key));
  return std::unexpected(Unknown(path));
}

util::Result<ResolvedField> RecordFieldResolver::ResolvePath(const Collection& c, const std::string& alias,
                                                             std::string_view path, std::string_view modifier,
                                                             int depth) {
  if (depth > kMaxRelationDepth) return std::unexpected(util::Status::InvalidArgument("relations nested too deep"));
  const auto dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  const std::string_view rest = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);

  if (const Field* f = c.FindField(head)) {
    if (client_ && f->hidden) return std::unexpected(util::Status::InvalidArgument("hidden field"));
    if (rest.empty()) {
      std::string col = Column(alias, f->name);
      if (f->type == FieldType::kPassword || (c.type == schema::CollectionType::kAuth && f->name == "tokenKey")) {
        return std::unexpected(util::Status::InvalidArgument("hidden field"));
      }
      if (client_ && c.type == schema::CollectionType::kAuth && f->name == "email") {
        col = fmt::format("(CASE WHEN {} THEN {} END)", Column(alias, "emailVisibility"), col);
      }
      if (modifier == "lower") return ResolvedField::Sql(SqlFragment("LOWER(" + col + ")"), SqlType::kText);
      if (modifier == "length") {
        if (!f->IsArrayable()) return std::unexpected(util::Status::InvalidArgument(":length"));
        return ResolvedField::Sql(SqlFragment(ArrayLength(*f, col)), SqlType::kNumber);
      }
      if (modifier == "each") {
        if (!f->IsArrayable()) return std::unexpected(util::Status::InvalidArgument(":each"));
        return ResolvedField::Sql(SqlFragment(AsJsonArray(*f, col)), SqlType::kAny, /*multi=*/true);
      }
      if (!modifier.empty()) return std::unexpected(util::Status::InvalidArgument("modifier"));
      return ResolvedField::Sql(SqlFragment(col), TypeOf(*f));
    }
    if (f->type == FieldType::kJson || f->type == FieldType::kGeoPoint) {
      auto json_path = JsonPath(rest);
      if (!json_path || !modifier.empty()) return std::unexpected(util::Status::InvalidArgument("json path"));
      SqlFragment sql("json_extract(" + Column(alias, f->name) + ", ");
      sql.Bind(*json_path).Append(")");
      return ResolvedField::Sql(std::move(sql), SqlType::kAny);
    }
    if (f->type != FieldType::kRelation) return std::unexpected(util::Status::InvalidArgument("not a relation"));
    const Collection* target = snapshot_.Find(f->StringOption("collectionId"));
    if (!target) return std::unexpected(util::Status::InvalidArgument("missing relation collection"));
    const std::string inner_alias = NextAlias();
    auto allowed = RowsAllowed(*target, inner_alias);
    if (!allowed) return std::unexpected(allowed.error());
    auto inner = ResolvePath(*target, inner_alias, rest, modifier, depth + 1);
    if (!inner) return inner;
    const std::string target_table = QuoteIdentifier(target->name) + " AS " + QuoteIdentifier(inner_alias);
    const auto narrowed = [&](SqlFragment& sql) {
      if (!allowed->empty()) sql.Append(" AND (").Append(*allowed).Append(")");
    };
    if (!f->IsMultiple() && !inner->multi) {
      SqlFragment sql("(SELECT ");
      sql.Append(inner->sql)
          .Append(" FROM " + target_table + " WHERE " + Column(inner_alias, "id") + " = " + Column(alias, f->name));
      narrowed(sql);
      sql.Append(")");
      return ResolvedField::Sql(std::move(sql), inner->type);
    }
    // A single relation holds a plain id: as a one-item array for json_each.
    const std::string ids = f->IsMultiple() ? Column(alias, f->name) : "json_array(" + Column(alias, f->name) + ")";
    SqlFragment sql("(SELECT json_group_array(");
    if (inner->multi) {
      sql.Append("__j.value) FROM json_each(" + ids + ") AS __je JOIN " + target_table + " ON " +
                 Column(inner_alias, "id") + " = __je.value");
      narrowed(sql);
      sql.Append(", json_each(").Append(inner->sql).Append(") AS __j)");
    } else if (f->IsMultiple()) {
      sql.Append(inner->sql)
          .Append(") FROM json_each(" + Column(alias, f->name) + ") AS __je JOIN " + target_table + " ON " +
                  Column(inner_alias, "id") + " = __je.value");
      narrowed(sql);
      sql.Append(")");
    }
    return ResolvedField::Sql(std::move(sql), inner->type, /*multi=*/true);
  }

  // Back-relation: <collection>_via_<relation field>.
  const auto via = head.find("_via_");
  if (via == std::string_view::npos || rest.empty())
    return std::unexpected(util::Status::InvalidArgument("unknown field"));
  const Collection* source = snapshot_.Find(head.substr(0, via));
  const Field* rel = source ? source->FindField(head.substr(via + 5)) : nullptr;
  if (!rel || rel->type != FieldType::kRelation || rel->StringOption("collectionId") != c.id) {
    return std::unexpected(util::Status::InvalidArgument("unknown back-relation"));
  }
  if (client_ && rel->hidden) return std::unexpected(util::Status::InvalidArgument("hidden back-relation field"));
  const std::string inner_alias = NextAlias();
  auto allowed = RowsAllowed(*source, inner_alias);
  if (!allowed) return std::unexpected(allowed.error());
  auto inner = ResolvePath(*source, inner_alias, rest, modifier, depth + 1);
  if (!inner) return inner;
  const std::string source_table = QuoteIdentifier(source->name) + " AS " + QuoteIdentifier(inner_alias);
  const std::string link = rel->IsMultiple() ? "EXISTS (SELECT 1 FROM json_each(" + Column(inner_alias, rel->name) +
                                                   ") WHERE value = " + Column(alias, "id") + ")"
                                             : Column(inner_alias, rel->name) + " = " + Column(alias, "id");
  SqlFragment sql("(SELECT json_group_array(");
  if (inner->multi) {
    sql.Append("__j.value) FROM " + source_table + ", json_each(").Append(inner->sql).Append(") AS __j WHERE " + link);
  } else {
    sql.Append(inner->sql).Append(") FROM " + source_table + " WHERE " + link);
  }
  if (!allowed->empty()) sql.Append(" AND (").Append(*allowed).Append(")");
  sql.Append(")");
  return ResolvedField::Sql(std::move(sql), inner->type, /*multi=*/true);
}

util::Result<SqlFragment> RecordFieldResolver::RowsAllowed(const Collection& target, const std::string& alias) {
  if (!client_) return SqlFragment();
  if (!target.list_rule) {
    return std::unexpected(
        util::Status::InvalidArgument(fmt::format("the records of {} can be read only by superusers", target.name)));
  }
  if (target.list_rule->empty()) return SqlFragment();
  // The rule as the records API applies it (not a client's filter), over the related rows.
  RecordFieldResolver rule(snapshot_, target, alias, request_);
  rule.alias_prefix_ = alias + "_";
  auto sql = query::BuildSqlFragment(*target.list_rule, rule);
  if (!sql && sql.error().code() == util::Status::Code::kInvalidArgument) {
    return std::unexpected(
        util::Status::InvalidArgument(fmt::format("the list rule of {} cannot be applied", target.name)));
  }
  return sql;
}

std::optional<query::SqlFragment> RecordFieldResolver::GeoWithin(std::string_view lon, std::string_view lat,
                                                                 double target_lon, double target_lat, double km) {
  if (!lon.ends_with(".lon") || !lat.ends_with(".lat")) return std::nullopt;
  const std::string_view name = lon.substr(0, lon.size() - 4);
  if (name != lat.substr(0, lat.size() - 4)) return std::nullopt;
  const Field* f = collection_.FindField(name);
  if (!f || f->type != FieldType::kGeoPoint || collection_.type == schema::CollectionType::kView) return std::nullopt;
  const auto box = query::GeoBoundingBox(target_lon, target_lat, km);
  if (!box) return std::nullopt;
  SqlFragment sql;
  sql.Append(QuoteIdentifier(alias_) + ".rowid IN (SELECT id FROM " +
             QuoteIdentifier(schema::GeoTable(collection_, *f)) + " WHERE max_lon >= ");
  sql.Bind(box->min_lon).Append(" AND min_lon <= ").Bind(box->max_lon);
  sql.Append(" AND max_lat >= ").Bind(box->min_lat).Append(" AND min_lat <= ").Bind(box->max_lat).Append(")");
  return sql;
}

}  // namespace strata::api
