// Query parameters of the API's list endpoints. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.hpp"

namespace strata::api {

inline constexpr int64_t kDefaultPerPage = 30;
inline constexpr int64_t kMaxPerPage = 1000;

// The integer query parameter `name`, or `fallback` when absent or empty; throws a 400 ApiError
// naming the parameter when it is not an integer.
int64_t IntParam(const http::Request& req, const char* name, int64_t fallback);

// The items of PocketBase's sort syntax, "-created,+title,name": names (views into `sort`) with
// whether they sort in descending order; blank items are skipped.
std::vector<std::pair<std::string_view, bool>> SortItems(std::string_view sort);

}  // namespace strata::api
