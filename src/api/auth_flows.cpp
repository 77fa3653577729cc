// Auth flows that go through mail or act for others: verification, password reset, email change,
// one-time passwords, auth methods and impersonation, as PocketBase's endpoints.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/auth_internal.hpp"
#include "api/oauth2.hpp"
#include "api/rate_limits.hpp"
#include "api/record_json.hpp"
#include "auth/password.hpp"
#include "http/router.hpp"
#include "schema/values.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using namespace internal;  // NOLINT: the auth routes' shared helpers

constexpr std::string_view kValidationFailed = "An error occurred while validating the submitted data.";
constexpr std::string_view kInvalidVerification = "Invalid or expired verification token.";
constexpr std::string_view kInvalidReset = "Invalid or expired password reset token.";
constexpr std::string_view kInvalidEmailChange = "Invalid or expired token.";

http::ApiError FieldError(std::string_view field, std::string_view code, std::string_view message) {
  return http::ApiError{
      400, std::string(kValidationFailed), {{field, boost::json::object{{"code", code}, {"message", message}}}}, {}};
}

std::string BodyString(const http::Request& req, const char* key) {
  if (!req.json().is_object()) return {};
  auto it = req.json().as_object().find(key);
  return it != req.json().as_object().end() && it->value().is_string() ? std::string(it->value().as_string())
                                                                       : std::string();
}

std::string Column(const store::ResultSet& rs, const std::vector<util::SqlValue>& row, std::string_view name) {
  const int i = rs.ColumnIndex(name);
  if (i < 0) return {};
  const auto& v = row[static_cast<std::size_t>(i)];
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  return {};
}

// A token of `type` for the record in `rs` (first row), bound to its tokenKey and email (and to
// `new_email` for email changes), living `duration_option`.duration seconds (or `fallback`).
std::string RecordToken(const auth::TokenService& tokens, const schema::Collection& c, const store::ResultSet& rs,
                        std::string type, const char* duration_option, int64_t fallback, std::string new_email = {}) {
  const auto& row = rs.rows[0];
  return tokens.Sign({.record_id = Column(rs, row, "id"),
                      .collection_id = c.id,
                      .type = std::move(type),
                      .key_fingerprint = auth::TokenKeyFingerprint(TokenKeyOf(rs, row)),
                      .email = Column(rs, row, "email"),
                      .new_email = std::move(new_email)},
                     OptionDuration(c, duration_option, fallback));
}

const schema::Collection& RequireAuthCollection(const schema::Snapshot& snap, const std::string& name) {
  const schema::Collection* c = AuthCollection(snap, name);
  if (!c) throw http::ApiError::NotFound("Missing or invalid auth collection context.");
  return *c;
}

// A record of `c` by email (case-insensitive) or by id.
std::optional<store::ResultSet> FindRecord(store::Store& store, const schema::Collection& c, std::string_view column,
                                           const std::string& value) {
  auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE `{}` = ?{} LIMIT 1", c.name, column,
                                    column == "email" ? " COLLATE NOCASE" : ""),
                        {value});
  if (!rs) throw http::ApiError::Internal(rs.error().ToString());
  if (rs->rows.empty()) return std::nullopt;
  return std::move(*rs);
}

// Sets columns of one record of `c` (and its onUpdate dates), durably, and publishes the update.
net::awaitable<util::Status> Update(store::Store& store, const RecordChangeSink& publish, const schema::Collection& c,
                                    std::string id, std::vector<std::pair<std::string, util::SqlValue>> values) {
  std::string sets;
  util::SqlParams params;
  for (auto& [column, value] : values) {
    sets += sets.empty() ? "" : ", ";
    sets += fmt::format("`{}` = ?", column);
    params.push_back(std::move(value));
  }
  sets += schema::UpdatedDatesSql(c, params);
  params.emplace_back(id);
  std::string sql = fmt::format("UPDATE `{}` SET {} WHERE `id` = ?", c.name, sets);
  auto changes = std::make_shared<std::vector<RecordChange>>();
  co_return co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
    store.Write(
        [&c, id, changes, sql = std::move(sql), params = std::move(params)](store::Tx& tx) -> util::Status {
          auto r = tx.Exec(sql, params);
          if (!r) return r.error();
          return AddRecordChange(tx, c, "update", id, *changes);
        },
        PublishThen(publish, changes, std::move(done)));
  });
}

