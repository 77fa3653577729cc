#include "api/record_json.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "obs/access_log.hpp"

namespace strata::api {

boost::json::value FieldValueToJson(const schema::Field& f, const util::SqlValue& v) {
  using schema::FieldType;
  auto as_text = [&]() -> std::string {
    if (auto* s = std::get_if<std::string>(&v)) return *s;
    if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto* d = std::get_if<double>(&v)) return std::to_string(*d);
    return {};
  };
  switch (f.type) {
    case FieldType::kBool:
      if (auto* i = std::get_if<int64_t>(&v)) return *i != 0;
      if (auto* s = std::get_if<std::string>(&v)) return *s == "1" || *s == "true";
      return false;
    case FieldType::kNumber:
      if (auto* i = std::get_if<int64_t>(&v)) return *i;
      if (auto* d = std::get_if<double>(&v)) return *d;
      if (auto* s = std::get_if<std::string>(&v)) {
        char* end = nullptr;
        const double d = std::strtod(s->c_str(), &end);
        return end && *end == '\0' && !s->empty() ? boost::json::value(d) : boost::json::value(0);
      }
      return 0;
    case FieldType::kJson:
    case FieldType::kGeoPoint: {
      if (std::holds_alternative<std::monostate>(v)) return nullptr;
      if (auto* i = std::get_if<int64_t>(&v)) return *i;
      if (auto* d = std::get_if<double>(&v)) return *d;
      boost::system::error_code ec;
      auto parsed = boost::json::parse(as_text(), ec);
      if (!ec) return parsed;
      // Text that is not JSON (a view's computed column): the text itself.
      if (auto* s = std::get_if<std::string>(&v)) return boost::json::value(*s);
      return nullptr;
    }
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile:
      if (f.IsMultiple()) {
        boost::system::error_code ec;
        auto parsed = boost::json::parse(as_text(), ec);
        if (!ec && parsed.is_array()) return parsed;
        const auto text = as_text();
        return text.empty() ? boost::json::array() : boost::json::array{boost::json::value(text)};
      }
      return boost::json::value(as_text());
    default:
      return boost::json::value(as_text());
  }
}

RecordJsonWriter::RecordJsonWriter(const schema::Collection& c, const std::vector<std::string>& columns) : c_(c) {
  using schema::FieldType;
  auto column_of = [&](std::string_view name) {
    const auto it = std::find(columns.begin(), columns.end(), name);
    return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
  };
  head_ = "{\"collectionId\":\"";
  obs::AppendJsonEscaped(head_, c.id);
  head_ += "\",\"collectionName\":\"";
  obs::AppendJsonEscaped(head_, c.name);
  head_ += '"';
  const bool is_auth = c.type == schema::CollectionType::kAuth;
  columns_.reserve(c.fields.size());
  for (const auto& f : c.fields) {
    if (f.type == FieldType::kPassword || (is_auth && f.name == "tokenKey")) continue;
    const int index = column_of(f.name);
    if (index < 0) continue;
    Column col{.field = &f,
               .index = static_cast<std::size_t>(index),
               .key = ",\"",
               .kind = Kind::kOther,
               .hidden = f.hidden,
               .email = is_auth && f.name == "email"};
    obs::AppendJsonEscaped(col.key, f.name);
    col.key += "\":";
    if (f.type == FieldType::kNumber) {
      col.kind = Kind::kNumber;
    } else if (f.type == FieldType::kBool) {
      col.kind = Kind::kBool;
    } else if (f.type != FieldType::kJson && f.type != FieldType::kGeoPoint && !f.IsMultiple()) {
      col.kind = Kind::kText;
    }
    columns_.push_back(std::move(col));
  }
  email_visibility_ = is_auth ? column_of("emailVisibility") : -1;
}

