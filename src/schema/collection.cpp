#include "schema/collection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <ctime>
#include <utility>

#include "schema/index.hpp"
#include "schema/limits.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace strata::schema {
namespace {

constexpr std::array<std::pair<CollectionType, std::string_view>, 3> kCollectionTypes = {{
    {CollectionType::kBase, "base"},
    {CollectionType::kAuth, "auth"},
    {CollectionType::kView, "view"},
}};

constexpr std::array<std::pair<FieldType, std::string_view>, 14> kFieldTypes = {{
    {FieldType::kText, "text"},
    {FieldType::kNumber, "number"},
    {FieldType::kBool, "bool"},
    {FieldType::kEmail, "email"},
    {FieldType::kUrl, "url"},
    {FieldType::kEditor, "editor"},
    {FieldType::kDate, "date"},
    {FieldType::kAutodate, "autodate"},
    {FieldType::kSelect, "select"},
    {FieldType::kJson, "json"},
    {FieldType::kRelation, "relation"},
    {FieldType::kFile, "file"},
    {FieldType::kGeoPoint, "geoPoint"},
    {FieldType::kPassword, "password"},
}};

// Keys of a field object that are common attributes, not type options.
bool IsCommonFieldKey(std::string_view k) {
  return k == "id" || k == "name" || k == "type" || k == "system" || k == "hidden" || k == "presentable" ||
         k == "required";
}

void AddError(boost::json::object& errors, std::string_view key, std::string_view code, std::string_view message) {
  errors[key] = boost::json::object{{"code", code}, {"message", message}};
}

const char kDigits[] = "0123456789";

std::string NewFieldId(FieldType type) { return std::string(FieldTypeName(type)) + util::RandomString(10, kDigits); }

Field MakeField(std::string name, FieldType type, bool system, bool hidden, bool required,
                boost::json::object options) {
  Field f;
  f.id = NewFieldId(type);
  f.name = std::move(name);
  f.type = type;
  f.system = system;
  f.hidden = hidden;
  f.required = required;
  f.options = std::move(options);
  return f;
}

// Reads an optional rule: absent keeps `current`, null clears, a string sets.
void ReadRule(const boost::json::object& body, std::string_view key, std::optional<std::string>& rule,
              boost::json::object& errors) {
  auto it = body.find(key);
  if (it == body.end()) return;
  if (it->value().is_null()) {
    rule.reset();
  } else if (it->value().is_string()) {
    rule = std::string(it->value().as_string());
  } else {
    AddError(errors, key, "validation_invalid_value", "Must be a string or null.");
  }
}

void ReadBool(const boost::json::object& o, std::string_view key, bool& out, boost::json::object& errors) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return;
  if (it->value().is_bool()) {
    out = it->value().as_bool();
  } else {
    AddError(errors, key, "validation_invalid_value", "Must be a boolean.");
  }
}

void ReadString(const boost::json::object& o, std::string_view key, std::string& out, boost::json::object& errors) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return;
  if (it->value().is_string()) {
    out = std::string(it->value().as_string());
  } else {
    AddError(errors, key, "validation_invalid_value", "Must be a string.");
  }
}

// The id field every base and auth collection has.
Field IdField() {
  return MakeField("id", FieldType::kText, true, false, true,
                   {{"min", 15},
                    {"max", 15},
                    {"pattern", "^[a-z0-9]+$"},
                    {"autogeneratePattern", "[a-z0-9]{15}"},
                    {"primaryKey", true}});
}

// Puts `field` in place of the field of the same name, or appends it; keeps an existing field's
// id and user options while forcing the system attributes.
void EnsureSystemField(Collection& c, Field field, std::size_t position) {
  for (auto& f : c.fields) {
    if (f.name == field.name) {
      f.system = true;
      f.type = field.type;
      f.hidden = field.hidden;
      f.required = field.required || f.required;
      for (const auto& [k, v] : field.options) {
        if (k == "primaryKey" || !f.options.contains(k)) f.options[k] = v;
      }
      return;
    }
  }
  position = std::min(position, c.fields.size());
  c.fields.insert(c.fields.begin() + static_cast<std::ptrdiff_t>(position), std::move(field));
}

