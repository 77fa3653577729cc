#include "http/request.hpp"

#include "http/raw_request.hpp"

namespace strata::http {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding (RFC 3986); with `plus_as_space`, '+' is a space as in form-encoded queries.
// A '%' not followed by two hex digits is kept as it is.
std::string Decode(std::string_view s, bool plus_as_space) {
  if (s.find_first_of(plus_as_space ? std::string_view("%+") : std::string_view("%")) == std::string_view::npos) {
    return std::string(s);  // nothing to decode: most names and values
  }
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

// Whether the encoded query key `raw` decodes to `name`, without decoding the plain ones.
bool KeyIs(std::string_view raw, std::string_view name) {
  if (raw.find_first_of("%+") == std::string_view::npos) return raw == name;
  return Decode(raw, true) == name;
}

}  // namespace

std::string_view VerbName(Verb verb) {
  switch (verb) {
    case Verb::kGet:
      return "GET";
    case Verb::kHead:
      return "HEAD";
    case Verb::kPost:
      return "POST";
    case Verb::kPut:
      return "PUT";
    case Verb::kPatch:
      return "PATCH";
    case Verb::kDelete:
      return "DELETE";
    case Verb::kOptions:
      return "OPTIONS";
    case Verb::kOther:
      break;
  }
  return "OTHER";
}

std::string_view Request::method() const { return raw_.msg.method_string(); }
std::string_view Request::target() const { return raw_.msg.target(); }
std::string_view Request::body() const { return raw_.msg.body(); }

std::optional<std::string_view> Request::Header(std::string_view name) const {
  auto it = raw_.msg.find(name);
  if (it == raw_.msg.end()) return std::nullopt;
  return it->value();
}

std::string Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return PercentDecode(v);
  }
  return {};
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view rest = query_;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (!KeyIs(pair.substr(0, eq), name)) continue;
    return eq == std::string_view::npos ? std::string() : Decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Request::QueryParams() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = query_;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    out.emplace_back(Decode(pair.substr(0, eq), true),
                     eq == std::string_view::npos ? std::string() : Decode(pair.substr(eq + 1), true));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Request::Headers() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : raw_.msg) out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

std::string PercentDecode(std::string_view s) { return Decode(s, false); }

}  // namespace strata::http
