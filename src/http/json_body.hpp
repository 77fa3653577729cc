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

}  // namespace strata::http
