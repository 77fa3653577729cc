#include "api/params.hpp"

#include <boost/json/object.hpp>
#include <charconv>

#include "http/response.hpp"

namespace strata::api {

int64_t IntParam(const http::Request& req, const char* name, int64_t fallback) {
  const auto v = req.QueryParam(name);
  if (!v || v->empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    throw http::ApiError{
        400,
        "Invalid query parameters.",
        {{name, boost::json::object{{"code", "validation_invalid_value"}, {"message", "Must be an integer."}}}},
        {}};
  }
  return out;
}

// The items of PocketBase's sort syntax, "-created,+title,name": names with their direction.
std::vector<std::pair<std::string_view, bool>> SortItems(std::string_view sort) {
  std::vector<std::pair<std::string_view, bool>> items;
  while (!sort.empty()) {
    const auto comma = sort.find(',');
    std::string_view item = sort.substr(0, comma);
    sort = comma == std::string_view::npos ? std::string_view{} : sort.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    bool desc = false;
    if (item.front() == '-' || item.front() == '+') {
      desc = item.front() == '-';
      item.remove_prefix(1);
    }
    items.emplace_back(item, desc);
  }
  return items;
}

}  // namespace strata::api
