// CORS per an allow-list of origins ("*" allows any, as PocketBase's default). Immutable after
// construction; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::http {

class CorsPolicy {
 public:
  explicit CorsPolicy(std::vector<std::string> origins = {"*"});

  // The Access-Control-Allow-Origin value for a request's Origin ("*" or the origin itself), or
  // nullopt if that origin is not allowed.
  std::optional<std::string_view> AllowOrigin(std::string_view origin) const;

  // Whether responses vary by Origin (true unless every origin is allowed with "*").
  bool varies_by_origin() const { return !any_; }

  // Headers answering a preflight (OPTIONS with Access-Control-Request-Method) from `origin`;
  // empty if the origin is not allowed.
  std::vector<std::pair<std::string, std::string>> PreflightHeaders(std::string_view origin,
                                                                    std::string_view request_headers) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

}  // namespace strata::http
