#include "api/rate_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "api/auth.hpp"
#include "api/auth_internal.hpp"
#include "auth/token.hpp"
#include "http/multipart.hpp"
#include "http/request.hpp"
#include "http/router.hpp"
#include "ratelimit/limiter.hpp"
#include "schema/catalog.hpp"
#include "util/text.hpp"

namespace strata::api {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

int64_t Seconds(std::chrono::milliseconds d) { return std::chrono::ceil<std::chrono::seconds>(d).count(); }

// The requester as the rate limits see it: from the token's signature alone (the handler still
// checks the record), so that a limited request costs no database read.
struct Requester {
  bool authenticated = false;
  bool superuser = false;
  std::string id;  // collection id + ":" + record id
};

Requester Identify(const http::Request& req, const auth::TokenService& tokens, const schema::Snapshot& snap) {
  Requester who;
  auto header = req.Header("Authorization");
  if (!header) return who;
  const auto token = internal::BearerToken(*header);
  if (token.empty()) return who;
  auto claims = tokens.Verify(token);
  if (!claims || claims->type != "auth") return who;
  who.authenticated = true;
  who.id = claims->collection_id + ":" + claims->record_id;
  const schema::Collection* c = snap.Find(claims->collection_id);
  who.superuser = c && c->id == claims->collection_id && c->name == schema::kSuperusersCollection;
  return who;
}

// Calls `f` with each action of a comma-separated tag list ("authWithPassword,auth").
template <typename F>
void ForEachTag(std::string_view tags, F f) {
  while (!tags.empty()) {
    const auto comma = tags.find(',');
    f(tags.substr(0, comma));
    tags = comma == std::string_view::npos ? std::string_view{} : tags.substr(comma + 1);
  }
}

void AddTagLabels(std::vector<std::string>& labels, const std::string& collection, std::string_view tags) {
  if (collection.empty()) {
    ForEachTag(tags, [&](std::string_view t) { labels.emplace_back(t); });
    return;
  }
  ForEachTag(tags, [&](std::string_view t) { labels.push_back(collection + ":" + std::string(t)); });
  ForEachTag(tags, [&](std::string_view t) { labels.push_back("*:" + std::string(t)); });
}

// Counts one request of `key` under `rule`; 429 when over it, else the RateLimit headers.
void Take(ratelimit::RateLimiter& limiter, const std::string& key, const RateLimitRule& rule, Headers* headers) {
  const ratelimit::Rule r{rule.max_requests, std::chrono::seconds(rule.duration)};
  // Keys hold request text (identities, addresses): a fixed-size digest keeps each entry small.
  const auto d = limiter.Take(auth::TokenKeyFingerprint(key), r);
  if (!d.allowed) {
    auto e = http::ApiError::TooManyRequests(Seconds(d.retry_after));
    e.headers.emplace_back("RateLimit-Limit", std::to_string(d.limit));
    e.headers.emplace_back("RateLimit-Remaining", "0");
    e.headers.emplace_back("RateLimit-Reset", std::to_string(Seconds(d.reset)));
    throw e;
  }
  if (headers) {
    headers->emplace_back("RateLimit-Limit", std::to_string(d.limit));
    headers->emplace_back("RateLimit-Remaining", std::to_string(d.remaining));
    headers->emplace_back("RateLimit-Reset", std::to_string(Seconds(d.reset)));
  }
}

// Whose requests `rule` counts together.
std::string Who(const RateLimitRule& rule, const Requester& who, std::string_view address) {
  if (rule.key == "auth" && who.authenticated) return "a:" + who.id;
  if (rule.key == "ip+auth" && who.authenticated) return "ia:" + ratelimit::AddressKey(address) + "|" + who.id;
  return "i:" + ratelimit::AddressKey(address);
}

// An excluded address matches as given, or as its limits count it (an IPv4 address also when seen
// IPv4-mapped; an IPv6 network written "PREFIX::/64").
bool Excluded(const RateLimitSettings& rl, std::string_view address) {
  if (rl.excluded_ips.empty()) return false;
  const std::string key = ratelimit::AddressKey(address);
  return std::any_of(rl.excluded_ips.begin(), rl.excluded_ips.end(),
                     [&](const std::string& ip) { return ip == address || ip == key; });
}

// Whether any rule could match these labels, whoever asks: only then is the token looked at.
// Superusers are not limited, once their token is checked against their record (a revoked
// token is a guest's).
bool Exempt(const http::Request& req, const std::shared_ptr<const schema::Snapshot>& snap, const Requester& who,
            store::Store& store, const auth::TokenService& tokens) {
  if (!who.superuser) return false;
  auto full = Authenticate(req, snap, store, tokens);
  return full && full->superuser;
}

bool AnyRule(const RateLimitSettings& rl, const std::vector<std::string>& labels) {
  return rl.Find(labels, false) || rl.Find(labels, true);
}

// Whether a rule could apply to a request of `route` at all, before any label is built: a path
// rule, or a tag rule naming one of the route's actions (or uploads, for writes).
bool MayApply(const RateLimitSettings& rl, const http::Route& route, bool write) {
  const std::string_view tags = route.options.tags_in_handler ? std::string_view{} : route.options.tags;
  auto has_tag = [&](std::string_view action) {
    bool found = false;
    ForEachTag(tags, [&](std::string_view t) { found = found || t == action; });
    return found;
  };
  for (const auto& r : rl.rules) {
    const std::string_view label = r.label;
    if (label.starts_with('/') || label.find(' ') != std::string_view::npos) return true;
    const auto colon = label.find(':');
    const std::string_view action = colon == std::string_view::npos ? label : label.substr(colon + 1);
    if (write && action == "upload") return true;
    if (has_tag(action)) return true;
  }
  return false;
}

}  // namespace

