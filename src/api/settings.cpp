#include "api/settings.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cmath>
#include <future>
#include <optional>

#include "store/store.hpp"

namespace strata::api {
namespace {

constexpr std::string_view kLoad = "SELECT `value` FROM `_params` WHERE `id` = 'settings'";
constexpr std::string_view kSave =
    "INSERT INTO `_params` (`id`, `value`) VALUES ('settings', ?) "
    "ON CONFLICT (`id`) DO UPDATE SET `value` = excluded.`value`";
// Bounds on what a rule may say.
constexpr std::size_t kMaxRules = 200;
constexpr std::size_t kMaxLabelLength = 255;
constexpr int64_t kMaxDurationSeconds = 7 * 24 * 3600;
constexpr std::size_t kMaxProxyHeaders = 10;
constexpr std::size_t kMaxHeaderNameLength = 64;
constexpr int64_t kMaxRequestsPerRule = 1'000'000'000;

bool Word(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool PathText(std::string_view s) {
  return !s.empty() && s.front() == '/' && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/' || c == '-';
  });
}

// PocketBase's label forms: "tag", "name:action", "*:action", "/path…", "METHOD /path…".
bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (PathText(label) || Word(label)) return true;
  if (const auto space = label.find(' '); space != std::string_view::npos) {
    return Word(label.substr(0, space)) && PathText(label.substr(space + 1));
  }
  if (const auto colon = label.find(':'); colon != std::string_view::npos) {
    const auto head = label.substr(0, colon);
    return (head == "*" || Word(head)) && Word(label.substr(colon + 1));
  }
  return false;
}

boost::json::object Error(std::string_view code, std::string_view message) {
  return {{"code", code}, {"message", message}};
}

// An integer from a JSON number (whole), or nullopt.
std::optional<int64_t> WholeNumber(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v.as_uint64());
  if (v.is_double()) {
    const double d = v.as_double();
    // Within int64's range before converting (beyond it the conversion is undefined).
    if (!(d > -9.2e18 && d < 9.2e18) || d != std::trunc(d)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool ParseRule(const boost::json::value& v, RateLimitRule& rule, boost::json::object& errors) {
  if (!v.is_object()) {
    errors["label"] = Error("validation_invalid_value", "Must be a rule object.");
    return false;
  }
  const auto& o = v.as_object();
  auto text = [&](const char* key, std::string& out) {
    if (auto it = o.find(key); it != o.end() && !it->value().is_null()) {
      if (!it->value().is_string()) {
        errors[key] = Error("validation_invalid_value", "Must be a string.");
      } else {
        out = std::string(it->value().as_string());
      }
    }
  };
  auto number = [&](const char* key, int64_t& out, int64_t max) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) {
      errors[key] = Error("validation_required", "Cannot be blank.");
      return;
    }
    const auto n = WholeNumber(it->value());
    if (!n || *n < 1 || *n > max) {
      errors[key] =
          Error("validation_min_greater_equal_than_required", fmt::format("Must be a whole number from 1 to {}.", max));
      return;
    }
    out = *n;
  };
  text("label", rule.label);
  text("audience", rule.audience);
  text("key", rule.key);
  if (rule.key.empty()) rule.key = "ip";
  number("duration", rule.duration, kMaxDurationSeconds);
  number("maxRequests", rule.max_requests, kMaxRequestsPerRule);
  if (!errors.contains("label")) {
    if (rule.label.empty()) {
      errors["label"] = Error("validation_required", "Cannot be blank.");
    } else if (!ValidLabel(rule.label)) {
      errors["label"] = Error("validation_match_invalid", "Must be in a valid format.");
    }
  }
  if (!errors.contains("audience") && rule.audience != "" && rule.audience != "@guest" && rule.audience != "@auth") {
    errors["audience"] = Error("validation_in_invalid", "Must be a valid value.");
  }
  if (!errors.contains("key") && rule.key != "ip" && rule.key != "auth" && rule.key != "ip+auth") {
    errors["key"] = Error("validation_in_invalid", "Must be one of ip, auth, ip+auth.");
  }
  return errors.empty();
}

