// Application settings, kept in the database (`_params`, id "settings") so that every instance
// and the command line share them, and served by PocketBase's settings API (GET and PATCH
// /api/settings, superusers only). They hold the rate limit rules.
//
// A rule follows PocketBase's: a label (a tag such as "users:create" or "*:auth", a path prefix
// ending in "/", "/api/batch", or "POST /api/…"), an audience ("" everyone, "@guest", "@auth"),
// and at most maxRequests requests per duration seconds. Beyond PocketBase, "key" says whose
// requests are counted together: "ip" (the client address, the default), "auth" (the
// authenticated record; guests by address) or "ip+auth" (both).
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/trusted_proxy.hpp"
#include "util/status.hpp"

namespace strata::store {
class Store;
}

namespace strata::api {

struct RateLimitRule {
  std::string label;
  std::string audience;  // "", "@guest" or "@auth"
  int64_t duration = 0;  // seconds
  int64_t max_requests = 0;
  std::string key = "ip";  // "ip", "auth" or "ip+auth"
};

struct RateLimitSettings {
  bool enabled = true;
  std::vector<RateLimitRule> rules;
  std::vector<std::string> excluded_ips;  // never limited (monitoring, trusted back ends)

  // PocketBase's rule lookup: the first label (in order) with a rule of the same label for the
  // requester's audience, or whose path prefix rule ("/api/") covers it; nullptr if none.
  const RateLimitRule* Find(std::span<const std::string> labels, bool authenticated) const;
};

struct Settings {
  RateLimitSettings rate_limits;
  http::TrustedProxy trusted_proxy;  // "trustedProxy": {"headers": [...], "useLeftmostIP": false}
};

// The settings of a new installation. Rate limits are on, with the limits no honest user meets:
// 5 password or one-time-code logins a minute per identity and address, and 10 file uploads a
// minute per user. A general per-address API limit is left out: behind NAT many users share one
// address (add {"label": "/api/", "maxRequests": 100, "duration": 1} to have one).
Settings DefaultSettings();

boost::json::object SettingsToJson(const Settings& s);

// Applies a PATCH body (the keys it has; others stay) to `s`. Returns false with PocketBase's
// validation error map in `errors` when a value is invalid.
bool PatchSettings(const boost::json::value& body, Settings& s, boost::json::object& errors);

// The current settings, shared by the threads of the server; re-read when the stored row
// changes (a PATCH here, another instance, or the command line). Thread-safe.
class SettingsService {
 public:
  // Reads the stored settings (creating the row with the defaults when missing).
  static util::Result<std::unique_ptr<SettingsService>> Open(store::Store& store);

  std::shared_ptr<const Settings> Current() const { return current_.load(std::memory_order_acquire); }

  // Re-reads the stored settings if the row may have changed since they were loaded. Cheap when
  // nothing changed; I/O threads call it at their housekeeping sweep.
  void Refresh();

  // Stores `s` and makes it current; `done` gets the outcome once durable (on the writer's thread).
  void Save(const Settings& s, std::function<void(util::Status)> done);
  // The same, waiting for the outcome: for the command line, never for I/O threads.
  util::Status SaveAndWait(const Settings& s);

 private:
  explicit SettingsService(store::Store& store) : store_(store) {}
  util::Status Load();

  store::Store& store_;
  std::mutex mu_;  // one loader at a time; guards loaded_at_
  std::atomic<std::shared_ptr<const Settings>> current_;
  uint64_t loaded_at_ = 0;  // the store's change mark before the last load
};

}  // namespace strata::api
