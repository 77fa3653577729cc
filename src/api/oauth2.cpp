// OAuth2 sign-in with the OpenID Connect authorization-code flow and PKCE (S256), as PocketBase's
// auth-with-oauth2: the client sends the code it got from the provider with its code verifier; the
// server exchanges them at the provider's token endpoint, reads the user from its userinfo endpoint,
// then signs in the linked record, links a record with the same email, or creates one.
#include "api/oauth2.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/auth_internal.hpp"
#include "api/record_json.hpp"
#include "auth/password.hpp"
#include "auth/token.hpp"
#include "http/router.hpp"
#include "schema/values.hpp"
#include "util/random.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using namespace internal;  // NOLINT: the auth routes' shared helpers

constexpr char kIdChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr char kVerifierChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

std::string Text(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (it->value().is_string()) return std::string(it->value().as_string());
  if (it->value().is_int64()) return std::to_string(it->value().as_int64());
  return {};
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The S256 code challenge of a verifier: base64url(SHA-256(verifier)).
std::string CodeChallenge(std::string_view verifier) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size());
  return auth::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// The collection's OAuth2 providers (options.oauth2.providers), when OAuth2 is enabled.
std::vector<boost::json::object> Providers(const schema::Collection& c) {
  std::vector<boost::json::object> out;
  auto it = c.options.find("oauth2");
  if (it == c.options.end() || !it->value().is_object()) return out;
  const auto& o = it->value().as_object();
  auto enabled = o.find("enabled");
  if (enabled == o.end() || !enabled->value().is_bool() || !enabled->value().as_bool()) return out;
  auto providers = o.find("providers");
  if (providers == o.end() || !providers->value().is_array()) return out;
  for (const auto& p : providers->value().as_array()) {
    if (p.is_object() && !Text(p.as_object(), "name").empty()) out.push_back(p.as_object());
  }
  return out;
}

// ---- HTTP client (blocking; runs on the client pool) ----

net::thread_pool& ClientPool() {
  static net::thread_pool pool(2);
  return pool;
}

std::size_t Collect(char* data, std::size_t size, std::size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * count > 1 << 20) return 0;  // a provider's answer is small
  body->append(data, size * count);
  return size * count;
}

struct HttpResult {
  long status = 0;
  std::string body;
  std::string error;
};

// GET (form empty) or POST application/x-www-form-urlencoded `form` to `url`.
HttpResult Fetch(const std::string& url, const std::string& form, const std::string& bearer) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  HttpResult r;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.error = "cannot start an HTTP request";
    return r;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  std::string auth;
  if (!bearer.empty()) {
    auth = "Authorization: Bearer " + bearer;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!form.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form.c_str());
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

struct ProviderUser {
  std::string id;  // the provider's subject
  std::string email;
  bool email_verified = false;
  std::string name;
  std::string avatar;
  std::string access_token;
  std::string refresh_token;
  boost::json::object raw;
};

// Exchanges the code (with the PKCE verifier) and reads the user. Runs on the client pool.
util::Result<ProviderUser> ExchangeAndFetch(const boost::json::object& provider, const std::string& code,
                                            const std::string& verifier, const std::string& redirect) {
  auto fail = [](std::string why) { return std::unexpected(util::Status::Unavailable(std::move(why))); };
  const std::string form = fmt::format(
      "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&client_secret={}&code_verifier={}",
      UrlEncode(code), UrlEncode(redirect), UrlEncode(Text(provider, "clientId")),
      UrlEncode(Text(provider, "clientSecret")), UrlEncode(verifier));
  auto token = Fetch(Text(provider, "tokenURL"), form, "");
  if (!token.error.empty()) return fail("token endpoint: " + token.error);
  boost::system::error_code ec;
  auto tj = boost::json::parse(token.body, ec);
  if (token.status != 200 || ec || !tj.is_object() || Text(tj.as_object(), "access_token").empty()) {
    return fail(fmt::format("token endpoint answered {}", token.status));
  }
  ProviderUser u;
  u.access_token = Text(tj.as_object(), "access_token");
  u.refresh_token = Text(tj.as_object(), "refresh_token");
  auto info = Fetch(Text(provider, "userInfoURL"), "", u.access_token);
  if (!info.error.empty()) return fail("userinfo endpoint: " + info.error);
  auto uj = boost::json::parse(info.body, ec);
  if (info.status != 200 || ec || !uj.is_object())
    return fail(fmt::format("userinfo endpoint answered {}", info.status));
  u.raw = uj.as_object();
  u.id = Text(u.raw, "sub");
  if (u.id.empty()) u.id = Text(u.raw, "id");
  u.email = Text(u.raw, "email");
  if (auto it = u.raw.find("email_verified"); it != u.raw.end() && it->value().is_bool()) {
    u.email_verified = it->value().as_bool();
  }
  u.name = Text(u.raw, "name");
  u.avatar = Text(u.raw, "picture");
  if (u.id.empty()) return fail("the provider gave no user id");
  return u;
}

