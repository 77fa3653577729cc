#include "api/record_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

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
      return ec ? boost::json::value(nullptr) : parsed;
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

RecordJsonWriter::RecordJsonWriter(const schema::Collection& c, const store::ResultSet& rs) : c_(c) {
  columns_.reserve(c.fields.size());
  for (const auto& f : c.fields) columns_.push_back(rs.ColumnIndex(f.name));
  email_visibility_ = rs.ColumnIndex("emailVisibility");
}

void RecordJsonWriter::Append(std::string& out, const std::vector<util::SqlValue>& row,
                              const RecordJsonOptions& options) const {
  using schema::FieldType;
  const bool is_auth = c_.type == schema::CollectionType::kAuth;
  bool email_visible = options.show_email;
  if (is_auth && !email_visible && email_visibility_ >= 0) {
    if (auto* v = std::get_if<int64_t>(&row[static_cast<std::size_t>(email_visibility_)])) email_visible = *v != 0;
  }
  out += "{\"collectionId\":\"";
  obs::AppendJsonEscaped(out, c_.id);
  out += "\",\"collectionName\":\"";
  obs::AppendJsonEscaped(out, c_.name);
  out += '"';
  for (std::size_t i = 0; i < c_.fields.size(); ++i) {
    const auto& f = c_.fields[i];
    if (f.type == FieldType::kPassword || (is_auth && f.name == "tokenKey")) continue;
    if (f.hidden && !options.show_hidden) continue;
    if (is_auth && f.name == "email" && !email_visible) continue;
    if (columns_[i] < 0) continue;
    const auto& v = row[static_cast<std::size_t>(columns_[i])];
    out += ",\"";
    obs::AppendJsonEscaped(out, f.name);
    out += "\":";
    switch (f.type) {
      case FieldType::kBool:
      case FieldType::kNumber:
      case FieldType::kJson:
      case FieldType::kGeoPoint:
        out += boost::json::serialize(FieldValueToJson(f, v));
        break;
      default:
        if (f.IsMultiple()) {
          out += boost::json::serialize(FieldValueToJson(f, v));
        } else if (auto* s = std::get_if<std::string>(&v)) {
          out += '"';
          obs::AppendJsonEscaped(out, *s);
          out += '"';
        } else {
          out += boost::json::serialize(FieldValueToJson(f, v));
        }
    }
  }
  out += '}';
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

}  // namespace strata::api
