#include "http/response.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace strata::http {

std::string ErrorJson(int status, std::string_view message, const boost::json::object& data) {
  std::string out = "{\"data\":";
  out += boost::json::serialize(data);
  out += ",\"message\":";
  out += boost::json::serialize(boost::json::value(message));
  out += ",\"status\":";
  out += std::to_string(status);
  out += '}';
  return out;
}

Response ApiError::ToResponse() const {
  Response r = Response::Json(status, ErrorJson(status, message, data));
  r.headers = headers;
  return r;
}

ApiError ApiError::BadRequest(std::string message) { return {400, std::move(message), {}, {}}; }
ApiError ApiError::NotFound(std::string message) { return {404, std::move(message), {}, {}}; }
ApiError ApiError::Forbidden(std::string message) { return {403, std::move(message), {}, {}}; }
ApiError ApiError::TooManyRequests(int64_t retry_after_seconds) {
  ApiError e{429, "Too Many Requests.", {}, {}};
  e.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, retry_after_seconds)));
  return e;
}

ApiError ApiError::Internal(std::string detail) {
  return {500, "Something went wrong while processing your request.", {}, std::move(detail)};
}

}  // namespace strata::http
