#include "schema/values.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

namespace strata::schema {
namespace {

std::string ToText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return {};
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) return fmt::format("{}", v.as_double());
  return boost::json::serialize(v);
}

double ToNumber(const boost::json::value& v, bool& ok) {
  ok = true;
  if (v.is_number()) return v.to_number<double>();
  if (v.is_bool()) return v.as_bool() ? 1 : 0;
  if (v.is_null()) return 0;
  if (v.is_string()) {
    const std::string s(v.as_string());
    if (s.empty()) return 0;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  ok = false;
  return 0;
}

bool ToBool(const boost::json::value& v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_number()) return v.to_number<double>() != 0;
  if (v.is_string()) {
    const auto s = v.as_string();
    return s == "true" || s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "True";
  }
  return false;
}

boost::json::array ToStringList(const boost::json::value& v) {
  boost::json::array out;
  std::set<std::string> seen;
  auto add = [&](const boost::json::value& item) {
    std::string s = ToText(item);
    if (!s.empty() && seen.insert(s).second) out.emplace_back(s);
  };
  if (v.is_array()) {
    for (const auto& item : v.as_array()) add(item);
  } else if (v.is_string()) {
    // A JSON array in a string (form submissions), or one value.
    boost::system::error_code ec;
    auto parsed = boost::json::parse(v.as_string(), ec);
    if (!ec && parsed.is_array()) {
      for (const auto& item : parsed.as_array()) add(item);
    } else {
      add(v);
    }
  } else if (!v.is_null()) {
    add(v);
  }
  return out;
}

// Whether `v` holds only finite numbers (a JSON body's 1e999 parses to infinity, which JSON cannot
// write).
bool Finite(const boost::json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (v.is_array()) return std::all_of(v.get_array().begin(), v.get_array().end(), Finite);
  if (v.is_object()) {
    return std::all_of(v.get_object().begin(), v.get_object().end(), [](const auto& kv) { return Finite(kv.value()); });
  }
  return true;
}

// Go's "(?<name>" for a named group is RE2's "(?P<name>"; escapes and character classes are left
// as they are.
std::string ToRe2Syntax(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 4);
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out += c;
      out += p[++i];
    } else if (in_class) {
      in_class = c != ']';
      out += c;
    } else if (c == '[') {
      in_class = true;
      out += c;
      // A "]" right after "[" or "[^" is a member of the class, not its end.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
    } else if (p.substr(i).starts_with("(?<") && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!') {
      out += "(?P<";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Compiled patterns, cached per thread: a pattern is compiled once, not per value.
const RE2* Pattern(const std::string& pattern) {
  thread_local std::map<std::string, std::unique_ptr<const RE2>, std::less<>> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    if (cache.size() > 256) cache.clear();
    it = cache.emplace(pattern, CompilePattern(pattern)).first;
  }
  return it->second.get();
}

FieldError Required() { return {"validation_required", "Cannot be blank."}; }

std::string DomainOf(std::string_view value, bool url) {
  std::string_view rest = value;
  if (url) {
    const auto scheme = rest.find("://");
    rest = scheme == std::string_view::npos ? std::string_view{} : rest.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    rest = rest.substr(0, rest.find(':'));
  } else {
    rest = rest.substr(rest.find('@') + 1);
  }
  std::string out(rest);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsValidUrl(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return false;
  for (char c : url.substr(0, scheme)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ') return false;
  }
  return !DomainOf(url, true).empty();
}

std::optional<FieldError> CheckDomains(const Field& f, std::string_view value, bool url) {
  const auto domain = DomainOf(value, url);
  const auto only = f.StringListOption("onlyDomains");
  const auto except = f.StringListOption("exceptDomains");
  if (!only.empty() && std::find(only.begin(), only.end(), domain) == only.end()) {
    return FieldError{url ? "validation_url_domain_not_allowed" : "validation_email_domain_not_allowed",
                      "Domain not allowed."};
  }
  if (std::find(except.begin(), except.end(), domain) != except.end()) {
    return FieldError{url ? "validation_url_domain_not_allowed" : "validation_email_domain_not_allowed",
                      "Domain not allowed."};
  }
  return std::nullopt;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool IsValidEmail(std::string_view email) {
  if (email.size() > 254) return false;
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) return false;
  const auto domain = email.substr(at + 1);
  const auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == domain.size()) return false;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ';' || c == '<' ||
        c == '>' || c == '[' || c == ']' || c == '\\') {
      return false;
    }
  }
  return true;
}