bool PatchRateLimits(const boost::json::value& v, RateLimitSettings& rl, boost::json::object& errors) {
  if (!v.is_object()) {
    errors["enabled"] = Error("validation_invalid_value", "Must be an object.");
    return false;
  }
  const auto& o = v.as_object();
  if (auto it = o.find("enabled"); it != o.end()) {
    if (!it->value().is_bool()) {
      errors["enabled"] = Error("validation_invalid_value", "Must be a boolean.");
    } else {
      rl.enabled = it->value().as_bool();
    }
  }
  if (auto it = o.find("excludedIPs"); it != o.end() && !it->value().is_null()) {
    std::vector<std::string> ips;
    if (it->value().is_array()) {
      for (const auto& ip : it->value().as_array()) {
        if (!ip.is_string()) break;
        ips.emplace_back(ip.as_string());
      }
    }
    if (!it->value().is_array() || ips.size() != it->value().as_array().size()) {
      errors["excludedIPs"] = Error("validation_invalid_value", "Must be an array of addresses.");
    } else {
      rl.excluded_ips = std::move(ips);
    }
  }
  if (auto it = o.find("rules"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_array() || it->value().as_array().size() > kMaxRules) {
      errors["rules"] =
          Error("validation_invalid_value", fmt::format("Must be an array of at most {} rules.", kMaxRules));
    } else {
      std::vector<RateLimitRule> rules;
      boost::json::object rule_errors;
      const auto& arr = it->value().as_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        RateLimitRule rule;
        boost::json::object e;
        if (!ParseRule(arr[i], rule, e)) {
          rule_errors[std::to_string(i)] = std::move(e);
          continue;
        }
        // As PocketBase: one rule per label and audience.
        const bool taken = std::any_of(rules.begin(), rules.end(), [&](const RateLimitRule& r) {
          return r.label == rule.label && r.audience == rule.audience;
        });
        if (taken) {
          rule_errors[std::to_string(i)] = boost::json::object{
              {"label", Error("validation_conflicting_rate_limit_rule",
                              fmt::format("Rate limit rule configuration with label {} already exists or conflicts "
                                          "with another rule.",
                                          rule.label))}};
          continue;
        }
        rules.push_back(std::move(rule));
      }
      if (!rule_errors.empty()) {
        errors["rules"] = std::move(rule_errors);
      } else {
        rl.rules = std::move(rules);
      }
    }
  }
  return errors.empty();
}

}  // namespace

const RateLimitRule* RateLimitSettings::Find(std::span<const std::string> labels, bool authenticated) const {
  auto audience_ok = [&](const RateLimitRule& r) {
    return r.audience.empty() || r.audience == (authenticated ? "@auth" : "@guest");
  };
  for (const auto& label : labels) {
    for (const auto& r : rules) {
      if (r.label == label && audience_ok(r)) return &r;
    }
    // A path prefix rule ("/api/") covers the label's path and everything under it.
    for (const auto& r : rules) {
      if (r.label.ends_with('/') && (label + "/").starts_with(r.label) && audience_ok(r)) return &r;
    }
  }
  return nullptr;
}

Settings DefaultSettings() {
  Settings s;
  s.rate_limits.enabled = true;
  s.rate_limits.rules = {
      {.label = "*:authWithPassword", .audience = "", .duration = 60, .max_requests = 5, .key = "ip"},
      {.label = "*:authWithOTP", .audience = "", .duration = 60, .max_requests = 5, .key = "ip"},
      {.label = "*:upload", .audience = "", .duration = 60, .max_requests = 10, .key = "auth"},
  };
  return s;
}

boost::json::object SettingsToJson(const Settings& s) {
  boost::json::array rules;
  for (const auto& r : s.rate_limits.rules) {
    rules.emplace_back(boost::json::object{{"label", r.label},
                                           {"audience", r.audience},
                                           {"duration", r.duration},
                                           {"maxRequests", r.max_requests},
                                           {"key", r.key}});
  }
  boost::json::array excluded;
  for (const auto& ip : s.rate_limits.excluded_ips) excluded.emplace_back(ip);
  boost::json::array headers;
  for (const auto& h : s.trusted_proxy.headers) headers.emplace_back(h);
  return {{"rateLimits",
           {{"enabled", s.rate_limits.enabled}, {"rules", std::move(rules)}, {"excludedIPs", std::move(excluded)}}},
          {"trustedProxy", {{"headers", std::move(headers)}, {"useLeftmostIP", s.trusted_proxy.use_leftmost_ip}}}};
}

