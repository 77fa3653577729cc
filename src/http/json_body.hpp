// Parsing of JSON request bodies with errors that say where the input broke. Thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "http/response.hpp"

namespace strata::http {

// Returns the parsed value (an empty object for an empty body), or a 400 ApiError whose message
// names the line, column and byte offset of the first error.
std::expected<boost::json::value, ApiError> ParseJsonBody(std::string_view body);

// A file part of a multipart/form-data body: the form field it was sent under, the client's
// file name and the bytes (a view into the request body).
struct UploadedFile {
  std::string field;
  std::string filename;
  std::string_view content;
};

struct SubmittedBody {
  boost::json::value data;
  std::vector<UploadedFile> files;
};

// The submitted data of a request as one JSON object, by its Content-Type: JSON;
// multipart/form-data (text parts become values, a repeated name an array, and the JSON of a
// part named "@jsonPayload" is merged in, as PocketBase's SDK sends it; file parts are returned
// apart when `accept_files`, refused otherwise); or application/x-www-form-urlencoded.
// Returns the data or a 400 ApiError.
std::expected<SubmittedBody, ApiError> ParseSubmittedBody(std::string_view content_type, std::string_view body,
                                                          bool accept_files);

// ParseSubmittedBody without file parts: the data only.
std::expected<boost::json::value, ApiError> ParseRequestBody(std::string_view content_type, std::string_view body);

// Whether a well-formed multipart/form-data body carries at least one file part.
bool HasFileParts(std::string_view content_type, std::string_view body);

}  // namespace strata::http