std::size_t Utf8Length(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<std::string> NormalizeDateTime(std::string_view s) {
  if (s.empty()) return std::string();
  // YYYY-MM-DD[( |T)HH:MM:SS[.fff…]][Z|±HH:MM]
  if (s.size() < 10 || !IsDigits(s.substr(0, 4)) || s[4] != '-' || !IsDigits(s.substr(5, 2)) || s[7] != '-' ||
      !IsDigits(s.substr(8, 2))) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = std::atoi(std::string(s.substr(0, 4)).c_str()) - 1900;
  tm.tm_mon = std::atoi(std::string(s.substr(5, 2)).c_str()) - 1;
  tm.tm_mday = std::atoi(std::string(s.substr(8, 2)).c_str());
  int millis = 0;
  long offset_seconds = 0;
  std::string_view rest = s.substr(10);
  if (!rest.empty()) {
    if ((rest[0] != ' ' && rest[0] != 'T') || rest.size() < 9 || !IsDigits(rest.substr(1, 2)) || rest[3] != ':' ||
        !IsDigits(rest.substr(4, 2)) || rest[6] != ':' || !IsDigits(rest.substr(7, 2))) {
      return std::nullopt;
    }
    tm.tm_hour = std::atoi(std::string(rest.substr(1, 2)).c_str());
    tm.tm_min = std::atoi(std::string(rest.substr(4, 2)).c_str());
    tm.tm_sec = std::atoi(std::string(rest.substr(7, 2)).c_str());
    rest.remove_prefix(9);
    if (!rest.empty() && rest[0] == '.') {
      std::size_t i = 1;
      std::string frac;
      while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') frac += rest[i++];
      if (frac.empty()) return std::nullopt;
      frac.resize(3, '0');
      millis = std::atoi(frac.c_str());
      rest.remove_prefix(i);
    }
    if (rest == "Z" || rest.empty()) {
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && IsDigits(rest.substr(1, 2)) &&
               rest[3] == ':' && IsDigits(rest.substr(4, 2))) {
      offset_seconds = (std::atoi(std::string(rest.substr(1, 2)).c_str()) * 3600 +
                        std::atoi(std::string(rest.substr(4, 2)).c_str()) * 60) *
                       (rest[0] == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  const int mday = tm.tm_mday, mon = tm.tm_mon;
  std::time_t t = timegm(&tm);
  if (tm.tm_mday != mday || tm.tm_mon != mon) return std::nullopt;  // e.g. February 30th
  t -= offset_seconds;
  std::tm out{};
  gmtime_r(&t, &out);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &out);
  return fmt::format("{}.{:03}Z", buf, millis);
}

std::unique_ptr<const RE2> CompilePattern(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{64} << 20);  // long bounded repetitions ("{3,1000}") need more than the default
  auto re = std::make_unique<const RE2>(ToRe2Syntax(pattern), options);
  if (!re->ok()) return nullptr;
  return re;
}

boost::json::value ZeroValue(const Field& f) {
  switch (f.type) {
    case FieldType::kNumber:
      return 0;
    case FieldType::kBool:
      return false;
    case FieldType::kJson:
      return nullptr;
    case FieldType::kGeoPoint:
      return boost::json::object{{"lon", 0}, {"lat", 0}};
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile:
      if (f.IsMultiple()) return boost::json::array();
      return "";
    default:
      return "";
  }
}

std::array<std::string, 3> ModifierKeys(const Field& f) { return {"+" + f.name, f.name + "+", f.name + "-"}; }

boost::json::value ApplyModifiers(const Field& f, const boost::json::object& body, boost::json::value value,
                                  bool& touched) {
  // Modifiers: "field+" appends/adds, "+field" prepends, "field-" removes/subtracts.
  for (const std::string& key : ModifierKeys(f)) {
    const bool subtract = key.back() == '-' && key.front() != '+';
    const bool prepend = key.front() == '+';
    auto it = body.find(key);
    if (it == body.end()) continue;
    touched = true;
    if (f.type == FieldType::kNumber) {
      auto delta = CastValue(f, it->value());
      const double d = delta.to_number<double>();
      double cur = value.to_number<double>();
      cur = subtract ? cur - d : cur + d;
      value = cur == std::floor(cur) && std::fabs(cur) < 9e15 ? boost::json::value(static_cast<int64_t>(cur))
                                                              : boost::json::value(cur);
    } else if (f.IsMultiple()) {
      // Sets of the items (strings, told apart by their text): linear in the lists' lengths.
      const auto text = [](const boost::json::value& v) { return v.is_string() ? std::string(v.as_string()) : ""; };
      const auto items = CastValue(f, it->value()).as_array();
      const auto current = value.is_array() ? value.as_array() : boost::json::array();
      boost::json::array result;
      if (subtract) {
        std::set<std::string> gone;
        for (const auto& v : items) gone.insert(text(v));
        for (const auto& v : current) {
          if (!gone.contains(text(v))) result.push_back(v);
        }
      } else {
        std::set<std::string> have;
        for (const auto& v : current) have.insert(text(v));
        boost::json::array added;
        for (const auto& v : items) {
          if (have.insert(text(v)).second) added.push_back(v);
        }
        using Parts = std::array<const boost::json::array*, 2>;
        for (const auto* part : prepend ? Parts{&added, &current} : Parts{&current, &added}) {
          for (const auto& v : *part) result.push_back(v);
        }
      }
      value = std::move(result);
    } else if (subtract && value.is_string()) {
      if (CastValue(f, it->value()) == value) value = "";
    }
  }
  return value;
}

boost::json::value CastValue(const Field& f, const boost::json::value& v) {
  switch (f.type) {
    case FieldType::kNumber: {
      bool ok = false;
      const double d = ToNumber(v, ok);
      if (!ok) return boost::json::value(std::nan(""));
      if (d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
      return d;
    }
    case FieldType::kBool:
      return ToBool(v);
    case FieldType::kJson: {
      // As PocketBase, so that JSON and multipart/form-data bodies agree: a string that is JSON
      // "null", "true", "false", a number, a quoted string, an array or an object is that value;
      // any other string (the empty one too) is itself.
      if (!v.is_string()) return v;
      const std::string_view text = v.as_string();
      if (text == "null") return nullptr;
      if (text == "true") return true;
      if (text == "false") return false;
      if (!text.empty() && ((text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '"' || text[0] == '[' ||
                            text[0] == '{')) {
        boost::system::error_code ec;
        auto parsed = boost::json::parse(text, ec);
        // A number too large for a double stays the text it was: stored, it would not be JSON.
        if (!ec && Finite(parsed)) return parsed;
      }
      return v;
    }
    case FieldType::kGeoPoint: {
      boost::json::value src = v;
      if (v.is_string()) {
        boost::system::error_code ec;
        src = boost::json::parse(v.as_string(), ec);
        if (ec) return nullptr;
      }
      if (src.is_null()) return ZeroValue(f);
      if (!src.is_object()) return nullptr;
      bool ok1 = false, ok2 = false;
      const auto& o = src.as_object();
      const double lon = o.contains("lon") ? ToNumber(o.at("lon"), ok1) : (ok1 = true, 0.0);
      const double lat = o.contains("lat") ? ToNumber(o.at("lat"), ok2) : (ok2 = true, 0.0);
      if (!ok1 || !ok2) return nullptr;
      return boost::json::object{{"lon", lon}, {"lat", lat}};
    }
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile: {
      auto list = ToStringList(v);
      if (f.IsMultiple()) return list;
      return list.empty() ? boost::json::value("") : list.back();
    }
    case FieldType::kDate: {
      auto text = ToText(v);
      auto normalized = NormalizeDateTime(text);
      return normalized ? boost::json::value(*normalized) : boost::json::value(boost::json::object{{"invalid", text}});
    }
    default:
      return boost::json::value(ToText(v));
  }
}

std::optional<FieldError> ValidateValue(const Field& f, const boost::json::value& v) {
  switch (f.type) {
    case FieldType::kText:
    case FieldType::kPassword: {
      const std::string_view s = v.as_string();
      if (s.empty()) {
        if (f.required) return Required();
        return std::nullopt;
      }
      const auto len = static_cast<int64_t>(Utf8Length(s));
      const int64_t max = f.IntOption("max") > 0
                              ? f.IntOption("max")
                              : (f.type == FieldType::kPassword ? kDefaultPasswordMax : kDefaultTextMax);
      if (f.IntOption("min") > 0 && len < f.IntOption("min")) {
        return FieldError{"validation_min_text_constraint",
                          fmt::format("Must be at least {} character(s).", f.IntOption("min")),
                          {{"min", f.IntOption("min")}}};
      }
      if (len > max) {
        return FieldError{"validation_max_text_constraint",
                          fmt::format("Must be no more than {} character(s).", max),
                          {{"max", max}}};
      }
      if (const auto p = f.StringOption("pattern"); !p.empty()) {
        const RE2* re = Pattern(p);
        if (!re || !RE2::PartialMatch(s, *re)) {
          return FieldError{"validation_invalid_format", "Invalid value format."};
        }
      }
      return std::nullopt;
    }
    case FieldType::kEditor: {
      const std::string_view s = v.as_string();
      if (s.empty()) return f.required ? std::optional(Required()) : std::nullopt;
      const int64_t max = f.IntOption("maxSize") > 0 ? f.IntOption("maxSize") : kDefaultEditorMaxSize;
      if (static_cast<int64_t>(s.size()) > max) {
        return FieldError{"validation_content_size_limit",
                          fmt::format("The maximum allowed content size is {} bytes.", max),
                          {{"maxSize", max}}};
      }
      return std::nullopt;
    }
    case FieldType::kEmail:
    case FieldType::kUrl: {
      const std::string_view s = v.as_string();
      if (s.empty()) return f.required ? std::optional(Required()) : std::nullopt;
      const bool url = f.type == FieldType::kUrl;
      if (url ? !IsValidUrl(s) : !IsValidEmail(s)) {
        return url ? FieldError{"validation_is_url", "Must be a valid URL."}
                   : FieldError{"validation_is_email", "Must be a valid email address."};
      }
      return CheckDomains(f, s, url);
    }
    case FieldType::kNumber: {
      const double d = v.to_number<double>();
      if (std::isnan(d) || std::isinf(d)) {
        return FieldError{"validation_not_a_number", "The submitted number is not properly formatted."};
      }
      // Zero is "no value", as PocketBase has it: only `required` applies to it.
      if (d == 0) return f.required ? std::optional(Required()) : std::nullopt;
      if (f.BoolOption("onlyInt") && d != std::floor(d)) {
        return FieldError{"validation_only_int_constraint", "Decimal numbers are not allowed."};
      }
      if (auto mn = f.NumberOption("min"); mn && d < *mn) {
        return FieldError{
            "validation_min_number_constraint", fmt::format("Must be greater or equal than {}.", *mn), {{"min", *mn}}};
      }
      if (auto mx = f.NumberOption("max"); mx && d > *mx) {
        return FieldError{
            "validation_max_number_constraint", fmt::format("Must be less or equal than {}.", *mx), {{"max", *mx}}};
      }
      return std::nullopt;
    }
    case FieldType::kBool:
      if (f.required && !v.as_bool()) return Required();
      return std::nullopt;
    case FieldType::kDate: {
      if (v.is_object()) return FieldError{"validation_invalid_datetime", "Must be a valid datetime."};
      const std::string_view s = v.as_string();
      if (s.empty()) return f.required ? std::optional(Required()) : std::nullopt;
      const auto mn = f.StringOption("min"), mx = f.StringOption("max");
      if (!mn.empty() && s < NormalizeDateTime(mn).value_or(mn)) {
        return FieldError{"validation_min_date_constraint", fmt::format("Must be no earlier than {}.", mn)};
      }
      if (!mx.empty() && s > NormalizeDateTime(mx).value_or(mx)) {
        return FieldError{"validation_max_date_constraint", fmt::format("Must be no later than {}.", mx)};
      }
      return std::nullopt;
    }
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile: {
      std::vector<std::string> items;
      if (v.is_array()) {
        for (const auto& i : v.as_array()) items.emplace_back(i.as_string());
      } else if (!v.as_string().empty()) {
        items.emplace_back(v.as_string());
      }
      if (items.empty()) return f.required ? std::optional(Required()) : std::nullopt;
      // As PocketBase: the count first, then the values.
      const int64_t max_select = std::max<int64_t>(1, f.IntOption("maxSelect"));
      if (static_cast<int64_t>(items.size()) > max_select) {
        return FieldError{"validation_too_many_values",
                          fmt::format("Select no more than {}.", max_select),
                          {{"maxSelect", max_select}}};
      }
      if (f.type == FieldType::kRelation && static_cast<int64_t>(items.size()) < f.IntOption("minSelect")) {
        return FieldError{"validation_not_enough_values",
                          fmt::format("Select at least {}.", f.IntOption("minSelect")),
                          {{"minSelect", f.IntOption("minSelect")}}};
      }
      if (f.type == FieldType::kSelect) {
        const auto values = f.StringListOption("values");
        for (const auto& i : items) {
          if (std::find(values.begin(), values.end(), i) == values.end()) {
            return FieldError{"validation_invalid_value", fmt::format("Invalid value {}.", i), {{"value", i}}};
          }
        }
      }
      return std::nullopt;
    }
    case FieldType::kJson: {
      const bool empty = v.is_null() || (v.is_string() && v.as_string().empty()) ||
                         (v.is_array() && v.as_array().empty()) || (v.is_object() && v.as_object().empty());
      if (empty && f.required) return Required();
      if (!Finite(v)) return FieldError{"validation_invalid_json", "Must be a valid json value."};
      const int64_t max = f.IntOption("maxSize") > 0 ? f.IntOption("maxSize") : kDefaultJsonMaxSize;
      if (static_cast<int64_t>(boost::json::serialize(v).size()) > max) {
        return FieldError{"validation_json_size_limit",
                          fmt::format("The maximum allowed JSON size is {} bytes.", max),
                          {{"maxSize", max}}};
      }
      return std::nullopt;
    }
    case FieldType::kGeoPoint: {
      if (!v.is_object())
        return FieldError{"validation_invalid_geo_point", "Must be an object with lon and lat numbers."};
      const double lon = v.as_object().at("lon").to_number<double>(), lat = v.as_object().at("lat").to_number<double>();
      if (lat < -90 || lat > 90) {
        return FieldError{"validation_invalid_latitude", "Latitude must be between -90 and 90 degrees."};
      }
      if (lon < -180 || lon > 180) {
        return FieldError{"validation_invalid_longitude", "Longitude must be between -180 and 180 degrees."};
      }
      if (f.required && lon == 0 && lat == 0) return Required();
      return std::nullopt;
    }
    case FieldType::kAutodate:
      return std::nullopt;
  }
  return std::nullopt;
}

util::SqlValue ToSqlValue(const Field& f, const boost::json::value& v) {
  switch (f.type) {
    case FieldType::kNumber:
      if (v.is_int64()) return v.as_int64();
      return v.to_number<double>();
    case FieldType::kBool:
      return static_cast<int64_t>(v.as_bool() ? 1 : 0);
    case FieldType::kJson:
      if (v.is_null()) return std::monostate{};
      return boost::json::serialize(v);
    case FieldType::kGeoPoint:
      return boost::json::serialize(v);
    case FieldType::kSelect:
    case FieldType::kRelation:
    case FieldType::kFile:
      if (v.is_array()) return boost::json::serialize(v);
      return std::string(v.as_string());
    default:
      return std::string(v.as_string());
  }
}

}  // namespace strata::schema