// Mail leaves from its own thread after the response: how long sending takes must not tell
// whether an account exists.
net::thread_pool& MailPool() {
  static net::thread_pool pool(1);
  return pool;
}

void SendLater(mail::Mailer& mailer, mail::Message message) {
  net::post(MailPool(), [&mailer, message = std::move(message)] {
    if (auto st = mailer.Send(message); !st.ok()) spdlog::error("mail to {} not sent: {}", message.to, st.ToString());
  });
}

// The claims of a token of `type` for a record of `c`, or a 400 naming the token field.
auth::TokenClaims CheckToken(const auth::TokenService& tokens, const schema::Collection& c, const std::string& token,
                             std::string_view type, std::string_view message) {
  if (token.empty()) throw FieldError("token", "validation_required", "Cannot be blank.");
  auto claims = tokens.Verify(token);
  if (!claims || claims->type != type || claims->collection_id != c.id) {
    throw FieldError("token", "validation_invalid_value", message);
  }
  return *claims;
}

// The password rules of `c`'s password field: at least `min` characters (8 unless set), at most 71
// bytes (argon2 has no limit; PocketBase's bcrypt had).
void CheckNewPassword(const schema::Collection& c, const std::string& password, const std::string& confirm) {
  const schema::Field* f = c.FindField("password");
  const int64_t min = f && f->IntOption("min") > 0 ? f->IntOption("min") : 8;
  if (password.empty()) throw FieldError("password", "validation_required", "Cannot be blank.");
  if (static_cast<int64_t>(password.size()) < min) {
    throw FieldError("password", "validation_min_text_constraint",
                     fmt::format("Must be at least {} character(s).", min));
  }
  if (password.size() > 71)
    throw FieldError("password", "validation_max_text_constraint", "Must be less than 72 character(s).");
  if (password != confirm) throw FieldError("passwordConfirm", "validation_values_mismatch", "Values don't match.");
}

std::string RequireEmail(const http::Request& req, const char* key) {
  const std::string email = BodyString(req, key);
  if (email.empty()) throw FieldError(key, "validation_required", "Cannot be blank.");
  if (!schema::IsValidEmail(email)) throw FieldError(key, "validation_is_email", "Must be a valid email address.");
  return email;
}

bool OtpEnabled(const schema::Collection& c) {
  auto it = c.options.find("otp");
  if (it == c.options.end() || !it->value().is_object()) return false;
  auto e = it->value().as_object().find("enabled");
  return e != it->value().as_object().end() && e->value().is_bool() && e->value().as_bool();
}

int64_t OtpLength(const schema::Collection& c) {
  auto it = c.options.find("otp");
  if (it == c.options.end() || !it->value().is_object()) return 8;
  auto l = it->value().as_object().find("length");
  if (l == it->value().as_object().end() || !l->value().is_number()) return 8;
  return std::clamp<int64_t>(l->value().to_number<int64_t>(), 6, 32);
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr char kOtpTable[] =
    "CREATE TABLE IF NOT EXISTS `_otps` (`id` TEXT PRIMARY KEY NOT NULL, `collectionRef` TEXT NOT NULL, "
    "`recordRef` TEXT NOT NULL, `password` TEXT NOT NULL, `sentTo` TEXT NOT NULL, `created` INTEGER NOT NULL)";

}  // namespace

// The longest impersonation token, in seconds (ten years).
constexpr int64_t kMaxImpersonationSeconds = int64_t{10} * 365 * 24 * 3600;

void AddAuthFlowRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                       ratelimit::RateLimiter& limiter, RateLimits& limits, mail::Mailer& mailer,
                       const MailSettings& settings, const RecordChangeSink& publish) {
  auto letter = [&settings](std::string to, std::string subject, std::string text) {
    return mail::Message{.from = settings.from,
                         .to = std::move(to),
                         .subject = fmt::format("{} - {}", settings.app_name, subject),
                         .text = std::move(text)};
  };
  // Requests that send mail: per address and per target email, so that nobody's inbox can be
  // flooded and no address can probe many accounts.
  auto limit_mail = [&limiter](const http::Request& req, const schema::Collection& c, const std::string& email) {
    Limit(limiter, "mail-from:" + ratelimit::AddressKey(req.remote_address()), {30, std::chrono::minutes(1)});
    Limit(limiter, "mail-to:" + c.id + ":" + util::Lower(email), {3, std::chrono::minutes(1)});
  };

  router.Add(http::Verb::kGet, "/api/collections/{collection}/auth-methods",
             [&catalog](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               boost::json::array identity;
               for (const auto& f : IdentityFields(c)) identity.emplace_back(f);
               boost::json::object body{
                   {"password", {{"enabled", PasswordAuthEnabled(c)}, {"identityFields", identity}}},
                   {"oauth2", OAuth2Methods(c)},
                   {"mfa", {{"enabled", false}, {"duration", 0}}},
                   {"otp", {{"enabled", OtpEnabled(c)}, {"duration", OptionDuration(c, "otp", 180)}}}};
               co_return http::Response::Json(200, boost::json::serialize(body));
             },
             {.tags = "listAuthMethods"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/request-verification",
             [&, letter, limit_mail](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               const std::string email = RequireEmail(req, "email");
               limit_mail(req, c, email);
               // The answer is the same whether or not the account exists.
               if (auto rs = FindRecord(store, c, "email", email); rs && Column(*rs, rs->rows[0], "verified") != "1") {
                 const std::string to = Column(*rs, rs->rows[0], "email");
                 const std::string token = RecordToken(tokens, c, *rs, "verification", "verificationToken", 259200);
                 SendLater(mailer, letter(to, "Verify your email",
                                          fmt::format("Thank you for joining us at {}.\n\nConfirm your email address:\n"
                                                      "{}/_/#/auth/confirm-verification/{}\n\nToken: {}\n",
                                                      settings.app_name, settings.app_url, token, token)));
               }
               co_return http::Response{204, "", "", {}};
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "requestVerification"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/confirm-verification",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               const auto claims =
                   CheckToken(tokens, c, BodyString(req, "token"), "verification", kInvalidVerification);
               auto rs = FindRecord(store, c, "id", claims.record_id);
               if (!rs || util::Lower(Column(*rs, rs->rows[0], "email")) != util::Lower(claims.email)) {
                 throw FieldError("token", "validation_invalid_value", kInvalidVerification);
               }
               if (Column(*rs, rs->rows[0], "verified") != "1") {
                 std::vector<std::pair<std::string, util::SqlValue>> values;
                 values.emplace_back("verified", int64_t{1});
                 auto st = co_await Update(store, publish, c, claims.record_id, std::move(values));
                 if (!st.ok()) throw http::ApiError::Internal(st.ToString());
               }
               co_return http::Response{204, "", "", {}};
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "confirmVerification"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/request-password-reset",
             [&, letter, limit_mail](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               const std::string email = RequireEmail(req, "email");
               limit_mail(req, c, email);
               if (auto rs = FindRecord(store, c, "email", email)) {
                 const std::string to = Column(*rs, rs->rows[0], "email");
                 // Bound to the tokenKey: the reset itself changes it, so a token works once.
                 const std::string token = RecordToken(tokens, c, *rs, "passwordReset", "passwordResetToken", 1800);
                 SendLater(mailer, letter(to, "Reset your password",
                                          fmt::format("Someone asked to reset your {} password. If it was you:\n"
                                                      "{}/_/#/auth/confirm-password-reset/{}\n\nToken: {}\n\n"
                                                      "If it was not you, ignore this message.\n",
                                                      settings.app_name, settings.app_url, token, token)));
               }
               co_return http::Response{204, "", "", {}};
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "requestPasswordReset"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/confirm-password-reset",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               const auto claims = CheckToken(tokens, c, BodyString(req, "token"), "passwordReset", kInvalidReset);
               const std::string password = BodyString(req, "password");
               CheckNewPassword(c, password, BodyString(req, "passwordConfirm"));
               auto rs = FindRecord(store, c, "id", claims.record_id);
               if (!rs || !auth::ConstantTimeEquals(auth::TokenKeyFingerprint(TokenKeyOf(*rs, rs->rows[0])),
                                                    claims.key_fingerprint)) {
                 throw FieldError("token", "validation_invalid_value", kInvalidReset);
               }
               std::string hashed = co_await HashOffThread(password);
               std::vector<std::pair<std::string, util::SqlValue>> values;
               values.emplace_back("password", std::move(hashed));
               values.emplace_back("tokenKey", auth::RandomSecret(50));
               // The reset proved the address.
               if (util::Lower(Column(*rs, rs->rows[0], "email")) == util::Lower(claims.email))
                 values.emplace_back("verified", int64_t{1});
               auto st = co_await Update(store, publish, c, claims.record_id, std::move(values));
               if (!st.ok()) throw http::ApiError::Internal(st.ToString());
               co_return http::Response{204, "", "", {}};
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "confirmPasswordReset"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/request-email-change",
             [&, letter, limit_mail](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               auto who = Authenticate(req, snap, store, tokens);
               if (!who) throw http::ApiError{401, "The request requires valid record authorization token.", {}, {}};
               if (who->collection->id != c.id) {
                 throw http::ApiError::Forbidden("The authorized record is not allowed to perform this action.");
               }
               const std::string new_email = RequireEmail(req, "newEmail");
               if (FindRecord(store, c, "email", new_email)) {
                 throw FieldError("newEmail", "validation_invalid_new_email", "Invalid new email address.");
               }
               limit_mail(req, c, new_email);
               auto rs = FindRecord(store, c, "id", who->record_id);
               if (!rs) throw http::ApiError::NotFound();
               const std::string token =
                   RecordToken(tokens, c, *rs, "emailChange", "emailChangeToken", 1800, new_email);
               SendLater(mailer, letter(new_email, "Confirm your new email address",
                                        fmt::format("Confirm {} as the new email address of your {} account:\n"
                                                    "{}/_/#/auth/confirm-email-change/{}\n\nToken: {}\n",
                                                    new_email, settings.app_name, settings.app_url, token, token)));
               co_return http::Response{204, "", "", {}};
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "requestEmailChange"});

  router.Add(
      http::Verb::kPost, "/api/collections/{collection}/confirm-email-change",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        auto snap = catalog.Current();
        const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
        const auto claims = CheckToken(tokens, c, BodyString(req, "token"), "emailChange", kInvalidEmailChange);
        // It checks a password: limited as logins are.
        Limit(limiter, "login-from:" + ratelimit::AddressKey(req.remote_address()), {60, std::chrono::minutes(1)});
        const std::string password = BodyString(req, "password");
        if (password.empty()) throw FieldError("password", "validation_required", "Cannot be blank.");
        auto rs = FindRecord(store, c, "id", claims.record_id);
        if (!rs || claims.new_email.empty() ||
            !auth::ConstantTimeEquals(auth::TokenKeyFingerprint(TokenKeyOf(*rs, rs->rows[0])),
                                      claims.key_fingerprint) ||
            util::Lower(Column(*rs, rs->rows[0], "email")) != util::Lower(claims.email)) {
          throw FieldError("token", "validation_invalid_value", kInvalidEmailChange);
        }
        if (!co_await VerifyOffThread(Column(*rs, rs->rows[0], "password"), password)) {
          throw FieldError("password", "validation_invalid_password", "Missing or invalid auth record password.");
        }
        std::vector<std::pair<std::string, util::SqlValue>> values;
        values.emplace_back("email", claims.new_email);
        values.emplace_back("verified", int64_t{1});
        values.emplace_back("tokenKey", auth::RandomSecret(50));
        auto st = co_await Update(store, publish, c, claims.record_id, std::move(values));
        if (st.code() == util::Status::Code::kConstraint) {
          throw FieldError("token", "validation_invalid_new_email", "The new email address is already in use.");
        }
        if (!st.ok()) throw http::ApiError::Internal(st.ToString());
        co_return http::Response{204, "", "", {}};
      },
      {.body_limit = 64 * 1024, .json_body = true, .tags = "confirmEmailChange"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/request-otp",
             [&, letter, limit_mail](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               if (!OtpEnabled(c))
                 throw http::ApiError::Forbidden("The collection is not configured to allow OTP authentication.");
               const std::string email = RequireEmail(req, "email");
               limit_mail(req, c, email);
               // An id either way: the answer does not tell whether the account exists.
               const std::string otp_id = util::RandomString(15, "abcdefghijklmnopqrstuvwxyz0123456789");
               if (auto rs = FindRecord(store, c, "email", email)) {
                 const std::string code = util::RandomString(static_cast<std::size_t>(OtpLength(c)), "0123456789");
                 const std::string to = Column(*rs, rs->rows[0], "email");
                 std::string hashed = co_await HashOffThread(code);
                 util::SqlParams params;
                 params.emplace_back(otp_id);
                 params.emplace_back(c.id);
                 params.emplace_back(Column(*rs, rs->rows[0], "id"));
                 params.emplace_back(std::move(hashed));
                 params.emplace_back(to);
                 params.emplace_back(NowSeconds());
                 auto st = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
                   store.Write(
                       [params](store::Tx& tx) -> util::Status {
                         if (auto r = tx.Exec(kOtpTable); !r) return r.error();
                         // Codes past their time are of no use: they go as new ones are made.
                         if (auto r = tx.Exec("DELETE FROM `_otps` WHERE `created` < ?", {NowSeconds() - 86400}); !r) {
                           return r.error();
                         }
                         auto r = tx.Exec("INSERT INTO `_otps` VALUES (?, ?, ?, ?, ?, ?)", params);
                         return r ? util::Status::Ok() : r.error();
                       },
                       std::move(done));
                 });
                 if (!st.ok()) throw http::ApiError::Internal(st.ToString());
                 SendLater(mailer,
                           letter(to, "OTP",
                                  fmt::format("Your one-time password: {}\n\nIt is valid for {} minutes. If you did "
                                              "not ask for it, ignore this message.\n",
                                              code, (OptionDuration(c, "otp", 180) + 59) / 60)));
               }
               co_return http::Response::Json(200, boost::json::serialize(boost::json::object{{"otpId", otp_id}}));
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "requestOTP"});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/auth-with-otp",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               if (!OtpEnabled(c))
                 throw http::ApiError::Forbidden("The collection is not configured to allow OTP authentication.");
               const std::string otp_id = BodyString(req, "otpId");
               const std::string code = BodyString(req, "password");
               if (otp_id.empty()) throw FieldError("otpId", "validation_required", "Cannot be blank.");
               if (code.empty()) throw FieldError("password", "validation_required", "Cannot be blank.");
               // A code has few digits: five tries per code, whatever the settings; and the login rule of
               // the settings, per code tried and address.
               Limit(limiter, "otp:" + otp_id, {5, std::chrono::minutes(15)});
               const auto limit_headers = limits.CheckLogin(req, c, "authWithOTP", otp_id);
               const auto fail = [&limit_headers] {
                 auto e = http::ApiError::BadRequest("Failed to authenticate.");
                 e.headers = limit_headers;
                 return e;
               };
               auto otp = store.Query(
                   "SELECT `recordRef`, `password`, `created`, `sentTo` FROM `_otps` WHERE `id` = ? AND "
                   "`collectionRef` = ?",
                   {otp_id, c.id});
               const bool found = otp && !otp->rows.empty();
               const std::string hash = found ? Column(*otp, otp->rows[0], "password") : DummyHash();
               const bool ok = co_await VerifyOffThread(hash, code);
               if (!found || !ok) throw fail();
               const int64_t created = std::get<int64_t>(otp->rows[0][2]);
               if (NowSeconds() - created > OptionDuration(c, "otp", 180)) throw fail();
               const std::string record_id = Column(*otp, otp->rows[0], "recordRef");
               auto rs = FindRecord(store, c, "id", record_id);
               if (!rs) throw fail();
               // Used once; the code went to the address, which proves it.
               const bool proves =
                   util::Lower(Column(*rs, rs->rows[0], "email")) == util::Lower(Column(*otp, otp->rows[0], "sentTo"));
               auto changes = std::make_shared<std::vector<RecordChange>>();
               auto st = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
                 store.Write(
                     [otp_id, record_id, proves, &c, changes](store::Tx& tx) -> util::Status {
                       // Exactly one request may use a code.
                       auto r = tx.Exec("DELETE FROM `_otps` WHERE `id` = ?", {otp_id});
                       if (!r) return r.error();
                       if (*r != 1) return util::Status::NotFound("the code was used already");
                       if (!proves) return util::Status::Ok();
                       util::SqlParams params;
                       const std::string sets = "`verified` = 1" + schema::UpdatedDatesSql(c, params);
                       params.emplace_back(record_id);
                       auto u = tx.Exec(
                           fmt::format("UPDATE `{}` SET {} WHERE `id` = ? AND `verified` = 0", c.name, sets), params);
                       if (!u) return u.error();
                       return *u > 0 ? AddRecordChange(tx, c, "update", record_id, *changes) : util::Status::Ok();
                     },
                     PublishThen(publish, changes, std::move(done)));
               });
               if (st.code() == util::Status::Code::kNotFound) throw fail();
               if (!st.ok()) throw http::ApiError::Internal(st.ToString());
               rs = FindRecord(store, c, "id", record_id);
               if (!rs) throw fail();
               RequireAuthRule(store, *snap, c, *rs, rs->rows[0]);
               auto res = AuthResponse(tokens, c, *rs, rs->rows[0]);
               res.headers.insert(res.headers.end(), limit_headers.begin(), limit_headers.end());
               co_return res;
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "authWithOTP,auth", .tags_in_handler = true});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/impersonate/{id}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               auto who = Authenticate(req, snap, store, tokens);
               if (!who) throw http::ApiError{401, "The request requires valid record authorization token.", {}, {}};
               if (!who->superuser)
                 throw http::ApiError::Forbidden("The request requires superuser authorization token.");
               const auto& c = RequireAuthCollection(*snap, req.Param("collection"));
               int64_t duration = 0;
               if (req.json().is_object()) {
                 if (auto it = req.json().as_object().find("duration"); it != req.json().as_object().end()) {
                   const auto& v = it->value();
                   const double d = v.is_number() ? v.to_number<double>() : -1;
                   if (d < 0) {
                     throw FieldError("duration", "validation_min_greater_equal_than_required",
                                      "Must be no less than 0.");
                   }
                   if (d > kMaxImpersonationSeconds) {
                     throw FieldError("duration", "validation_max_less_equal_than_required",
                                      fmt::format("Must be no greater than {}.", kMaxImpersonationSeconds));
                   }
                   if (d != std::trunc(d))
                     throw FieldError("duration", "validation_invalid_value", "Must be whole seconds.");
                   duration = static_cast<int64_t>(d);
                 }
               }
               auto rs = FindRecord(store, c, "id", req.Param("id"));
               if (!rs) throw http::ApiError::NotFound();
               // Not refreshable: an impersonation ends when its token does.
               co_return AuthResponse(tokens, c, *rs, rs->rows[0], /*refreshable=*/false,
                                      duration > 0 ? duration : OptionDuration(c, "authToken", 604800));
             },
             {.body_limit = 64 * 1024, .json_body = true, .tags = "impersonate"});
}

}  // namespace strata::api