constexpr char kExternalAuthsTable[] =
    "CREATE TABLE IF NOT EXISTS `_externalAuths` (`id` TEXT PRIMARY KEY NOT NULL, `collectionRef` TEXT NOT NULL, "
    "`recordRef` TEXT NOT NULL, `provider` TEXT NOT NULL, `providerId` TEXT NOT NULL, `created` TEXT NOT NULL, "
    "UNIQUE (`collectionRef`, `provider`, `providerId`))";

}  // namespace

boost::json::object OAuth2Methods(const schema::Collection& c) {
  boost::json::array providers;
  for (const auto& p : Providers(c)) {
    const std::string state = util::RandomString(30, kIdChars);
    const std::string verifier = util::RandomString(43, kVerifierChars);
    const std::string challenge = CodeChallenge(verifier);
    std::string scope = Text(p, "scope");
    if (scope.empty()) scope = "openid profile email";
    const std::string base = Text(p, "authURL");
    // The client appends its redirect URL, as with PocketBase.
    const std::string url = fmt::format(
        "{}{}client_id={}&code_challenge={}&code_challenge_method=S256&response_type=code&scope={}&state={}"
        "&redirect_uri=",
        base, base.find('?') == std::string::npos ? "?" : "&", UrlEncode(Text(p, "clientId")), challenge,
        UrlEncode(scope), state);
    std::string display = Text(p, "displayName");
    if (display.empty()) display = Text(p, "name");
    providers.push_back(boost::json::object{{"name", Text(p, "name")},
                                            {"displayName", display},
                                            {"state", state},
                                            {"authURL", url},
                                            {"codeVerifier", verifier},
                                            {"codeChallenge", challenge},
                                            {"codeChallengeMethod", "S256"}});
  }
  const bool enabled = !providers.empty();
  return {{"enabled", enabled}, {"providers", std::move(providers)}};
}

