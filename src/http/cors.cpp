#include "http/cors.hpp"

#include <algorithm>

namespace strata::http {
namespace {
constexpr std::string_view kAllowMethods = "GET, HEAD, PUT, PATCH, POST, DELETE";
constexpr std::string_view kMaxAge = "86400";
}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (auto& o : origins) {
    while (!o.empty() && o.back() == '/') o.pop_back();  // "https://a.example/" names the same origin
    if (o == "*") {
      any_ = true;
    } else if (!o.empty()) {
      origins_.push_back(std::move(o));
    }
  }
}

std::optional<std::string_view> CorsPolicy::AllowOrigin(std::string_view origin) const {
  if (any_) return "*";
  if (std::find(origins_.begin(), origins_.end(), origin) != origins_.end()) return origin;
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> CorsPolicy::PreflightHeaders(std::string_view origin,
                                                                              std::string_view request_headers) const {
  std::vector<std::pair<std::string, std::string>> h;
  auto allow = AllowOrigin(origin);
  if (!allow) return h;
  h.emplace_back("Access-Control-Allow-Origin", std::string(*allow));
  h.emplace_back("Access-Control-Allow-Methods", std::string(kAllowMethods));
  if (!request_headers.empty()) h.emplace_back("Access-Control-Allow-Headers", std::string(request_headers));
  h.emplace_back("Access-Control-Max-Age", std::string(kMaxAge));
  return h;
}

}  // namespace strata::http
