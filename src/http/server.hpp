// Server: HTTP/1.1 on one io_context per thread, each thread with its own SO_REUSEPORT acceptor so
// that the kernel spreads connections and no lock is shared between threads on the request path.
// Start() and Shutdown() are called from one controlling thread; handlers run on the I/O threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/limits.hpp"
#include "http/router.hpp"
#include "http/trusted_proxy.hpp"
#include "util/status.hpp"

namespace strata::obs {
class AccessLog;
class Registry;
}  // namespace strata::obs

namespace strata::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8090;  // 0 picks a free port; see Server::port()
  unsigned threads = 0;  // 0: one per core
  std::size_t max_connections = kDefaultMaxConnections;
  std::vector<std::string> origins = {"*"};
  std::chrono::milliseconds header_timeout = kHeaderReadTimeout;
  std::chrono::milliseconds idle_timeout = kIdleTimeout;
  std::chrono::milliseconds body_timeout = kBodyReadTimeout;
  std::chrono::milliseconds shutdown_grace = kShutdownGrace;
  // Where clients' addresses come from, asked per request (settings change it while the server
  // runs); unset or null: the peer's address.
  std::function<std::shared_ptr<const TrustedProxy>()> trusted_proxy;
  // Run on each I/O thread at every housekeeping sweep (every 100 ms), for per-thread chores of
  // other modules. Must not block.
  std::function<void()> on_sweep;
  // Where the file parts of uploads are written while their request is read (routes with
  // RouteOptions::files); removed when the request ends unless the handler moved them.
  std::filesystem::path spool_dir;
  // Run for each routed request once its head is read, before its body: it may add headers to the
  // response, or throw ApiError to answer in the handler's place (429 from the rate limits), and
  // then the body is never read. The request it is given has no body.
  std::function<void(Request&, const Route&, std::vector<std::pair<std::string, std::string>>&)> before_handler;
};

class Server {
 public:
  // `router`, `metrics` and `access_log` must outlive the server.
  Server(ServerOptions options, const Router& router, obs::Registry& metrics, obs::AccessLog& access_log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening sockets and starts the I/O threads. Returns Ok, or IoError when the
  // address cannot be bound.
  util::Status Start();

  // The bound port (after Start).
  uint16_t port() const;

  // Stops accepting, lets in-flight requests finish (at most options.shutdown_grace), closes idle
  // connections, stops the threads and flushes the access log. Idempotent; blocks until done.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Raises the soft limit on open files to at least `wanted` (up to the hard limit, which root may
// also raise). Returns the limit now in force.
uint64_t RaiseFileLimit(uint64_t wanted);

}  // namespace strata::http
