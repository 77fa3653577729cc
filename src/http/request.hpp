// Request: a read-only view of one HTTP request, valid for the duration of its handler.
// Not thread-safe; owned by the connection that received it.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/multipart.hpp"

namespace strata::http {

enum class Verb : uint8_t { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

// "GET", "POST", …; "OTHER" for methods outside the list.
std::string_view VerbName(Verb verb);

namespace detail {
struct RawRequest;  // the wire library's message, private to the http module
}

using PathParams = std::vector<std::pair<std::string_view, std::string_view>>;

class Request {
 public:
  Request(const detail::RawRequest& raw, Verb verb, std::string_view path, std::string_view query,
          std::string_view request_id, std::string_view remote_address)
      : raw_(raw), verb_(verb), path_(path), query_(query), request_id_(request_id), remote_(remote_address) {}

  Verb verb() const { return verb_; }
  std::string_view method() const;
  std::string_view target() const;
  std::string_view path() const { return path_; }    // target before '?', still percent-encoded
  std::string_view query() const { return query_; }  // target after '?', or empty
  std::string_view request_id() const { return request_id_; }
  std::string_view remote_address() const { return remote_; }
  std::string_view body() const;

  // The first value of a header (case-insensitive name), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;

  // A path parameter of the route pattern, e.g. "id" for /records/{id}, percent-decoded;
  // empty if the pattern has no such parameter.
  std::string Param(std::string_view name) const;

  // A query parameter, percent-decoded ('+' as space), or nullopt when absent.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // Every query parameter, decoded, in order (a repeated name appears more than once).
  std::vector<std::pair<std::string, std::string>> QueryParams() const;
  // Every header as (name, value), names as the client wrote them.
  std::vector<std::pair<std::string, std::string>> Headers() const;

  // The parsed body of routes that declare a JSON body (RouteOptions::json_body).
  const boost::json::value& json() const { return json_; }
  // The file parts of a multipart body, on routes that accept files (RouteOptions::files).
  const std::vector<UploadedFile>& files() const { return files_; }

  // Set by the server while routing.
  void set_params(PathParams params) { params_ = std::move(params); }
  void set_json(boost::json::value v) { json_ = std::move(v); }
  void set_files(std::vector<UploadedFile> files) { files_ = std::move(files); }

 private:
  const detail::RawRequest& raw_;
  Verb verb_;
  std::string_view path_;
  std::string_view query_;
  std::string_view request_id_;
  std::string_view remote_;
  PathParams params_;
  boost::json::value json_;
  std::vector<UploadedFile> files_;
};

// Percent-decodes a path segment; a segment with invalid escapes is returned as it is.
std::string PercentDecode(std::string_view s);

}  // namespace strata::http
