#include "http/request.hpp"

#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

#include "http/raw_request.hpp"

namespace strata::http {

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
  if (query_.empty()) return std::nullopt;
  auto params = boost::urls::parse_query(boost::urls::string_view(query_.data(), query_.size()));
  if (!params) return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (const auto& p : *params) {
    if (p.key.decoded_size() == name.size() && p.key.decode(opts) == name) {
      return p.has_value ? p.value.decode(opts) : std::string();
    }
  }
  return std::nullopt;
}

std::string PercentDecode(std::string_view s) {
  auto pct = boost::urls::make_pct_string_view(boost::urls::string_view(s.data(), s.size()));
  return pct ? pct->decode() : std::string(s);
}

}  // namespace strata::http