// A header name as RFC 9110 spells it (a token).
bool IsHeaderName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxHeaderNameLength && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool PatchTrustedProxy(const boost::json::value& v, http::TrustedProxy& proxy, boost::json::object& errors) {
  if (!v.is_object()) {
    errors["headers"] = Error("validation_invalid_value", "Must be an object.");
    return false;
  }
  const auto& o = v.as_object();
  if (auto it = o.find("headers"); it != o.end() && !it->value().is_null()) {
    std::vector<std::string> headers;
    const bool array = it->value().is_array() && it->value().as_array().size() <= kMaxProxyHeaders;
    if (array) {
      for (const auto& h : it->value().as_array()) {
        if (!h.is_string() || !IsHeaderName(h.as_string())) break;
        headers.emplace_back(h.as_string());
      }
    }
    if (!array || headers.size() != it->value().as_array().size()) {
      errors["headers"] = Error("validation_invalid_value",
                                fmt::format("Must be an array of at most {} header names.", kMaxProxyHeaders));
    } else {
      proxy.headers = std::move(headers);
    }
  }
  if (auto it = o.find("useLeftmostIP"); it != o.end()) {
    if (!it->value().is_bool()) {
      errors["useLeftmostIP"] = Error("validation_invalid_value", "Must be a boolean.");
    } else {
      proxy.use_leftmost_ip = it->value().as_bool();
    }
  }
  return errors.empty();
}

bool PatchSettings(const boost::json::value& body, Settings& s, boost::json::object& errors) {
  if (!body.is_object()) {
    errors["rateLimits"] = Error("validation_invalid_value", "The settings must be a JSON object.");
    return false;
  }
  Settings next = s;
  if (auto it = body.as_object().find("rateLimits"); it != body.as_object().end()) {
    boost::json::object e;
    if (!PatchRateLimits(it->value(), next.rate_limits, e)) errors["rateLimits"] = std::move(e);
  }
  if (auto it = body.as_object().find("trustedProxy"); it != body.as_object().end()) {
    boost::json::object e;
    if (!PatchTrustedProxy(it->value(), next.trusted_proxy, e)) errors["trustedProxy"] = std::move(e);
  }
  if (!errors.empty()) return false;
  s = std::move(next);
  return true;
}

util::Result<std::unique_ptr<SettingsService>> SettingsService::Open(store::Store& store) {
  std::unique_ptr<SettingsService> service(new SettingsService(store));
  std::lock_guard lock(service->mu_);
  if (auto st = service->Load(); !st.ok()) return std::unexpected(st);
  return service;
}

util::Status SettingsService::Load() {
  const uint64_t mark = store_.ChangeMark();
  auto rs = store_.Query(kLoad);
  if (!rs) return rs.error();
  Settings s = DefaultSettings();
  if (!rs->rows.empty()) {
    const auto* text = std::get_if<std::string>(&rs->rows[0][0]);
    boost::system::error_code ec;
    auto value = text ? boost::json::parse(*text, ec) : boost::json::value();
    boost::json::object errors;
    if (!text || ec || !PatchSettings(value, s, errors)) {
      // Keep serving with what was there before rather than dropping every limit.
      spdlog::error("stored settings are unreadable ({}); keeping the previous ones",
                    ec ? ec.message() : boost::json::serialize(errors));
      if (current_.load()) {
        loaded_at_ = mark;
        return util::Status::Ok();
      }
      s = DefaultSettings();
    }
  }
  current_.store(std::make_shared<const Settings>(std::move(s)), std::memory_order_release);
  loaded_at_ = mark;
  return util::Status::Ok();
}

void SettingsService::Refresh() {
  static const std::vector<std::string> kTables = {"_params"};
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || !store_.ChangedSince(kTables, loaded_at_)) return;
  if (auto st = Load(); !st.ok()) spdlog::warn("cannot reload the settings: {}", st.ToString());
}

void SettingsService::Save(const Settings& s, std::function<void(util::Status)> done) {
  std::string text = boost::json::serialize(SettingsToJson(s));
  store_.Write(
      [text = std::move(text)](store::Tx& tx) -> util::Status {
        auto r = tx.Exec(kSave, {text});
        return r ? util::Status::Ok() : r.error();
      },
      [this, s, done = std::move(done)](util::Status st) {
        if (st.ok()) current_.store(std::make_shared<const Settings>(s), std::memory_order_release);
        done(std::move(st));
      });
}

util::Status SettingsService::SaveAndWait(const Settings& s) {
  std::promise<util::Status> promise;
  auto future = promise.get_future();
  Save(s, [&promise](util::Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

}  // namespace strata::api
