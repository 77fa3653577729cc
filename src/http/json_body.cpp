#include "http/json_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/stream_parser.hpp>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

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

// The value of parameter `key` in a header value such as `form-data; name="x"; filename="y"`.
std::optional<std::string> HeaderParam(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto semi = header.find(';', pos);
    std::string_view item =
        util::TrimSpaces(header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || util::Lower(util::TrimSpaces(item.substr(0, eq))) != key) continue;
    std::string_view v = util::TrimSpaces(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return std::nullopt;
}

ApiError BadForm(std::string_view why) {
  return ApiError::BadRequest(fmt::format("Failed to load the submitted data: {}.", why));
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

// One part of a multipart/form-data body.
struct Part {
  std::optional<std::string> name, filename;
  std::string_view content;
};

std::expected<std::vector<Part>, ApiError> SplitMultipart(std::string_view content_type, std::string_view body) {
  auto boundary = HeaderParam(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200)
    return std::unexpected(BadForm("missing multipart boundary"));
  const std::string delimiter = "--" + *boundary;
  std::vector<Part> parts;
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return std::unexpected(BadForm("malformed multipart body"));
  pos += delimiter.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::unexpected(BadForm("malformed multipart body"));
    pos += 2;
    const auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return std::unexpected(BadForm("malformed multipart part"));
    std::string_view headers = body.substr(pos, headers_end - pos);
    const auto content_start = headers_end + 4;
    const auto next = body.find("\r\n" + delimiter, content_start);
    if (next == std::string_view::npos) return std::unexpected(BadForm("truncated multipart body"));
    Part part;
    part.content = body.substr(content_start, next - content_start);
    pos = next + 2 + delimiter.size();
    while (!headers.empty()) {
      const auto eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      if (util::Lower(util::TrimSpaces(line.substr(0, colon))) == "content-disposition") {
        part.name = HeaderParam(line.substr(colon + 1), "name");
        part.filename = HeaderParam(line.substr(colon + 1), "filename");
      }
    }
    if (!part.name) return std::unexpected(BadForm("a multipart part has no name"));
    parts.push_back(std::move(part));
  }
}

std::expected<SubmittedBody, ApiError> ParseMultipart(std::string_view content_type, std::string_view body,
                                                      bool accept_files) {
  auto parts = SplitMultipart(content_type, body);
  if (!parts) return std::unexpected(parts.error());
  SubmittedBody out;
  boost::json::object& data = out.data.emplace_object();
  for (auto& part : *parts) {
    if (part.filename) {
      if (!accept_files) return std::unexpected(BadForm("file uploads are not supported by this endpoint"));
      out.files.push_back({std::move(*part.name), std::move(*part.filename), part.content});
      continue;
    }
    if (*part.name == "@jsonPayload") {
      auto parsed = ParseJsonBody(part.content);
      if (!parsed) return std::unexpected(parsed.error());
      if (!parsed->is_object()) return std::unexpected(BadForm("@jsonPayload must be a JSON object"));
      for (auto& [k, v] : parsed->as_object()) data[k] = v;
      continue;
    }
    AddValue(data, *part.name, boost::json::value(std::string(part.content)));
  }
  return out;
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

std::expected<SubmittedBody, ApiError> ParseSubmittedBody(std::string_view content_type, std::string_view body,
                                                          bool accept_files) {
  const std::string type = util::Lower(util::TrimSpaces(content_type.substr(0, content_type.find(';'))));
  if (type == "multipart/form-data") return ParseMultipart(content_type, body, accept_files);
  SubmittedBody out;
  if (type == "application/x-www-form-urlencoded") {
    boost::json::object& data = out.data.emplace_object();
    while (!body.empty()) {
      const auto amp = body.find('&');
      const std::string_view pair = body.substr(0, amp);
      body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      AddValue(data, FormDecode(pair.substr(0, eq)),
               boost::json::value(eq == std::string_view::npos ? std::string() : FormDecode(pair.substr(eq + 1))));
    }
    return out;
  }
  auto parsed = ParseJsonBody(body);
  if (!parsed) return std::unexpected(parsed.error());
  out.data = std::move(*parsed);
  return out;
}

std::expected<boost::json::value, ApiError> ParseRequestBody(std::string_view content_type, std::string_view body) {
  auto parsed = ParseSubmittedBody(content_type, body, /*accept_files=*/false);
  if (!parsed) return std::unexpected(parsed.error());
  return std::move(parsed->data);
}

bool HasFileParts(std::string_view content_type, std::string_view body) {
  if (util::Lower(util::TrimSpaces(content_type.substr(0, content_type.find(';')))) != "multipart/form-data")
    return false;
  auto parts = SplitMultipart(content_type, body);
  return parts && std::any_of(parts->begin(), parts->end(), [](const Part& p) { return p.filename.has_value(); });
}

}  // namespace strata::http