void RateLimits::Check(http::Request& req, const http::Route& route, Headers& headers) {
  const auto settings = settings_.Current();
  const RateLimitSettings& rl = settings->rate_limits;
  if (!rl.enabled || rl.rules.empty()) return;
  const bool write = req.verb() == http::Verb::kPost || req.verb() == http::Verb::kPatch;
  if (!MayApply(rl, route, write) || Excluded(rl, req.remote_address())) return;

  std::string collection_id;
  std::string collection_name;
  std::shared_ptr<const schema::Snapshot> snap = catalog_.Current();
  if (auto param = req.Param("collection"); !param.empty()) {
    if (const schema::Collection* c = snap->Find(param)) {
      collection_id = c->id;
      collection_name = c->name;
    }
  }
  std::vector<std::string> labels;
  if (!route.options.tags_in_handler && !route.options.tags.empty() &&
      (!collection_name.empty() || route.pattern.find("{collection}") == std::string::npos)) {
    AddTagLabels(labels, collection_name, route.options.tags);
  }
  // The path as the route understood it (decoded, the collection by its name), so that another
  // spelling of the same resource is counted under the same rule; HEAD is a GET.
  std::string path;
  for (const auto& seg : route.segments) {
    path += '/';
    if (seg.kind == http::Route::Segment::Kind::kLiteral) {
      path += seg.text;
    } else if (seg.text == "collection" && !collection_name.empty()) {
      path += collection_name;
    } else {
      path += req.Param(seg.text);
    }
  }
  if (path.empty()) path = "/";
  const std::string_view method = req.verb() == http::Verb::kHead ? std::string_view("GET") : req.method();
  labels.push_back(std::string(method) + " " + path);
  labels.push_back(path);

  // Uploads, under their own rule (beyond PocketBase): writes to a collection in
  // multipart/form-data, the only form that carries files, told from the head before the body is
  // read.
  std::vector<std::string> upload_labels;
  if (!collection_name.empty() && write) {
    auto ct = req.Header("Content-Type");
    if (ct && http::MultipartBoundary(*ct)) upload_labels = {collection_name + ":upload", "*:upload"};
  }
  if (!AnyRule(rl, labels) && (upload_labels.empty() || !AnyRule(rl, upload_labels))) return;

  const Requester who = Identify(req, tokens_, *snap);
  if (Exempt(req, snap, who, store_, tokens_)) return;
  const std::string address(req.remote_address());
  if (const RateLimitRule* rule = rl.Find(labels, who.authenticated)) {
    // PocketBase keys a collection action by collection and route, a path rule by the rule itself.
    const std::string scope =
        rule->label.find(':') != std::string::npos ? collection_id + " " + route.pattern : std::string();
    Take(limiter_, fmt::format("rl|{}|{}|{}|{}", rule->label, rule->audience, scope, Who(*rule, who, address)), *rule,
         &headers);
  }
  if (!upload_labels.empty()) {
    if (const RateLimitRule* rule = rl.Find(upload_labels, who.authenticated)) {
      // Its headers when no other rule gave the answer its own.
      Take(limiter_,
           fmt::format("rl|{}|{}|{}|{}", rule->label, rule->audience, collection_id, Who(*rule, who, address)), *rule,
           headers.empty() ? &headers : nullptr);
    }
  }
}

void RateLimits::CheckAction(const http::Request& req, const schema::Collection& c, std::string_view action) {
  const auto settings = settings_.Current();
  const RateLimitSettings& rl = settings->rate_limits;
  if (!rl.enabled || rl.rules.empty() || Excluded(rl, req.remote_address())) return;
  const std::vector<std::string> labels = {c.name + ":" + std::string(action), "*:" + std::string(action)};
  if (!AnyRule(rl, labels)) return;
  auto snap = catalog_.Current();
  const Requester who = Identify(req, tokens_, *snap);
  if (Exempt(req, snap, who, store_, tokens_)) return;
  if (const RateLimitRule* rule = rl.Find(labels, who.authenticated)) {
    Take(limiter_,
         fmt::format("rl|{}|{}|{} {}|{}", rule->label, rule->audience, c.id, action,
                     Who(*rule, who, req.remote_address())),
         *rule, nullptr);
  }
}

Headers RateLimits::CheckLogin(const http::Request& req, const schema::Collection& c, std::string_view action,
                               std::string_view identity) {
  const auto settings = settings_.Current();
  const RateLimitSettings& rl = settings->rate_limits;
  if (!rl.enabled || Excluded(rl, req.remote_address())) return {};
  const std::vector<std::string> labels = {c.name + ":" + std::string(action), c.name + ":auth",
                                           "*:" + std::string(action), "*:auth"};
  const RateLimitRule* rule = rl.Find(labels, false);
  if (!rule) return {};
  const std::string who = util::Lower(identity);
  const std::string address = ratelimit::AddressKey(req.remote_address());
  const std::string base = fmt::format("login|{}|{}|{}", rule->label, c.id, action);
  RateLimitRule wide = *rule;
  wide.max_requests = rule->max_requests * 12;
  Take(limiter_, base + "|from:" + address, wide, nullptr);
  Headers headers;
  Take(limiter_, base + "|" + who + "|" + address, *rule, &headers);
  wide.max_requests = rule->max_requests * 6;
  Take(limiter_, base + "|" + who, wide, nullptr);
  return headers;
}

}  // namespace strata::api
