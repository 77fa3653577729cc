// The strata command line: `strata serve` and, later, the administrative commands.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "api/health.hpp"
#include "api/metrics_route.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "obs/access_log.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "obs/process.hpp"
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

  obs::Registry metrics;
  obs::RegisterProcessMetrics(metrics);
  http::Router router;
  api::AddHealthRoutes(router, **store);
  api::AddMetricsRoute(router, metrics);

  obs::AccessLog access_log(1, *level <= obs::LogLevel::kInfo);
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
  spdlog::info("stopped");
  obs::FlushLogs();
  std::fflush(stdout);
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

  CLI11_PARSE(app, argc, argv);
  if (*serve) return Serve(serve_flags);
  return 0;
}