void ApplySystemFields(Collection& c) {
  if (c.type == CollectionType::kView) return;
  EnsureSystemField(c, IdField(), 0);
  if (c.type != CollectionType::kAuth) return;
  EnsureSystemField(c, MakeField("password", FieldType::kPassword, true, true, true, {{"min", 8}, {"cost", 0}}), 1);
  EnsureSystemField(c,
                    MakeField("tokenKey", FieldType::kText, true, true, true,
                              {{"min", 30}, {"max", 60}, {"autogeneratePattern", "[a-zA-Z0-9]{50}"}}),
                    2);
  EnsureSystemField(c, MakeField("email", FieldType::kEmail, true, false, true, {}), 3);
  EnsureSystemField(c, MakeField("emailVisibility", FieldType::kBool, true, false, false, {}), 4);
  EnsureSystemField(c, MakeField("verified", FieldType::kBool, true, false, false, {}), 5);
  for (auto& f : c.fields) {
    if (f.name == "email") f.hidden = false;  // governed by emailVisibility instead
  }
  if (c.name.empty()) return;  // the indexes follow once the collection has its name
  if (!HasSingleColumnUniqueIndex(c, "tokenKey")) {
    c.indexes.push_back(fmt::format("CREATE UNIQUE INDEX `idx_tokenKey_{}` ON `{}` (`tokenKey`)", c.id, c.name));
  }
  if (!HasSingleColumnUniqueIndex(c, "email")) {
    c.indexes.push_back(
        fmt::format("CREATE UNIQUE INDEX `idx_email_{}` ON `{}` (`email`) WHERE `email` != ''", c.id, c.name));
  }
}

boost::json::object DefaultAuthOptions() {
  return {
      {"authRule", ""},
      {"manageRule", nullptr},
      {"authAlert", {{"enabled", true}}},
      {"oauth2", {{"enabled", false}, {"providers", boost::json::array()}, {"mappedFields", boost::json::object()}}},
      {"passwordAuth", {{"enabled", true}, {"identityFields", boost::json::array{"email"}}}},
      {"mfa", {{"enabled", false}, {"duration", 1800}, {"rule", ""}}},
      {"otp", {{"enabled", false}, {"duration", 180}, {"length", 8}}},
      {"authToken", {{"duration", 604800}}},
      {"passwordResetToken", {{"duration", 1800}}},
      {"emailChangeToken", {{"duration", 1800}}},
      {"verificationToken", {{"duration", 259200}}},
      {"fileToken", {{"duration", 180}}},
  };
}

// Auth and view option keys accepted at the top level of the collection JSON.
bool IsTypeOptionKey(CollectionType type, std::string_view k) {
  if (type == CollectionType::kView) return k == "viewQuery";
  if (type == CollectionType::kAuth) {
    return k == "authRule" || k == "manageRule" || k == "authAlert" || k == "oauth2" || k == "passwordAuth" ||
           k == "mfa" || k == "otp" || k == "authToken" || k == "passwordResetToken" || k == "emailChangeToken" ||
           k == "verificationToken" || k == "fileToken" || k == "verificationTemplate" ||
           k == "resetPasswordTemplate" || k == "confirmEmailChangeTemplate";
  }
  return false;
}

}  // namespace

bool HasSingleColumnUniqueIndex(const Collection& c, std::string_view column) {
  for (const auto& idx : c.indexes) {
    if (!util::Lower(idx).starts_with("create unique index")) continue;
    // The column list: one name, quoted any way SQLite takes (`x`, "x", [x]) or not.
    const auto open = idx.find('(');
    const auto close = open == std::string::npos ? std::string::npos : idx.find(')', open);
    if (close == std::string::npos) continue;
    std::string name;
    for (char ch : std::string_view(idx).substr(open + 1, close - open - 1)) {
      if (ch != '`' && ch != '"' && ch != '[' && ch != ']' && ch != ' ') name += ch;
    }
    if (util::Lower(name) == util::Lower(column)) return true;
  }
  return false;
}

std::string_view CollectionTypeName(CollectionType type) {
  for (const auto& [t, n] : kCollectionTypes) {
    if (t == type) return n;
  }
  return "base";
}

