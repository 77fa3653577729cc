#include "http/json_body.hpp"

#include <boost/json/object.hpp>
#include <boost/json/stream_parser.hpp>
#include <fmt/format.h>

namespace strata::http {

std::expected<boost::json::value, ApiError> ParseJsonBody(std::string_view body) {
  bool blank = true;
  for (char c : body) blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
  if (blank) return boost::json::value(boost::json::object());

  boost::json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t offset = parser.write(body.data(), body.size(), ec);
  if (!ec) {
    parser.finish(ec);
    offset = body.size();
  }
  if (!ec) return parser.release();

  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < body.size(); ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::unexpected(ApiError::BadRequest(
      fmt::format("Failed to load the submitted data due to invalid formatting: {} at line {}, column {} (offset {}).",
                  ec.message(), line, column, offset)));
}

}  // namespace strata::http
