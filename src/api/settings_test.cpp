#include "api/settings.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::api {
namespace {

bool Patch(Settings& s, std::string_view json, boost::json::object* errors_out = nullptr) {
  boost::json::object errors;
  const bool ok = PatchSettings(boost::json::parse(json), s, errors);
  if (errors_out) *errors_out = errors;
  return ok;
}

TEST(Settings, DefaultsLimitLoginsAndUploadsOnly) {
  const Settings s = DefaultSettings();
  EXPECT_TRUE(s.rate_limits.enabled);
  const std::vector<std::string> login = {"users:authWithPassword", "users:auth", "*:authWithPassword", "*:auth"};
  const auto* rule = s.rate_limits.Find(login, false);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->max_requests, 5);
  EXPECT_EQ(rule->duration, 60);
  const std::vector<std::string> upload = {"posts:upload", "*:upload"};
  ASSERT_NE(s.rate_limits.Find(upload, true), nullptr);
  EXPECT_EQ(s.rate_limits.Find(upload, true)->key, "auth");
  const std::vector<std::string> list = {"posts:list", "*:list", "GET /api/collections/posts/records",
                                         "/api/collections/posts/records"};
  EXPECT_EQ(s.rate_limits.Find(list, false), nullptr);  // no general API limit by default
}

TEST(Settings, FindsByLabelOrderAudienceAndPathPrefix) {
  Settings s;
  ASSERT_TRUE(Patch(s, R"({"rateLimits":{"rules":[
    {"label":"/api/","maxRequests":100,"duration":1},
    {"label":"*:create","maxRequests":20,"duration":5,"audience":"@guest"},
    {"label":"posts:create","maxRequests":3,"duration":5,"audience":"@auth","key":"auth"},
    {"label":"POST /api/batch","maxRequests":3,"duration":1}
  ]}})"));
  const std::vector<std::string> create = {"posts:create", "*:create", "POST /api/collections/posts/records",
                                           "/api/collections/posts/records"};
  EXPECT_EQ(s.rate_limits.Find(create, true)->label, "posts:create");
  EXPECT_EQ(s.rate_limits.Find(create, false)->label, "*:create");
  const std::vector<std::string> other = {"GET /api/health", "/api/health"};
  EXPECT_EQ(s.rate_limits.Find(other, false)->label, "/api/");
  const std::vector<std::string> batch = {"POST /api/batch", "/api/batch"};
  EXPECT_EQ(s.rate_limits.Find(batch, false)->label, "POST /api/batch");
  const std::vector<std::string> outside = {"GET /_/", "/_/"};
  EXPECT_EQ(s.rate_limits.Find(outside, false), nullptr);
  // "/api" without the slash is not a prefix rule: it matches that path only.
  const std::vector<std::string> apiroot = {"GET /api", "/api"};
  EXPECT_EQ(s.rate_limits.Find(apiroot, false)->label, "/api/");
}

TEST(Settings, RefusesBadRulesWithPocketBaseErrors) {
  Settings s = DefaultSettings();
  boost::json::object errors;
  EXPECT_FALSE(Patch(s, R"({"rateLimits":{"rules":[
    {"label":"bad label!","maxRequests":0,"duration":1},
    {"label":"*:auth","maxRequests":5,"duration":60,"audience":"@everyone","key":"cookie"}
  ]}})",
                     &errors));
  const auto& rules = errors.at("rateLimits").at("rules").as_object();
  EXPECT_EQ(rules.at("0").at("label").at("code"), "validation_match_invalid");
  EXPECT_TRUE(rules.at("0").as_object().contains("maxRequests"));
  EXPECT_EQ(rules.at("1").at("audience").at("code"), "validation_in_invalid");
  EXPECT_TRUE(rules.at("1").as_object().contains("key"));
  // Nothing was applied.
  EXPECT_EQ(s.rate_limits.rules.size(), DefaultSettings().rate_limits.rules.size());

  EXPECT_FALSE(Patch(s, R"({"rateLimits":{"rules":[
    {"label":"*:auth","maxRequests":5,"duration":60},
    {"label":"*:auth","maxRequests":9,"duration":60}
  ]}})",
                     &errors));
  EXPECT_EQ(errors.at("rateLimits").at("rules").at("1").at("label").at("code"),
            "validation_conflicting_rate_limit_rule");
  EXPECT_FALSE(Patch(s, R"({"rateLimits":{"enabled":"yes"}})"));
  EXPECT_FALSE(Patch(s, R"([1,2])"));
}

TEST(Settings, TrustedProxyAsPocketBase) {
  Settings s = DefaultSettings();
  EXPECT_TRUE(s.trusted_proxy.headers.empty());
  ASSERT_TRUE(Patch(s, R"({"trustedProxy":{"headers":["X-Real-IP","X-Forwarded-For"],"useLeftmostIP":true}})"));
  EXPECT_EQ(s.trusted_proxy.headers, (std::vector<std::string>{"X-Real-IP", "X-Forwarded-For"}));
  EXPECT_TRUE(s.trusted_proxy.use_leftmost_ip);
  const auto json = SettingsToJson(s).at("trustedProxy").as_object();
  EXPECT_EQ(boost::json::serialize(json), R"({"headers":["X-Real-IP","X-Forwarded-For"],"useLeftmostIP":true})");
  boost::json::object errors;
  EXPECT_FALSE(Patch(s, R"({"trustedProxy":{"headers":["bad header:"],"useLeftmostIP":1}})", &errors));
  EXPECT_EQ(errors.at("trustedProxy").at("headers").at("code"), "validation_invalid_value");
  EXPECT_EQ(errors.at("trustedProxy").at("useLeftmostIP").at("code"), "validation_invalid_value");
  EXPECT_FALSE(Patch(s, R"({"trustedProxy":"X-Real-IP"})"));
  // Nothing was applied; an empty list turns it off.
  EXPECT_EQ(s.trusted_proxy.headers.size(), 2u);
  ASSERT_TRUE(Patch(s, R"({"trustedProxy":{"headers":[]}})"));
  EXPECT_TRUE(s.trusted_proxy.headers.empty());
}

TEST(Settings, PatchKeepsWhatItDoesNotName) {
  Settings s = DefaultSettings();
  ASSERT_TRUE(Patch(s, R"({"rateLimits":{"enabled":false}})"));
  EXPECT_FALSE(s.rate_limits.enabled);
  EXPECT_EQ(s.rate_limits.rules.size(), DefaultSettings().rate_limits.rules.size());
  ASSERT_TRUE(Patch(s, R"({"rateLimits":{"excludedIPs":["10.0.0.1"]},"meta":{"appName":"x"}})"));
  EXPECT_EQ(s.rate_limits.excluded_ips, std::vector<std::string>{"10.0.0.1"});
  // What SettingsToJson writes reads back the same.
  Settings back;
  boost::json::object errors;
  ASSERT_TRUE(PatchSettings(SettingsToJson(s), back, errors));
  EXPECT_EQ(boost::json::serialize(SettingsToJson(back)), boost::json::serialize(SettingsToJson(s)));
}

}  // namespace
}  // namespace strata::api