std::optional<CollectionType> ParseCollectionType(std::string_view name) {
  for (const auto& [t, n] : kCollectionTypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view FieldTypeName(FieldType type) {
  for (const auto& [t, n] : kFieldTypes) {
    if (t == type) return n;
  }
  return "text";
}

std::optional<FieldType> ParseFieldType(std::string_view name) {
  for (const auto& [t, n] : kFieldTypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

int64_t Field::IntOption(std::string_view key) const {
  auto it = options.find(key);
  if (it == options.end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().as_double());
  return 0;
}

std::optional<double> Field::NumberOption(std::string_view key) const {
  auto it = options.find(key);
  if (it == options.end() || !it->value().is_number()) return std::nullopt;
  return it->value().to_number<double>();
}

bool Field::BoolOption(std::string_view key) const {
  auto it = options.find(key);
  return it != options.end() && it->value().is_bool() && it->value().as_bool();
}

std::string Field::StringOption(std::string_view key) const {
  auto it = options.find(key);
  if (it == options.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

std::vector<std::string> Field::StringListOption(std::string_view key) const {
  std::vector<std::string> out;
  auto it = options.find(key);
  if (it == options.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().as_array()) {
    if (v.is_string()) out.emplace_back(v.as_string());
  }
  return out;
}

bool Field::IsMultiple() const {
  return (type == FieldType::kSelect || type == FieldType::kRelation || type == FieldType::kFile) &&
         IntOption("maxSelect") > 1;
}

const Field* Collection::FindField(std::string_view n) const {
  for (const auto& f : fields) {
    if (f.name == n) return &f;
  }
  return nullptr;
}

const Field* Collection::FindFieldById(std::string_view i) const {
  for (const auto& f : fields) {
    if (f.id == i) return &f;
  }
  return nullptr;
}

bool IsReservedFieldName(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"expand", "collectionId", "collectionName", "@pbInternalAlias"};
  for (auto r : kReserved) {
    if (name == r) return true;
  }
  return false;
}

std::string NowDateTime() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

std::string UpdatedDatesSql(const Collection& c, util::SqlParams& params) {
  std::string sets;
  for (const Field& f : c.fields) {
    if (f.type != FieldType::kAutodate || !f.BoolOption("onUpdate")) continue;
    sets += fmt::format(", `{}` = ?", f.name);
    params.emplace_back(NowDateTime());
  }
  return sets;
}

std::string NewId() { return util::RandomString(15, "abcdefghijklmnopqrstuvwxyz0123456789"); }

Collection NewCollection(CollectionType type, std::string name) {
  Collection c;
  c.id = "pbc_" + util::RandomString(10, kDigits);
  c.name = std::move(name);
  c.type = type;
  if (type == CollectionType::kAuth) c.options = DefaultAuthOptions();
  if (type == CollectionType::kView) c.options = {{"viewQuery", ""}};
  ApplySystemFields(c);
  return c;
}

ParseResult CollectionFromJson(const boost::json::object& body, const Collection* base) {
  ParseResult result;
  auto& errors = result.errors;
  Collection& c = result.collection;

  if (base) {
    c = *base;
  } else {
    CollectionType type = CollectionType::kBase;
    if (auto it = body.find("type"); it != body.end() && !it->value().is_null()) {
      std::optional<CollectionType> parsed;
      if (it->value().is_string()) parsed = ParseCollectionType(it->value().as_string());
      if (parsed) {
        type = *parsed;
      } else {
        AddError(errors, "type", "validation_in_invalid", "Must be a valid value.");
      }
    }
    c = NewCollection(type, "");
    c.created = NowDateTime();
    if (type == CollectionType::kView) c.fields.clear();
  }

  if (base) {
    if (auto it = body.find("type");
        it != body.end() && it->value().is_string() && it->value().as_string() != CollectionTypeName(base->type)) {
      AddError(errors, "type", "validation_collection_type_change", "Collection type cannot be changed.");
    }
  } else {
    ReadString(body, "id", c.id, errors);
  }
  ReadString(body, "name", c.name, errors);
  ReadBool(body, "system", c.system, errors);
  ReadRule(body, "listRule", c.list_rule, errors);
  ReadRule(body, "viewRule", c.view_rule, errors);
  ReadRule(body, "createRule", c.create_rule, errors);
  ReadRule(body, "updateRule", c.update_rule, errors);
  ReadRule(body, "deleteRule", c.delete_rule, errors);

  if (auto it = body.find("cacheMaxAge"); it != body.end() && !it->value().is_null()) {
    const auto n = it->value().is_number() ? it->value().to_number<double>() : -1;
    if (n < 0 || n > kMaxCacheMaxAge || n != static_cast<double>(static_cast<int64_t>(n))) {
      AddError(errors, "cacheMaxAge", "validation_invalid_value",
               fmt::format("Must be a whole number of seconds from 0 to {}.", kMaxCacheMaxAge));
    } else {
      c.cache_max_age = static_cast<int64_t>(n);
    }
  }

  if (auto it = body.find("indexes"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_array()) {
      AddError(errors, "indexes", "validation_invalid_value", "Must be an array of strings.");
    } else {
      c.indexes.clear();
      for (const auto& v : it->value().as_array()) {
        if (v.is_string()) {
          c.indexes.emplace_back(v.as_string());
        } else {
          AddError(errors, "indexes", "validation_invalid_value", "Must be an array of strings.");
        }
      }
    }
  }

  for (const auto& [k, v] : body) {
    if (IsTypeOptionKey(c.type, k)) c.options[k] = v;
  }

  if (auto it = body.find("fields"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_array()) {
      AddError(errors, "fields", "validation_invalid_value", "Must be an array of fields.");
    } else {
      boost::json::object field_errors;
      std::vector<Field> fields;
      const auto& arr = it->value().as_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        boost::json::object fe;
        if (!arr[i].is_object()) {
          AddError(fe, "type", "validation_invalid_value", "Must be a field object.");
          field_errors[std::to_string(i)] = std::move(fe);
          continue;
        }
        const auto& fo = arr[i].as_object();
        Field f;
        std::string type_name;
        ReadString(fo, "type", type_name, fe);
        ReadString(fo, "id", f.id, fe);
        ReadString(fo, "name", f.name, fe);
        // Match the current field by id, else by name, so that imports without ids keep data.
        const Field* current = base ? (f.id.empty() ? base->FindField(f.name) : base->FindFieldById(f.id)) : nullptr;
        if (current) f = *current;
        ReadString(fo, "name", f.name, fe);
        auto parsed_type = ParseFieldType(type_name);
        if (!parsed_type) {
          AddError(fe, "type", "validation_invalid_value", "Must be a valid field type.");
        } else {
          f.type = *parsed_type;
        }
        ReadBool(fo, "hidden", f.hidden, fe);
        ReadBool(fo, "presentable", f.presentable, fe);
        ReadBool(fo, "required", f.required, fe);
        if (!current) ReadBool(fo, "system", f.system, fe);
        for (const auto& [k, v] : fo) {
          if (!IsCommonFieldKey(k)) f.options[k] = v;
        }
        if (f.id.empty()) f.id = NewFieldId(f.type);
        if (!fe.empty()) field_errors[std::to_string(i)] = std::move(fe);
        fields.push_back(std::move(f));
      }
      if (!field_errors.empty()) errors["fields"] = std::move(field_errors);
      // System fields the body left out stay as they are (they cannot be removed).
      if (base) {
        for (std::size_t i = 0; i < base->fields.size(); ++i) {
          const Field& sys = base->fields[i];
          if (!sys.system) continue;
          const bool present = std::any_of(fields.begin(), fields.end(),
                                           [&](const Field& f) { return f.id == sys.id || f.name == sys.name; });
          if (!present) fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(std::min(i, fields.size())), sys);
        }
      }
      c.fields = std::move(fields);
    }
  }

  ApplySystemFields(c);
  // Indexes always name the collection's own table, also after a rename.
  for (auto& sql : c.indexes) {
    if (auto idx = ParseIndex(sql); idx && idx->table != c.name && !c.name.empty()) {
      idx->table = c.name;
      sql = IndexSql(*idx);
    }
  }
  c.updated = NowDateTime();
  if (c.created.empty()) c.created = c.updated;
  return result;
}

boost::json::object CollectionToJson(const Collection& c) {
  boost::json::object o;
  auto rule = [](const std::optional<std::string>& r) -> boost::json::value {
    return r ? boost::json::value(*r) : boost::json::value(nullptr);
  };
  o["id"] = c.id;
  o["listRule"] = rule(c.list_rule);
  o["viewRule"] = rule(c.view_rule);
  o["createRule"] = rule(c.create_rule);
  o["updateRule"] = rule(c.update_rule);
  o["deleteRule"] = rule(c.delete_rule);
  o["name"] = c.name;
  o["type"] = CollectionTypeName(c.type);
  boost::json::array fields;
  for (const auto& f : c.fields) {
    boost::json::object fo{{"id", f.id},
                           {"name", f.name},
                           {"type", FieldTypeName(f.type)},
                           {"system", f.system},
                           {"hidden", f.hidden},
                           {"presentable", f.presentable},
                           {"required", f.required}};
    for (const auto& [k, v] : f.options) fo[k] = v;
    fields.emplace_back(std::move(fo));
  }
  o["fields"] = std::move(fields);
  boost::json::array indexes;
  for (const auto& i : c.indexes) indexes.emplace_back(i);
  o["indexes"] = std::move(indexes);
  o["system"] = c.system;
  o["created"] = c.created;
  o["updated"] = c.updated;
  if (c.cache_max_age > 0) o["cacheMaxAge"] = c.cache_max_age;
  for (const auto& [k, v] : c.options) o[k] = v;
  return o;
}

}  // namespace strata::schema