void RecordJsonWriter::Append(std::string& out, std::span<const store::ColumnRef> row,
                              const RecordJsonOptions& options) const {
  using Type = store::ColumnRef::Type;
  bool email_visible = options.show_email;
  if (!email_visible && email_visibility_ >= 0) {
    const auto& v = row[static_cast<std::size_t>(email_visibility_)];
    email_visible = v.type == Type::kInteger && v.integer != 0;
  }
  out += head_;
  char digits[24];
  for (const auto& col : columns_) {
    if (col.hidden && !options.show_hidden) continue;
    if (col.email && !email_visible) continue;
    const auto& v = row[col.index];
    out += col.key;
    switch (col.kind) {
      case Kind::kText:
        if (v.type == Type::kText || v.type == Type::kBlob) {
          out += '"';
          obs::AppendJsonEscaped(out, v.text);
          out += '"';
          continue;
        }
        break;
      case Kind::kNumber:
        if (v.type == Type::kInteger) {
          out.append(digits, std::to_chars(digits, digits + sizeof digits, v.integer).ptr);
          continue;
        }
        break;
      case Kind::kBool:
        if (v.type == Type::kInteger) {
          out += v.integer != 0 ? "true" : "false";
          continue;
        }
        break;
      case Kind::kOther:
        break;
    }
    out += boost::json::serialize(FieldValueToJson(*col.field, v.Value()));
  }
  out += '}';
}

void RecordJsonWriter::Append(std::string& out, const std::vector<util::SqlValue>& row,
                              const RecordJsonOptions& options) const {
  Append(out, store::ColumnRef::Of(row), options);
}

boost::json::object RecordToJson(const schema::Collection& c, const store::ResultSet& rs,
                                 const std::vector<util::SqlValue>& row, const RecordJsonOptions& options) {
  boost::json::object out;
  out["collectionId"] = c.id;
  out["collectionName"] = c.name;
  bool email_visible = options.show_email;
  if (c.type == schema::CollectionType::kAuth && !email_visible) {
    const int i = rs.ColumnIndex("emailVisibility");
    if (i >= 0) {
      if (auto* v = std::get_if<int64_t>(&row[static_cast<std::size_t>(i)])) email_visible = *v != 0;
    }
  }
  for (const auto& f : c.fields) {
    if (f.type == schema::FieldType::kPassword || (c.type == schema::CollectionType::kAuth && f.name == "tokenKey")) {
      continue;
    }
    if (f.hidden && !options.show_hidden) continue;
    if (c.type == schema::CollectionType::kAuth && f.name == "email" && !email_visible) continue;
    const int i = rs.ColumnIndex(f.name);
    if (i < 0) continue;
    out[f.name] = FieldValueToJson(f, row[static_cast<std::size_t>(i)]);
  }
  return out;
}

util::Status AddRecordChange(store::Tx& tx, const schema::Collection& c, const char* action, const std::string& id,
                             std::vector<RecordChange>& changes) {
  auto rs = tx.Query(fmt::format("SELECT * FROM `{}` WHERE `id` = ?", c.name), {id});
  if (!rs) return rs.error();
  if (!rs->rows.empty()) changes.push_back(ChangeOf(action, c, *rs));
  return util::Status::Ok();
}

RecordChange ChangeOf(const char* action, const schema::Collection& c, const store::ResultSet& rs) {
  std::string record;
  RecordJsonWriter(c, rs).Append(record, rs.rows[0], {.show_hidden = true, .show_email = true});
  return {action, c.id, std::move(record)};
}

std::function<void(util::Status)> PublishThen(const RecordChangeSink& publish,
                                              std::shared_ptr<std::vector<RecordChange>> changes,
                                              std::function<void(util::Status)> done) {
  return [&publish, changes = std::move(changes), done = std::move(done)](util::Status st) {
    if (st.ok() && publish && !changes->empty()) {
      try {
        publish(std::move(*changes));
      } catch (const std::exception& e) {
        spdlog::error("publishing committed changes: {}", e.what());
      }
    }
    done(std::move(st));
  };
}

}  // namespace strata::api
