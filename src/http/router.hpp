// Router: maps (method, path) to a handler by route pattern. Patterns are literal segments,
// `{name}` parameters and a final `{name...}` that takes the rest of the path. Routes are added
// before the server starts; after that the router is read-only and safe to share between threads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/limits.hpp"
#include "http/multipart.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace strata::http {

// A handler may return an error Response, or throw ApiError; anything else it throws is a bug,
// answered with 500 and logged with the request id.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct RouteOptions {
  std::size_t body_limit = kDefaultBodyLimit;
  bool json_body = false;  // parse the body as JSON before the handler runs; malformed → 400
  // With json_body: a multipart body is streamed, its file parts spooled to disk (within
  // upload_limits) and handed to the handler as Request::files().
  bool files = false;
  std::function<MultipartLimits(const Request&)> upload_limits = nullptr;
  // When set, the body limit of each request in place of body_limit, from its path parameters
  // (the record routes: the sizes of the collection's file fields).
  std::function<std::size_t(const Request&)> body_limit_of = nullptr;
  // The action names rate limit rules know the route by, comma-separated ("create",
  // "authWithPassword,auth"); with a {collection} parameter they become "name:action" and
  // "*:action" labels.
  std::string_view tags = {};
  // Rate limits by action are applied by the handler itself (logins, keyed by the identity
  // tried); the server's hook applies the path rules only.
  bool tags_in_handler = false;
};

struct Route {
  Verb verb;
  std::string pattern;  // also the route label in metrics and logs
  Handler handler;
  RouteOptions options;
  std::size_t index = 0;  // position in the router, for per-route tables

  struct Segment {
    std::string text;  // literal text, or the parameter name
    enum class Kind { kLiteral, kParam, kRest } kind;
  };
  std::vector<Segment> segments;
};

class Router {
 public:
  // Registers a route; GET routes also answer HEAD. Throws std::invalid_argument on a malformed
  // pattern or a duplicate (verb, pattern).
  void Add(Verb verb, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const Route* route = nullptr;
    PathParams params;  // views into the path and the route pattern
    std::string allow;  // for kMethodNotAllowed: the methods the path accepts, "GET, HEAD, POST"
  };
  // Finds the route for `verb` and `path` (without query string).
  Match Find(Verb verb, std::string_view path) const;

  std::size_t size() const { return routes_.size(); }
  const Route& route(std::size_t i) const { return routes_[i]; }

 private:
  static bool MatchPath(const Route& route, std::string_view path, PathParams* params);
  std::vector<Route> routes_;
};

}  // namespace strata::http
