#include "api/params.hpp"

#include <boost/json/object.hpp>
#include <charconv>

#include "http/response.hpp"

namespace strata::api {

int64_t IntParam(const http::Request& req, const char* name, int64_t fallback) {
  const auto v = req.QueryParam(name);
  if (!v || v->empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    throw http::ApiError{
        400,
        "Invalid query parameters.",
        {{name, boost::json::object{{"code", "validation_invalid_value"}, {"message", "Must be an integer."}}}},
        {}};
  }
  return out;
}

}  // namespace strata::api
