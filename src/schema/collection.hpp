// Collections and their fields, as PocketBase v0.23+ defines them, with their JSON form.
// Plain value types; a Collection is immutable once published in a schema snapshot.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/sql_value.hpp"
#include "util/status.hpp"

namespace strata::schema {

enum class CollectionType { kBase, kAuth, kView };

enum class FieldType {
  kText,
  kNumber,
  kBool,
  kEmail,
  kUrl,
  kEditor,
  kDate,
  kAutodate,
  kSelect,
  kJson,
  kRelation,
  kFile,
  kGeoPoint,
  kPassword,
};

std::string_view CollectionTypeName(CollectionType type);
std::optional<CollectionType> ParseCollectionType(std::string_view name);
std::string_view FieldTypeName(FieldType type);
std::optional<FieldType> ParseFieldType(std::string_view name);

// A field: the attributes every type has, and the type's own options kept in their JSON form
// (e.g. min, max, pattern, values, maxSelect, collectionId, cascadeDelete), read through the typed
// accessors below. Options absent from the JSON read as the type's defaults.
struct Field {
  std::string id;
  std::string name;
  FieldType type = FieldType::kText;
  bool system = false;
  bool hidden = false;
  bool presentable = false;
  bool required = false;
  boost::json::object options;

  // Option accessors with PocketBase's zero defaults.
  int64_t IntOption(std::string_view key) const;
  std::optional<double> NumberOption(std::string_view key) const;  // nullopt when absent or null
  bool BoolOption(std::string_view key) const;
  std::string StringOption(std::string_view key) const;
  std::vector<std::string> StringListOption(std::string_view key) const;

  // select, relation and file fields with maxSelect > 1 hold a JSON array.
  bool IsMultiple() const;
  // The text field that is the table's primary key ("id").
  bool IsPrimaryKey() const { return type == FieldType::kText && BoolOption("primaryKey"); }
  // Whether filters take :each and :length of it: select, relation and file fields (a single one
  // as one value, as PocketBase) and json fields (an array).
  bool IsArrayable() const {
    return type == FieldType::kSelect || type == FieldType::kRelation || type == FieldType::kFile ||
           type == FieldType::kJson;
  }
};

struct Collection {
  std::string id;
  std::string name;
  CollectionType type = CollectionType::kBase;
  bool system = false;
  std::optional<std::string> list_rule, view_rule, create_rule, update_rule, delete_rule;
  std::vector<Field> fields;
  std::vector<std::string> indexes;
  std::string created;
  std::string updated;
  // Beyond PocketBase ("cacheMaxAge"): seconds a shared cache (a CDN) may keep the guests' answers
  // of the list and view endpoints while their rule is "" (Cache-Control: public). 0: not sent.
  int64_t cache_max_age = 0;
  // Type-specific options in their JSON form: "viewQuery" for views; for auth collections
  // authRule, manageRule, passwordAuth, oauth2, otp, mfa, token and template settings.
  boost::json::object options;

  const Field* FindField(std::string_view name) const;  // case-sensitive, as PocketBase
  const Field* FindFieldById(std::string_view id) const;
};

// Whether one of `c`'s unique indexes is on `column` alone (however the name is quoted).
bool HasSingleColumnUniqueIndex(const Collection& c, std::string_view column);

// Field names a collection may not use (they name record metadata in the API).
bool IsReservedFieldName(std::string_view name);

// Reads a collection from its JSON form (the collections API body or an import file), on top of
// `base` (the current definition for an update; a fresh collection of the body's type otherwise),
// then applies the type's system fields and indexes. Type errors become validation errors under
// the offending key; returns the collection, or InvalidArgument with the errors as JSON text in the
// message (PocketBase's `data` map). Ids of new fields are generated.
struct ParseResult {
  Collection collection;
  boost::json::object errors;  // empty when the input was well-formed
};
ParseResult CollectionFromJson(const boost::json::object& body, const Collection* base);

// The collection's JSON form as the collections API returns it.
boost::json::object CollectionToJson(const Collection& c);

// A new collection of `type` with its system fields (id; for auth: password, tokenKey, email,
// emailVisibility, verified) and default options.
Collection NewCollection(CollectionType type, std::string name);

// The current time in PocketBase's datetime format, "2006-01-02 15:04:05.000Z" (UTC).
std::string NowDateTime();

// ", `name` = ?" for each autodate field of `c` that moves on update, appending the current time
// to `params` for each: the rest of an UPDATE's SET list for writes outside the records API.
std::string UpdatedDatesSql(const Collection& c, util::SqlParams& params);

// A new 15-character [a-z0-9] id, PocketBase's default record and collection id shape.
std::string NewId();

}  // namespace strata::schema