void AddOAuth2Routes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                     ratelimit::RateLimiter& limiter, const RecordChangeSink& publish) {
  router.Add(
      http::Verb::kPost, "/api/collections/{collection}/auth-with-oauth2",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        auto snap = catalog.Current();
        const schema::Collection* c = AuthCollection(*snap, req.Param("collection"));
        if (!c) throw http::ApiError::NotFound("Missing or invalid auth collection context.");
        if (!req.json().is_object()) throw http::ApiError::BadRequest("Failed to read the submitted data.");
        const auto& body = req.json().as_object();
        const std::string name = Text(body, "provider");
        const std::string code = Text(body, "code");
        const std::string verifier = Text(body, "codeVerifier");
        const std::string redirect = Text(body, "redirectURL");
        boost::json::object errors;
        for (auto [key, value] : {std::pair{"provider", &name}, std::pair{"code", &code}}) {
          if (value->empty())
            errors[key] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
        }
        if (!errors.empty()) {
          throw http::ApiError{400, "An error occurred while validating the submitted data.", std::move(errors), {}};
        }
        std::optional<boost::json::object> provider;
        for (auto& p : Providers(*c)) {
          if (Text(p, "name") == name) provider = std::move(p);
        }
        if (!provider) {
          throw http::ApiError{400,
                               "An error occurred while validating the submitted data.",
                               {{"provider", boost::json::object{{"code", "validation_invalid_provider"},
                                                                 {"message", "Provider with name " + name +
                                                                                 " is missing or is not enabled."}}}},
                               {}};
        }
        Limit(limiter, "oauth2-from:" + ratelimit::AddressKey(req.remote_address()), {60, std::chrono::minutes(1)});
        const boost::json::object p = *provider;
        auto user = co_await net::co_spawn(
            ClientPool(),
            [&]() -> net::awaitable<util::Result<ProviderUser>> {
              co_return ExchangeAndFetch(p, code, verifier, redirect);
            },
            net::use_awaitable);
        if (!user) {
          spdlog::warn("OAuth2 sign-in with {} failed: {}", name, user.error().message());
          throw http::ApiError::BadRequest("Failed to authenticate.");
        }

        // The linked record, else one with the provider's (verified) email, else a new one.
        const std::string table = c->name;
        std::string record_id;
        bool is_new = false;
        auto linked = store.Query(
            "SELECT `recordRef` FROM `_externalAuths` WHERE `collectionRef` = ? AND `provider` = ? AND `providerId` = "
            "?",
            {c->id, name, user->id});
        if (linked && !linked->rows.empty()) record_id = std::get<std::string>(linked->rows[0][0]);
        if (!record_id.empty()) {
          auto exists = store.Query(fmt::format("SELECT `id` FROM `{}` WHERE `id` = ?", table), {record_id});
          if (!exists || exists->rows.empty()) record_id.clear();  // the record went away
        }
        if (record_id.empty() && !user->email.empty() && user->email_verified) {
          auto by_email =
              store.Query(fmt::format("SELECT `id` FROM `{}` WHERE `email` = ? COLLATE NOCASE", table), {user->email});
          if (by_email && !by_email->rows.empty()) record_id = std::get<std::string>(by_email->rows[0][0]);
        }
        util::SqlParams insert;
        std::string insert_sql;
        if (record_id.empty()) {
          is_new = true;
          record_id = util::RandomString(15, kIdChars);
          const std::string now = schema::NowDateTime();
          std::string cols = "`id`, `email`, `emailVisibility`, `verified`, `password`, `tokenKey`";
          std::string marks = "?, ?, 0, ?, ?, ?";
          // A password nobody knows (the account signs in through the provider), hashed off the
          // I/O thread.
          std::string hash = co_await HashOffThread(auth::RandomSecret(30));
          insert = {record_id, user->email.empty() ? std::string() : user->email,
                    int64_t{user->email_verified && !user->email.empty()}, hash, auth::RandomSecret(50)};
          for (const auto& f : c->fields) {
            if (f.type == schema::FieldType::kAutodate && f.BoolOption("onCreate")) {
              cols += fmt::format(", `{}`", f.name);
              marks += ", ?";
              insert.emplace_back(now);
            }
          }
          insert_sql = fmt::format("INSERT INTO `{}` ({}) VALUES ({})", table, cols, marks);
        }
        util::SqlParams link{util::RandomString(15, kIdChars), c->id, record_id, name, user->id, schema::NowDateTime()};
        auto changes = std::make_shared<std::vector<RecordChange>>();
        auto st = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
          store.Write(
              [insert_sql, insert, link, c, record_id, changes](store::Tx& tx) -> util::Status {
                if (!insert_sql.empty()) {
                  if (auto r = tx.Exec(insert_sql, insert); !r) return r.error();
                  if (auto st = AddRecordChange(tx, *c, "create", record_id, *changes); !st.ok()) return st;
                }
                if (auto r = tx.Exec(kExternalAuthsTable); !r) return r.error();
                auto r = tx.Exec(
                    "INSERT INTO `_externalAuths` VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (`collectionRef`, `provider`, "
                    "`providerId`) DO UPDATE SET `recordRef` = excluded.`recordRef`",
                    link);
                return r ? util::Status::Ok() : r.error();
              },
              PublishThen(publish, changes, std::move(done)));
        });
        if (st.code() == util::Status::Code::kConstraint) {
          throw http::ApiError{400,
                               "Failed to authenticate.",
                               {{"email", boost::json::object{{"code", "validation_not_unique"},
                                                              {"message", "The email address is already in use."}}}},
                               {}};
        }
        if (!st.ok()) throw http::ApiError::Internal(st.ToString());
        auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE `id` = ?", table), {record_id});
        if (!rs || rs->rows.empty()) throw http::ApiError::BadRequest("Failed to authenticate.");
        RequireAuthRule(store, *snap, *c, *rs, rs->rows[0]);
        auto response = AuthResponse(tokens, *c, *rs, rs->rows[0]);
        auto out = boost::json::parse(response.body).as_object();
        out["meta"] = boost::json::object{{"id", user->id},
                                          {"name", user->name},
                                          {"email", user->email},
                                          {"avatarURL", user->avatar},
                                          {"accessToken", user->access_token},
                                          {"refreshToken", user->refresh_token},
                                          {"isNew", is_new},
                                          {"rawUser", user->raw}};
        co_return http::Response::Json(200, boost::json::serialize(out));
      },
      {.body_limit = 64 * 1024, .json_body = true, .tags = "authWithOAuth2,auth"});
}

}  // namespace strata::api
