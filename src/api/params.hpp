// Query parameters of the API's list endpoints. Stateless; thread-safe.
#pragma once

#include <cstdint>

#include "http/request.hpp"

namespace strata::api {

inline constexpr int64_t kDefaultPerPage = 30;
inline constexpr int64_t kMaxPerPage = 1000;

// The integer query parameter `name`, or `fallback` when absent or empty; throws a 400 ApiError
// naming the parameter when it is not an integer.
int64_t IntParam(const http::Request& req, const char* name, int64_t fallback);

}  // namespace strata::api
