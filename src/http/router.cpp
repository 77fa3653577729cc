#include "http/router.hpp"

#include <stdexcept>

namespace strata::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

void Router::Add(Verb verb, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with /: " + pattern);
  Route route{verb, pattern, std::move(handler), options, routes_.size(), {}};
  const auto parts = SplitPath(pattern);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      p = p.substr(1, p.size() - 2);
      if (p.ends_with("...")) {
        if (i + 1 != parts.size()) throw std::invalid_argument("{name...} must be last: " + pattern);
        route.segments.push_back({std::string(p.substr(0, p.size() - 3)), Route::Segment::Kind::kRest});
      } else {
        route.segments.push_back({std::string(p), Route::Segment::Kind::kParam});
      }
    } else {
      if (p.find_first_of("{}") != std::string_view::npos) throw std::invalid_argument("bad route segment: " + pattern);
      route.segments.push_back({std::string(p), Route::Segment::Kind::kLiteral});
    }
  }
  for (const auto& r : routes_) {
    if (r.verb == verb && r.pattern == pattern) throw std::invalid_argument("duplicate route: " + pattern);
  }
  routes_.push_back(std::move(route));
}

bool Router::MatchPath(const Route& route, std::string_view path, PathParams* params) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const auto& seg = route.segments[i];
    if (seg.kind == Route::Segment::Kind::kRest) {
      if (path.empty()) return false;
      if (params) params->emplace_back(seg.text, path);
      return true;
    }
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    const bool last = i + 1 == route.segments.size();
    if (last != (slash == std::string_view::npos)) return false;
    if (seg.kind == Route::Segment::Kind::kLiteral) {
      if (part != seg.text) return false;
    } else {
      if (part.empty()) return false;
      if (params) params->emplace_back(seg.text, part);
    }
    if (!last) path.remove_prefix(slash + 1);
  }
  return true;
}

Router::Match Router::Find(Verb verb, std::string_view path) const {
  Match m;
  const Route* get_for_head = nullptr;
  bool path_known = false;
  for (const auto& r : routes_) {
    if (r.verb != verb && !(verb == Verb::kHead && r.verb == Verb::kGet)) continue;
    // Matched once without collecting parameters: most routes fail, and cheaply.
    if (!MatchPath(r, path, nullptr)) continue;
    PathParams params;
    MatchPath(r, path, &params);
    if (r.verb == verb) {
      m.kind = Match::Kind::kFound;
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
    if (!get_for_head) {
      get_for_head = &r;
      m.params = std::move(params);
    }
  }
  if (get_for_head) {
    m.kind = Match::Kind::kFound;
    m.route = get_for_head;
    return m;
  }
  // Not found for this verb: does the path exist under another?
  bool verbs[8] = {};
  for (const auto& r : routes_) {
    if (MatchPath(r, path, nullptr)) {
      path_known = true;
      verbs[static_cast<int>(r.verb)] = true;
      if (r.verb == Verb::kGet) verbs[static_cast<int>(Verb::kHead)] = true;
    }
  }
  if (!path_known) return m;
  m.kind = Match::Kind::kMethodNotAllowed;
  for (Verb v : {Verb::kGet, Verb::kHead, Verb::kPost, Verb::kPut, Verb::kPatch, Verb::kDelete, Verb::kOptions}) {
    if (!verbs[static_cast<int>(v)]) continue;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += VerbName(v);
  }
  return m;
}

}  // namespace strata::http
