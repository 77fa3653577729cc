#include "http/json_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/stream_parser.hpp>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "http/multipart.hpp"
#include "util/text.hpp"

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

namespace {

// The text parts of a multipart body held in memory; file parts are only noted.
std::expected<MultipartParser::Result, ApiError> ParseMultipart(std::string_view boundary, std::string_view body) {
  MultipartParser parser(std::string(boundary), {}, {});
  if (auto e = parser.Feed(body)) return std::unexpected(*e);
  return parser.Finish();
}

void AddValue(boost::json::object& out, const std::string& name, boost::json::value v) {
  auto it = out.find(name);
  if (it == out.end()) {
    out[name] = std::move(v);
  } else if (it->value().is_array()) {
    it->value().as_array().push_back(std::move(v));
  } else {
    boost::json::array items{it->value(), std::move(v)};
    it->value() = std::move(items);
  }
}

std::string FormDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::expected<boost::json::value, ApiError> ParseRequestBody(std::string_view content_type, std::string_view body) {
  const std::string type = util::Lower(util::TrimSpaces(content_type.substr(0, content_type.find(';'))));
  if (type == "multipart/form-data") {
    const auto boundary = MultipartBoundary(content_type);
    if (!boundary) {
      return std::unexpected(ApiError::BadRequest("Failed to load the submitted data: missing multipart boundary."));
    }
    auto parsed = ParseMultipart(*boundary, body);
    if (!parsed) return std::unexpected(parsed.error());
    if (!parsed->files.empty()) {
      return std::unexpected(
          ApiError::BadRequest("Failed to load the submitted data: file uploads are not supported by this endpoint."));
    }
    return boost::json::value(std::move(parsed->data));
  }
  if (type == "application/x-www-form-urlencoded") {
    boost::json::object out;
    while (!body.empty()) {
      const auto amp = body.find('&');
      const std::string_view pair = body.substr(0, amp);
      body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      AddValue(out, FormDecode(pair.substr(0, eq)),
               boost::json::value(eq == std::string_view::npos ? std::string() : FormDecode(pair.substr(eq + 1))));
    }
    return out;
  }
  return ParseJsonBody(body);
}

}  // namespace strata::http
