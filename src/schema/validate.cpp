#include "schema/validate.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "schema/index.hpp"
#include "schema/limits.hpp"
#include "schema/values.hpp"
#include "util/text.hpp"

namespace strata::schema {
namespace {

void AddError(boost::json::object& errors, std::string_view key, std::string_view code, std::string_view message) {
  if (!errors.contains(key)) errors[key] = boost::json::object{{"code", code}, {"message", message}};
}

bool ValidRegex(const std::string& pattern) { return CompilePattern(pattern) != nullptr; }

bool ValidThumb(std::string_view t) {
  static const RE2 kThumb(R"(^(\d+)x(\d+)(t|b|f)?$)");
  std::string w, h;
  if (!RE2::FullMatch(t, kThumb, &w, &h)) return false;
  return !(w == "0" && h == "0");
}

void ValidateFieldOptions(const Field& f, const Collection& c, const std::vector<const Collection*>& others,
                          boost::json::object& fe) {
  auto nonneg = [&](std::string_view key) {
    if (f.IntOption(key) < 0)
      AddError(fe, key, "validation_min_greater_equal_than_required", "Must be no less than 0.");
  };
  // Full-text search, for text-like fields only.
  if (auto it = f.options.find("searchable"); it != f.options.end()) {
    const bool text = f.type == FieldType::kText || f.type == FieldType::kEditor || f.type == FieldType::kEmail ||
                      f.type == FieldType::kUrl;
    if (!it->value().is_bool()) {
      AddError(fe, "searchable", "validation_invalid_value", "Must be true or false.");
    } else if (it->value().get_bool() && (!text || f.hidden || f.IsPrimaryKey())) {
      AddError(fe, "searchable", "validation_invalid_value",
               "Only visible text, editor, email and url fields can be searchable.");
    } else if (it->value().get_bool() && c.type == CollectionType::kView) {
      AddError(fe, "searchable", "validation_invalid_value", "Fields of view collections cannot be searchable.");
    } else if (it->value().get_bool() && c.type == CollectionType::kAuth && f.name == "email") {
      // A search would tell who has which address, whatever emailVisibility says.
      AddError(fe, "searchable", "validation_invalid_value", "The email of an auth collection cannot be searchable.");
    } else if (it->value().get_bool() &&
               (util::EqualsIgnoreCase(f.name, "rank") || util::EqualsIgnoreCase(f.name, "rowid"))) {
      AddError(fe, "searchable", "validation_invalid_value",
               "A searchable field cannot be named rank or rowid (the search index uses those names).");
    }
  }
  switch (f.type) {
    case FieldType::kText:
    case FieldType::kPassword: {
      nonneg("min");
      nonneg("max");
      if (f.IntOption("max") > 0 && f.IntOption("min") > f.IntOption("max")) {
        AddError(fe, "max", "validation_min_greater_equal_than_required", "Must be no less than min.");
      }
      if (auto p = f.StringOption("pattern"); !p.empty() && !ValidRegex(p)) {
        AddError(fe, "pattern", "validation_invalid_regex", "Invalid regular expression.");
      }
      if (auto p = f.StringOption("autogeneratePattern"); !p.empty() && !ValidRegex(p)) {
        AddError(fe, "autogeneratePattern", "validation_invalid_regex", "Invalid regular expression.");
      }
      break;
    }
    case FieldType::kNumber: {
      auto mn = f.NumberOption("min"), mx = f.NumberOption("max");
      if (mn && mx && *mn > *mx)
        AddError(fe, "max", "validation_min_greater_equal_than_required", "Must be no less than min.");
      break;
    }
    case FieldType::kSelect: {
      auto values = f.StringListOption("values");
      std::set<std::string> seen(values.begin(), values.end());
      if (values.empty()) AddError(fe, "values", "validation_required", "Cannot be blank.");
      if (seen.size() != values.size()) AddError(fe, "values", "validation_duplicated_values", "Duplicated values.");
      if (values.size() > kMaxSelectValues) AddError(fe, "values", "validation_length_too_long", "Too many values.");
      nonneg("maxSelect");
      if (static_cast<std::size_t>(f.IntOption("maxSelect")) > values.size() && !values.empty()) {
        AddError(fe, "maxSelect", "validation_max_less_equal_than_required",
                 fmt::format("Must be no greater than {}.", values.size()));
      }
      break;
    }
    case FieldType::kRelation: {
      const auto target = f.StringOption("collectionId");
      const Collection* found = target == c.id ? &c : nullptr;
      for (const auto* o : others) {
        if (o->id == target) found = o;
      }
      if (target.empty()) {
        AddError(fe, "collectionId", "validation_required", "Cannot be blank.");
      } else if (!found) {
        AddError(fe, "collectionId", "validation_missing_collection", "The related collection doesn't exist.");
      }
      nonneg("maxSelect");
      nonneg("minSelect");
      if (f.IntOption("maxSelect") > 0 && f.IntOption("minSelect") > f.IntOption("maxSelect")) {
        AddError(fe, "maxSelect", "validation_min_greater_equal_than_required", "Must be no less than minSelect.");
      }
      break;
    }
    case FieldType::kFile: {
      nonneg("maxSelect");
      nonneg("maxSize");
      for (const auto& t : f.StringListOption("thumbs")) {
        if (!ValidThumb(t)) {
          AddError(fe, "thumbs", "validation_invalid_thumb_format", fmt::format("Invalid thumb format {:?}.", t));
        }
      }
      break;
    }
    case FieldType::kEditor:
    case FieldType::kJson:
      nonneg("maxSize");
      break;
    case FieldType::kAutodate:
      if (!f.BoolOption("onCreate") && !f.BoolOption("onUpdate")) {
        AddError(fe, "onCreate", "validation_required", "At least one of onCreate and onUpdate is required.");
      }
      break;
    default:
      break;
  }
}

}  // namespace

boost::json::object Validate(const Collection& c, const Collection* old, const std::vector<const Collection*>& others,
                             const RuleChecker& check_rule) {
  boost::json::object errors;

  // Identity.
  if (!old) {
    if (c.id.empty() || c.id.size() > kMaxIdLength || !IsPlainIdentifier(c.id)) {
      AddError(errors, "id", "validation_invalid_value", "Must be 1-100 characters of letters, digits and _.");
    }
    for (const auto* o : others) {
      if (o->id == c.id) AddError(errors, "id", "validation_not_unique", "Value must be unique.");
    }
  }
  if (c.name.empty()) {
    AddError(errors, "name", "validation_required", "Cannot be blank.");
  } else if (c.name.size() > kMaxNameLength || !IsPlainIdentifier(c.name)) {
    AddError(errors, "name", "validation_match_invalid", "Must be letters, digits and _ only.");
  } else if (c.name.front() == '_' && !c.system) {
    AddError(errors, "name", "validation_collection_name_invalid",
             "The name shouldn't match with an existing internal table.");
  }
  for (const auto* o : others) {
    if (util::Lower(o->name) == util::Lower(c.name)) {
      AddError(errors, "name", "validation_collection_name_exists",
               "Collection name must be unique (case insensitive).");
    }
    if (o->id == c.name) {
      AddError(errors, "name", "validation_collection_name_id_duplicate",
               "The name must not match an existing collection id.");
    }
  }
  if (old) {
    if (old->system != c.system) {
      AddError(errors, "system", "validation_collection_system_flag_change",
               "System collection state cannot be changed.");
    }
    if (old->system && old->name != c.name) {
      AddError(errors, "name", "validation_collection_system_name_change", "System collection name cannot be changed.");
    }
  }

  // Fields.
  if (c.fields.size() > kMaxFields) AddError(errors, "fields", "validation_length_too_long", "Too many fields.");
  boost::json::object field_errors;
  std::set<std::string> names, ids;
  for (std::size_t i = 0; i < c.fields.size(); ++i) {
    const Field& f = c.fields[i];
    boost::json::object fe;
    if (f.name.empty()) {
      AddError(fe, "name", "validation_required", "Cannot be blank.");
    } else if (f.name.size() > kMaxNameLength || !IsPlainIdentifier(f.name)) {
      AddError(fe, "name", "validation_match_invalid", "Must be letters, digits and _ only.");
    } else if (IsReservedFieldName(f.name)) {
      AddError(fe, "name", "validation_not_in_invalid", "The name is reserved.");
    } else if (!names.insert(util::Lower(f.name)).second) {
      AddError(fe, "name", "validation_duplicated_field_name", "The field name must be unique.");
    }
    if (!ids.insert(f.id).second) AddError(fe, "id", "validation_duplicated_field_id", "The field id must be unique.");
    if (old) {
      if (const Field* before = old->FindFieldById(f.id)) {
        if (before->type != f.type) {
          AddError(fe, "type", "validation_field_type_change", "Field type cannot be changed.");
        }
        if (before->system && before->name != f.name) {
          AddError(fe, "name", "validation_system_field_change", "System fields cannot be deleted or renamed.");
        }
      }
    }
    ValidateFieldOptions(f, c, others, fe);
    if (!fe.empty()) field_errors[std::to_string(i)] = std::move(fe);
  }
  if (old) {
    for (const auto& before : old->fields) {
      if (before.system && !c.FindFieldById(before.id)) {
        AddError(errors, "fields", "validation_system_field_change", "System fields cannot be deleted or renamed.");
      }
    }
  }
  if (!field_errors.empty()) errors["fields"] = std::move(field_errors);

  // Indexes.
  if (c.indexes.size() > kMaxIndexes) AddError(errors, "indexes", "validation_length_too_long", "Too many indexes.");
  boost::json::object index_errors;
  std::set<std::string> index_names;
  for (std::size_t i = 0; i < c.indexes.size(); ++i) {
    auto idx = ParseIndex(c.indexes[i]);
    boost::json::object ie;
    if (!idx) {
      ie = {{"code", "validation_invalid_index_expression"}, {"message", "Invalid CREATE INDEX expression."}};
    } else {
      if (!index_names.insert(util::Lower(idx->name)).second) {
        ie = {{"code", "validation_duplicated_index_name"}, {"message", "The index name must be unique."}};
      }
      for (const auto* o : others) {
        for (const auto& other_sql : o->indexes) {
          auto other = ParseIndex(other_sql);
          if (other && util::Lower(other->name) == util::Lower(idx->name)) {
            ie = {{"code", "validation_existing_index_name"},
                  {"message", "The index name is already used by another collection."}};
          }
        }
      }
      for (const auto& col : idx->columns) {
        if (!c.FindField(col.name)) {
          ie = {{"code", "validation_index_column_missing"},
                {"message", fmt::format("Unknown column {:?}.", col.name)}};
        }
      }
      if (c.type == CollectionType::kView) {
        ie = {{"code", "validation_view_index"}, {"message", "View collections cannot have indexes."}};
      }
    }
    if (!ie.empty()) index_errors[std::to_string(i)] = std::move(ie);
  }
  if (!index_errors.empty()) errors["indexes"] = std::move(index_errors);

  // Type specifics and rules.
  if (c.type == CollectionType::kView) {
    auto it = c.options.find("viewQuery");
    if (it == c.options.end() || !it->value().is_string() || it->value().as_string().empty()) {
      AddError(errors, "viewQuery", "validation_required", "Cannot be blank.");
    }
    if (c.create_rule || c.update_rule || c.delete_rule) {
      AddError(errors, "createRule", "validation_view_rule",
               "View collections are read-only: create, update and delete rules must be null.");
    }
  }
  if (check_rule) {
    auto check = [&](std::string_view key, const std::optional<std::string>& rule) {
      if (!rule || rule->empty()) return;
      if (auto st = check_rule(c, *rule); !st.ok()) {
        AddError(errors, key, "validation_invalid_rule", "Invalid rule. Raw error: " + st.message());
      }
    };
    check("listRule", c.list_rule);
    check("viewRule", c.view_rule);
    check("createRule", c.create_rule);
    check("updateRule", c.update_rule);
    check("deleteRule", c.delete_rule);
    if (c.type == CollectionType::kAuth) {
      for (const char* key : {"authRule", "manageRule"}) {
        auto it = c.options.find(key);
        if (it != c.options.end() && it->value().is_string()) {
          check(key, std::string(it->value().as_string()));
        }
      }
    }
  }
  return errors;
}

}  // namespace strata::schema
