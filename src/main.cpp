// The strata command line: `strata serve` and, later, the administrative commands.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "api/collections_routes.hpp"
#include "api/files_routes.hpp"
#include "api/health.hpp"
#include "api/metrics_route.hpp"
#include "api/oauth2.hpp"
#include "api/rate_limits.hpp"
#include "api/realtime.hpp"
#include "api/record_files.hpp"
#include "api/records_routes.hpp"
#include "api/settings.hpp"
#include "api/settings_routes.hpp"
#include "auth/password.hpp"
#include "auth/superusers.hpp"
#include "auth/token.hpp"
#include "cache/response_cache.hpp"
#include "files/file_store.hpp"
#include "files/images.hpp"
#include "http/json_body.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "mail/mailer.hpp"
#include "obs/access_log.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "obs/process.hpp"
#include "ratelimit/limiter.hpp"
#include "realtime/bus.hpp"
#include "schema/catalog.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace strata;  // NOLINT: the command line names many modules

struct ServeFlags {
  std::string http = "127.0.0.1:8090";
  std::string dir = "./strata_data";
  unsigned threads = 0;
  std::string origins = "*";
  std::string log_level = "info";
  std::size_t max_connections = http::kDefaultMaxConnections;
  double header_timeout = std::chrono::duration<double>(http::kHeaderReadTimeout).count();
  double idle_timeout = std::chrono::duration<double>(http::kIdleTimeout).count();
  std::string mail_capture;  // empty: <dir>/mail unless SMTP is set
  std::string smtp_url;
  std::string smtp_user;
  std::string smtp_password;
  api::MailSettings mail;
  std::string client_ip_header;
  std::size_t cache_mib = cache::kDefaultCacheBytes >> 20;
  api::RealtimeLimits realtime;
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// Splits "host:port" or "[v6]:port".
bool ParseListen(const std::string& s, std::string& host, uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned value = 0;
  const char* first = s.data() + colon + 1;
  const char* last = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int Serve(const ServeFlags& flags) {
  const auto level = obs::ParseLogLevel(flags.log_level);
  if (!level) {
    fmt::print(stderr, "invalid --log-level {:?}: use trace, debug, info, warn, error or off\n", flags.log_level);
    return 2;
  }
  http::ServerOptions options;
  if (!ParseListen(flags.http, options.address, options.port)) {
    fmt::print(stderr, "invalid --http {:?}: expected HOST:PORT\n", flags.http);
    return 2;
  }
  options.threads = flags.threads;
  options.max_connections = flags.max_connections;
  options.header_timeout = Millis(flags.header_timeout);
  options.idle_timeout = Millis(flags.idle_timeout);
  options.origins = SplitList(flags.origins);
  if (options.origins.empty()) options.origins = {"*"};
  obs::InitLogging(*level);

  // Signals are taken synchronously by this thread; the I/O threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto store = store::OpenSqliteStore({.dir = flags.dir});
  if (!store) {
    spdlog::critical("cannot open the database: {}", store.error().ToString());
    return 1;
  }

  if (auto st = auth::InitCrypto(); !st.ok()) {
    spdlog::critical("{}", st.ToString());
    return 1;
  }
  auto catalog = schema::Catalog::Open(**store);
  if (!catalog) {
    spdlog::critical("cannot load the collections: {}", catalog.error().ToString());
    return 1;
  }

  obs::Registry metrics;
  obs::RegisterProcessMetrics(metrics);
  http::Router router;
  auto tokens = auth::TokenService::Open(**store);
  if (!tokens) {
    spdlog::critical("cannot load the token keys: {}", tokens.error().ToString());
    return 1;
  }
  api::AddHealthRoutes(router, **store);
  auto settings = api::SettingsService::Open(**store);
  if (!settings) {
    spdlog::critical("cannot load the settings: {}", settings.error().ToString());
    return 1;
  }
  // Clients' addresses: the settings' trusted proxy headers, or --client-ip-header while they name
  // none.
  std::shared_ptr<const http::TrustedProxy> flag_proxy;
  if (!flags.client_ip_header.empty()) {
    flag_proxy = std::make_shared<const http::TrustedProxy>(http::TrustedProxy{{flags.client_ip_header}, false});
  }
  options.trusted_proxy = [&settings = **settings, flag_proxy]() -> std::shared_ptr<const http::TrustedProxy> {
    auto current = settings.Current();
    if (current->trusted_proxy.headers.empty()) return flag_proxy;
    return {current, &current->trusted_proxy};
  };
  auto limiter = ratelimit::MakeMemoryRateLimiter();
  api::RateLimits rate_limits(**settings, *limiter, **catalog, **store, **tokens);
  api::AddSettingsRoutes(router, **store, **catalog, **tokens, **settings);
  api::AddAuthRoutes(router, **store, **catalog, **tokens, rate_limits);
  std::unique_ptr<mail::Mailer> mailer;
  if (!flags.smtp_url.empty()) {
    mailer =
        mail::MakeSmtpMailer({.url = flags.smtp_url, .username = flags.smtp_user, .password = flags.smtp_password});
    spdlog::info("mail goes out through {}", flags.smtp_url);
  } else {
    const std::filesystem::path outbox = flags.mail_capture.empty() ? std::filesystem::path(flags.dir) / "mail"
                                                                    : std::filesystem::path(flags.mail_capture);
    mailer = mail::MakeCaptureMailer(outbox);
    spdlog::info("no SMTP server set (--smtp-url): mail is written to {}", outbox.string());
  }
  auto bus = realtime::MakeInProcessBus();
  api::Realtime realtime(*bus, **store, **catalog, **tokens, flags.realtime);
  // Every route that changes records publishes the committed changes here.
  const api::RecordChangeSink publish = [&realtime](std::vector<api::RecordChange> changes) {
    realtime.Publish(std::move(changes));
  };
  api::AddAuthFlowRoutes(router, **store, **catalog, **tokens, *limiter, rate_limits, *mailer, flags.mail, publish);
  api::AddOAuth2Routes(router, **store, **catalog, **tokens, *limiter, publish);
  auto file_store = files::OpenLocalFileStore(std::filesystem::path(flags.dir) / "storage");
  if (!file_store) {
    spdlog::critical("cannot open the file storage: {}", file_store.error().ToString());
    return 1;
  }
  if (auto st = api::CreateFilesTable(**store); !st.ok()) {
    spdlog::critical("cannot create the files table: {}", st.ToString());
    return 1;
  }
  // Collections deleted while no server ran (an import with --delete-missing) leave files behind.
  api::RemoveFilesOfDeletedCollections(**store, *(*catalog)->Current(), **file_store);
  api::AddCollectionRoutes(router, **store, **catalog, **tokens, file_store->get());
  cache::ResponseCache response_cache(**store, flags.cache_mib << 20);
  if (auto st = files::InitImages(); !st.ok()) {
    spdlog::critical("{}", st.ToString());
    return 1;
  }
  api::AddRealtimeRoutes(router, realtime);
  api::AddRecordRoutes(router, **store, **catalog, **tokens, response_cache, **file_store, &rate_limits, publish);
  metrics.AddCallbackGauge("strata_realtime_clients", "Clients connected to the realtime event stream.",
                           [&realtime] { return static_cast<double>(realtime.stats().clients); });
  metrics.AddCallbackGauge("strata_realtime_delivered", "Realtime messages queued for clients since start.",
                           [&realtime] { return static_cast<double>(realtime.stats().delivered); });
  metrics.AddCallbackGauge("strata_realtime_disconnected",
                           "Realtime clients disconnected since start for falling behind.",
                           [&realtime] { return static_cast<double>(realtime.stats().disconnected); });
  // Uploads are spooled next to the storage (so that storing them is a rename); what a crash left
  // there is removed once stale (another server may share the directory).
  options.spool_dir = std::filesystem::path(flags.dir) / "uploads";
  {
    std::error_code ec;
    std::filesystem::create_directories(options.spool_dir, ec);
    if (ec) {
      spdlog::critical("cannot create {}: {}", options.spool_dir.string(), ec.message());
      return 1;
    }
    files::RemoveStaleFiles(options.spool_dir);
  }
  api::AddFileRoutes(router, **store, **catalog, **tokens, **file_store);
  metrics.AddCallbackGauge("strata_response_cache_entries", "Answers kept by the response cache.",
                           [&response_cache] { return static_cast<double>(response_cache.stats().entries); });
  metrics.AddCallbackGauge("strata_response_cache_bytes", "Memory held by the response cache's answers.",
                           [&response_cache] { return static_cast<double>(response_cache.stats().bytes); });
  metrics.AddCallbackGauge("strata_response_cache_hits", "Reads answered from the response cache since start.",
                           [&response_cache] { return static_cast<double>(response_cache.stats().hits); });
  metrics.AddCallbackGauge("strata_response_cache_misses",
                           "Cacheable reads that had to be built since start (absent or out of date).",
                           [&response_cache] { return static_cast<double>(response_cache.stats().misses); });
  metrics.AddCallbackGauge("strata_rate_limit_keys", "Clients (keys) the rate limiter holds.",
                           [&limiter = *limiter] { return static_cast<double>(limiter.size()); });
  api::AddMetricsRoute(router, metrics);

  obs::AccessLog access_log(1, *level <= obs::LogLevel::kInfo);
  options.on_sweep = [&db = **store, &settings = **settings] {
    db.ReleaseStaleSnapshots();
    settings.Refresh();
  };
  options.before_handler = [&rate_limits](http::Request& req, const http::Route& route,
                                          std::vector<std::pair<std::string, std::string>>& headers) {
    rate_limits.Check(req, route, headers);
  };
  http::Server server(options, router, metrics, access_log);
  if (auto st = server.Start(); !st.ok()) {
    spdlog::critical("{}", st.ToString());
    return 1;
  }
  const bool v6 = options.address.find(':') != std::string::npos;
  fmt::print(stderr, "Server started at http://{}{}{}:{}\n", v6 ? "[" : "", options.address, v6 ? "]" : "",
             server.port());
  std::fflush(stderr);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.Shutdown();
  // Work still queued behind the requests: changes on their way to subscribers, and files to
  // remove after commits. Both finish before what they use goes.
  bus.reset();
  realtime.Drain();
  api::FilesPool().join();
  spdlog::info("stopped");
  obs::FlushLogs();
  std::fflush(stdout);
  return 0;
}

// Opens the store and catalog of `dir` for an administrative command; prints the error and
// returns nullopt when that fails.
struct AdminContext {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<schema::Catalog> catalog;
};
std::optional<AdminContext> OpenAdmin(const std::string& dir) {
  obs::InitLogging(obs::LogLevel::kWarn);
  if (auto st = auth::InitCrypto(); !st.ok()) {
    fmt::print(stderr, "{}\n", st.ToString());
    return std::nullopt;
  }
  auto store = store::OpenSqliteStore({.dir = dir});
  if (!store) {
    fmt::print(stderr, "cannot open the database in {}: {}\n", dir, store.error().ToString());
    return std::nullopt;
  }
  auto catalog = schema::Catalog::Open(**store);
  if (!catalog) {
    fmt::print(stderr, "cannot load the collections: {}\n", catalog.error().ToString());
    return std::nullopt;
  }
  return AdminContext{std::move(*store), std::move(*catalog)};
}

int SuperuserUpsert(const std::string& dir, const std::string& email, const std::string& password) {
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  if (auto st = auth::UpsertSuperuser(*ctx->store, email, password); !st.ok()) {
    fmt::print(stderr, "cannot save the superuser: {}\n", st.message());
    return 1;
  }
  fmt::print("Superuser {} saved.\n", email);
  return 0;
}

int KeysRotate(const std::string& dir, const std::string& alg) {
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  if (auto svc = auth::TokenService::Open(*ctx->store); !svc) {  // the first key, if there is none yet
    fmt::print(stderr, "cannot load the token keys: {}\n", svc.error().ToString());
    return 1;
  }
  auto kid = auth::TokenService::Rotate(*ctx->store, alg);
  if (!kid) {
    fmt::print(stderr, "cannot rotate the token keys: {}\n", kid.error().ToString());
    return 1;
  }
  fmt::print("new {} signing key {}; earlier keys are retired and verify their tokens until these expire\n", alg, *kid);
  return 0;
}

int KeysList(const std::string& dir) {
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  auto keys = auth::TokenService::List(*ctx->store);
  if (!keys) {
    fmt::print(stderr, "cannot read the token keys: {}\n", keys.error().ToString());
    return 1;
  }
  for (const auto& k : *keys) {
    fmt::print("{}  {:<5}  created {}  {}\n", k.kid, k.alg, k.created, k.retired ? "retired" : "active");
  }
  return 0;
}

// The settings of `dir`'s database, for the settings commands; prints the error when they cannot
// be read.
std::unique_ptr<api::SettingsService> OpenSettings(store::Store& store) {
  auto settings = api::SettingsService::Open(store);
  if (!settings) {
    fmt::print(stderr, "cannot read the settings: {}\n", settings.error().ToString());
    return nullptr;
  }
  return std::move(*settings);
}

int SettingsGet(const std::string& dir) {
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  auto settings = OpenSettings(*ctx->store);
  if (!settings) return 1;
  fmt::print("{}\n", boost::json::serialize(api::SettingsToJson(*settings->Current())));
  return 0;
}

int SettingsSet(const std::string& dir, const std::string& patch) {
  auto parsed = http::ParseJsonBody(patch);
  if (!parsed) {
    fmt::print(stderr, "invalid JSON: {}\n", parsed.error().message);
    return 2;
  }
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  auto settings = OpenSettings(*ctx->store);
  if (!settings) return 1;
  api::Settings next = *settings->Current();
  boost::json::object errors;
  if (!api::PatchSettings(*parsed, next, errors)) {
    fmt::print(stderr, "invalid settings: {}\n", boost::json::serialize(errors));
    return 2;
  }
  if (auto st = settings->SaveAndWait(next); !st.ok()) {
    fmt::print(stderr, "cannot save the settings: {}\n", st.ToString());
    return 1;
  }
  fmt::print("{}\n", boost::json::serialize(api::SettingsToJson(next)));
  return 0;
}

int CollectionsExport(const std::string& dir) {
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  boost::json::array out;
  for (const auto& c : ctx->catalog->Current()->collections()) out.emplace_back(schema::CollectionToJson(c));
  fmt::print("{}\n", boost::json::serialize(out));
  return 0;
}

int CollectionsImport(const std::string& dir, const std::string& file, bool delete_missing) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "cannot read {}\n", file);
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = http::ParseJsonBody(text);
  if (!parsed) {
    fmt::print(stderr, "{}: {}\n", file, parsed.error().message);
    return 1;
  }
  boost::json::array items;
  if (parsed->is_array()) {
    items = parsed->as_array();
  } else if (parsed->is_object() && parsed->as_object().contains("collections") &&
             parsed->as_object().at("collections").is_array()) {
    items = parsed->as_object().at("collections").as_array();
  } else {
    fmt::print(stderr, "{}: expected an array of collections or {{\"collections\": [...]}}\n", file);
    return 1;
  }
  auto ctx = OpenAdmin(dir);
  if (!ctx) return 1;
  auto result = schema::Wait(
      [&](schema::ChangeDone done) { ctx->catalog->Import(std::move(items), delete_missing, std::move(done)); });
  if (!result.status.ok()) {
    fmt::print(stderr, "import failed: {}\n", result.status.message());
    if (!result.errors.empty()) fmt::print(stderr, "{}\n", boost::json::serialize(result.errors));
    return 1;
  }
  fmt::print("Imported {} collections.\n", ctx->catalog->Current()->collections().size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Strata: an application backend in one binary."};
  app.require_subcommand(1);

  ServeFlags serve_flags;
  auto* serve = app.add_subcommand("serve", "Start the HTTP server.");
  serve->add_option("--http", serve_flags.http, "Address to listen on, HOST:PORT (port 0 picks a free one).")
      ->capture_default_str();
  serve->add_option("--dir", serve_flags.dir, "Data directory (created if missing).")->capture_default_str();
  serve->add_option("--threads", serve_flags.threads, "I/O threads (0: one per core).")->capture_default_str();
  serve->add_option("--origins", serve_flags.origins, "CORS allowed origins, comma-separated, or *.")
      ->capture_default_str();
  serve->add_option("--log-level", serve_flags.log_level, "trace, debug, info, warn, error or off.")
      ->capture_default_str();
  serve->add_option("--max-connections", serve_flags.max_connections, "Open connection cap; more get 503.")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve->add_option("--header-timeout", serve_flags.header_timeout, "Seconds to receive a request's header.")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  serve->add_option("--idle-timeout", serve_flags.idle_timeout, "Seconds a keep-alive connection may stay idle.")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));

  serve->add_option("--client-ip-header", serve_flags.client_ip_header,
                    "Behind a reverse proxy: the header with the client address (X-Real-IP, or X-Forwarded-For's "
                    "last entry), while the settings' trustedProxy names none.");
  serve
      ->add_option("--cache-size", serve_flags.cache_mib,
                   "MiB of memory for kept answers of record lists and views; 0 turns the response cache off.")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  serve
      ->add_option("--realtime-queue", serve_flags.realtime.max_queued_messages,
                   "Realtime messages a client may have waiting before it is disconnected as too slow.")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  serve
      ->add_option("--realtime-backlog", serve_flags.realtime.max_pending_events,
                   "Realtime events an I/O thread may have waiting to be fanned out; past that, its clients are "
                   "disconnected as too slow.")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  serve
      ->add_option("--realtime-database-backlog", serve_flags.realtime.max_database_backlog,
                   "Realtime deliveries that may wait for the database (rules reading other rows, expand); past "
                   "that, the clients whose events would wait are disconnected as too slow.")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  serve
      ->add_option("--realtime-message-rate", serve_flags.realtime.max_client_messages_per_second,
                   "Messages a WebSocket client may send a second (and at once); each one past that is refused.")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  serve->add_option("--smtp-url", serve_flags.smtp_url, "SMTP server for outgoing mail: smtp://HOST:PORT or smtps://.");
  serve->add_option("--smtp-user", serve_flags.smtp_user, "SMTP user name.");
  serve->add_option("--smtp-password", serve_flags.smtp_password, "SMTP password.");
  serve->add_option("--mail-capture", serve_flags.mail_capture,
                    "Without SMTP: the folder mail is written to, one .eml file per message (default DIR/mail).");
  serve->add_option("--mail-from", serve_flags.mail.from, "Sender of outgoing mail.")->capture_default_str();
  serve->add_option("--app-name", serve_flags.mail.app_name, "Application name used in mail.")->capture_default_str();
  serve->add_option("--app-url", serve_flags.mail.app_url, "Public URL of the application, for links in mail.")
      ->capture_default_str();

  std::string admin_dir = "./strata_data";
  auto* superuser = app.add_subcommand("superuser", "Manage superuser accounts.");
  superuser->require_subcommand(1);
  std::string su_email, su_password;
  auto* upsert = superuser->add_subcommand("upsert", "Create a superuser, or set the password of an existing one.");
  upsert->add_option("email", su_email, "Email address.")->required();
  upsert->add_option("password", su_password, "Password (8 to 71 characters).")->required();
  upsert->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();

  auto* collections = app.add_subcommand("collections", "Import and export collection definitions.");
  collections->require_subcommand(1);
  std::string import_file;
  bool delete_missing = false;
  auto* import = collections->add_subcommand("import", "Create and update collections from a JSON file.");
  import->add_option("file", import_file, "JSON file: an array of collections (as exported).")->required();
  import->add_flag("--delete-missing", delete_missing, "Also delete collections absent from the file.");
  import->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();
  auto* export_cmd = collections->add_subcommand("export", "Print every collection as a JSON array.");
  export_cmd->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();

  auto* keys = app.add_subcommand("keys", "Manage the keys that sign auth tokens.");
  keys->require_subcommand(1);
  std::string key_alg = "EdDSA";
  auto* rotate = keys->add_subcommand(
      "rotate", "Sign new tokens with a new key; tokens signed by earlier keys stay valid until they expire.");
  rotate->add_option("--alg", key_alg, "EdDSA (Ed25519, published in the JWKS) or HS256 (a shared secret).")
      ->capture_default_str()
      ->check(CLI::IsMember({"EdDSA", "HS256"}));
  rotate->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();
  auto* list_keys = keys->add_subcommand("list", "List the signing keys.");
  list_keys->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();

  auto* settings_cmd = app.add_subcommand(
      "settings", "Show or change the settings (rate limits), also while a server runs on the directory.");
  settings_cmd->require_subcommand(1);
  std::string settings_patch;
  auto* settings_get = settings_cmd->add_subcommand("get", "Print the settings as JSON.");
  settings_get->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();
  auto* settings_set = settings_cmd->add_subcommand(
      "set", "Change the settings: a JSON object with the keys to change, as PATCH /api/settings takes.");
  settings_set->add_option("json", settings_patch, "e.g. '{\"rateLimits\":{\"enabled\":false}}'")->required();
  settings_set->add_option("--dir", admin_dir, "Data directory.")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*serve) return Serve(serve_flags);
  if (*upsert) return SuperuserUpsert(admin_dir, su_email, su_password);
  if (*import) return CollectionsImport(admin_dir, import_file, delete_missing);
  if (*export_cmd) return CollectionsExport(admin_dir);
  if (*rotate) return KeysRotate(admin_dir, key_alg);
  if (*list_keys) return KeysList(admin_dir);
  if (*settings_get) return SettingsGet(admin_dir);
  if (*settings_set) return SettingsSet(admin_dir, settings_patch);
  return 0;
}
