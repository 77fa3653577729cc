// Parsing of JSON request bodies with errors that say where the input broke. Thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <expected>
#include <string_view>

#include "http/response.hpp"

namespace strata::http {

// Returns the parsed value (an empty object for an empty body), or a 400 ApiError whose message
// names the line, column and byte offset of the first error.
std::expected<boost::json::value, ApiError> ParseJsonBody(std::string_view body);

// The submitted data of a request as one JSON object, by its Content-Type: JSON;
// multipart/form-data (text parts become values, a repeated name an array, and the JSON of a
// part named "@jsonPayload" is merged in, as PocketBase's SDK sends it; file parts are refused:
// routes that take files stream their bodies through MultipartParser); or
// application/x-www-form-urlencoded. Returns the data or a 400 ApiError.
std::expected<boost::json::value, ApiError> ParseRequestBody(std::string_view content_type, std::string_view body);

}  // namespace strata::http
