#include "http/server.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <ctime>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "http/compress.hpp"
#include "http/cors.hpp"
#include "http/json_body.hpp"
#include "http/raw_request.hpp"
#include "obs/access_log.hpp"
#include "obs/metrics.hpp"
#include "util/random.hpp"

namespace strata::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
using Parser = bhttp::request_parser<bhttp::string_body>;
using RawResponse = bhttp::response<bhttp::string_body>;
using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::string_view kUnmatchedRoute = "unmatched";
constexpr std::string_view kApiCsp = "default-src 'none'; frame-ancestors 'none'";

Verb ToVerb(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Verb::kGet;
    case bhttp::verb::head:
      return Verb::kHead;
    case bhttp::verb::post:
      return Verb::kPost;
    case bhttp::verb::put:
      return Verb::kPut;
    case bhttp::verb::patch:
      return Verb::kPatch;
    case bhttp::verb::delete_:
      return Verb::kDelete;
    case bhttp::verb::options:
      return Verb::kOptions;
    default:
      return Verb::kOther;
  }
}

// End of a connection by the peer or by a deadline: a normal end of a session, not an error.
bool IsNormalEnd(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
         ec == beast::error::timeout || ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::not_connected || ec == net::error::bad_descriptor;
}

// The HTTP-date of the current second, formatted once per second per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached = -1;
  thread_local char buf[48];
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = now;
  }
  return buf;
}

// Headers every response carries.
void SetCommonHeaders(RawResponse& out, std::string_view request_id) {
  out.set(bhttp::field::date, HttpDate());
  out.set("X-Request-Id", request_id);
  out.set("X-Content-Type-Options", "nosniff");
  out.set("X-Frame-Options", "SAMEORIGIN");
  out.set("Referrer-Policy", "strict-origin-when-cross-origin");
  out.set("Content-Security-Policy", kApiCsp);
}

bool ExpectsContinue(const Parser::value_type& msg) {
  auto it = msg.find(bhttp::field::expect);
  if (it == msg.end()) return false;
  std::string_view v = it->value();
  return v.size() == 12 && beast::iequals(v, "100-continue");
}

// Half-closes the connection and drains what the client still sends for a moment, so that the
// response written just before is not destroyed by a reset when unread input remains.
net::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTimeout);
  char sink[8192];
  std::size_t total = 0;
  while (total < kLingerDrainBytes) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), kTuple);
    if (rec) break;
    total += n;
  }
  stream.socket().close(ec);
}

struct SessionState {
  beast::tcp_stream* stream;
  bool busy = false;  // between a request's header and the end of its response
};

}  // namespace

struct Worker {
  explicit Worker(obs::AccessLog& log) : log_buf(log) {}

  obs::AccessLog::Buffer log_buf;
  std::optional<tcp::acceptor> acceptor;
  // Metric handles resolved once per thread, so counting a request takes no lock.
  std::unordered_map<uint64_t, obs::Counter*> request_counters;
  std::vector<obs::Histogram*> latency;  // per route index, then one for unmatched requests
  std::unordered_set<SessionState*> sessions;
  bool stopping = false;
  std::thread thread;
  // Last, so that it is destroyed first: the coroutine frames it still holds refer to the above.
  net::io_context ioc{1};
};

struct Server::Impl {
  Impl(ServerOptions o, const Router& r, obs::Registry& m, obs::AccessLog& log)
      : opts(std::move(o)), router(r), metrics(m), access_log(log), cors(opts.origins) {
    in_flight = &metrics.GetGauge("strata_http_requests_in_flight", "HTTP requests being served.");
    rejected = &metrics.GetCounter("strata_http_connections_rejected_total",
                                   "Connections refused with 503 because the connection cap was reached.");
    metrics.AddCallbackGauge("strata_http_connections_open", "Open HTTP connections.",
                             [this] { return static_cast<double>(open_connections.load()); });
  }
  ~Impl() {
    // Acceptors before their io_contexts, also when Start failed half-way.
    for (auto& w : workers) w->acceptor.reset();
  }

  net::awaitable<void> Accept(Worker& w);
  net::awaitable<void> Reject(tcp::socket socket);
  net::awaitable<void> RunSession(Worker& w, tcp::socket socket);
  net::awaitable<bool> Serve(Worker& w, beast::tcp_stream& stream, beast::flat_buffer& buffer, Parser& parser,
                             const std::string& remote, Clock::time_point start, bool& linger);
  net::awaitable<void> WriteError(Worker& w, beast::tcp_stream& stream, int status, std::string_view message,
                                  const std::string& remote, Clock::time_point start);
  net::awaitable<void> FlushLoop(Worker& w);
  void Record(Worker& w, const Route* route, std::string_view method, Verb verb, int status, uint64_t bytes,
              std::string_view request_id, std::string_view path, std::string_view remote, Clock::time_point start);

  ServerOptions opts;
  const Router& router;
  obs::Registry& metrics;
  obs::AccessLog& access_log;
  CorsPolicy cors;
  obs::Gauge* in_flight;
  obs::Counter* rejected;
  std::atomic<std::size_t> open_connections{0};
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;
};

void Server::Impl::Record(Worker& w, const Route* route, std::string_view method, Verb verb, int status,
                          uint64_t bytes, std::string_view request_id, std::string_view path, std::string_view remote,
                          Clock::time_point start) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  const std::size_t idx = route ? route->index : router.size();
  const uint64_t key = (static_cast<uint64_t>(idx) << 24) | (static_cast<uint64_t>(verb) << 16) |
                       static_cast<uint64_t>(status & 0xffff);
  auto& counter = w.request_counters[key];
  const std::string_view label = route ? std::string_view(route->pattern) : kUnmatchedRoute;
  if (!counter) {
    counter = &metrics.GetCounter("strata_http_requests_total", "HTTP requests by route pattern, method and status.",
                                  {{"route", std::string(label)},
                                   {"method", std::string(VerbName(verb))},
                                   {"status", std::to_string(status)}});
  }
  counter->Inc();
  if (w.latency.size() <= idx) w.latency.resize(router.size() + 1, nullptr);
  if (!w.latency[idx]) {
    w.latency[idx] = &metrics.GetHistogram("strata_http_request_duration_seconds",
                                           "HTTP request latency by route pattern, from header to response sent.",
                                           {{"route", std::string(label)}});
  }
  w.latency[idx]->Observe(static_cast<double>(micros) / 1e6);
  w.log_buf.Append({.request_id = request_id,
                    .method = method,
                    .route = route ? std::string_view(route->pattern) : std::string_view{},
                    .path = path,
                    .status = status,
                    .bytes = bytes,
                    .duration_us = static_cast<uint64_t>(micros),
                    .remote = remote});
}

net::awaitable<void> Server::Impl::WriteError(Worker& w, beast::tcp_stream& stream, int status,
                                              std::string_view message, const std::string& remote,
                                              Clock::time_point start) {
  const std::string request_id = util::NewRequestId();
  RawResponse out{static_cast<bhttp::status>(status), 11};
  SetCommonHeaders(out, request_id);
  out.set(bhttp::field::content_type, kJsonContentType);
  out.body() = ErrorJson(status, message);
  out.keep_alive(false);
  out.prepare_payload();
  stream.expires_after(kWriteTimeout);
  co_await bhttp::async_write(stream, out, kTuple);
  Record(w, nullptr, "", Verb::kOther, status, out.body().size(), request_id, "", remote, start);
}

net::awaitable<bool> Server::Impl::Serve(Worker& w, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                         Parser& parser, const std::string& remote, Clock::time_point start,
                                         bool& linger) {
  auto& msg = parser.get();
  const Verb verb = ToVerb(msg.method());
  const std::string_view target = msg.target();
  const auto qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  const std::string_view query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);

  std::string request_id;
  if (auto it = msg.find("X-Request-Id"); it != msg.end() && util::IsValidRequestId(it->value())) {
    request_id = std::string(it->value());
  } else {
    request_id = util::NewRequestId();
  }
  auto origin_it = msg.find(bhttp::field::origin);
  const std::string_view origin = origin_it == msg.end() ? std::string_view{} : std::string_view(origin_it->value());
  const bool preflight =
      verb == Verb::kOptions && !origin.empty() && msg.find(bhttp::field::access_control_request_method) != msg.end();

  Router::Match match;
  if (!preflight) match = router.Find(verb, path);
  const Route* route = match.kind == Router::Match::Kind::kFound ? match.route : nullptr;

  std::optional<Response> res;
  // The body, within the route's limit. A declared length over it is refused before reading.
  if (!parser.is_done()) {
    const std::size_t limit = route ? route->options.body_limit : kDefaultBodyLimit;
    const auto declared = parser.content_length();
    if (declared && *declared > limit) {
      res = Response::Json(413, ErrorJson(413, "Request entity too large."));
      linger = true;
    } else {
      if (ExpectsContinue(msg)) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, msg.version()};
        stream.expires_after(kWriteTimeout);
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, kTuple);
        if (cec) co_return false;
      }
      parser.body_limit(limit);
      stream.expires_after(opts.body_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (ec == bhttp::error::body_limit) {
        res = Response::Json(413, ErrorJson(413, "Request entity too large."));
        linger = true;
      } else if (ec == beast::error::timeout) {
        res = Response::Json(408, ErrorJson(408, "Timed out reading the request body."));
        linger = true;
      } else if (ec && IsNormalEnd(ec)) {
        co_return false;  // the client left mid-body: nobody to answer
      } else if (ec) {
        res = Response::Json(400, ErrorJson(400, "Malformed HTTP request body."));
        linger = true;
      }
    }
  }

  if (!res) {
    if (preflight) {
      Response r{204, "", "", {}};
      auto allow_headers = msg.find(bhttp::field::access_control_request_headers);
      r.headers = cors.PreflightHeaders(origin, allow_headers == msg.end() ? std::string_view{} : std::string_view(allow_headers->value()));
      res = std::move(r);
    } else if (match.kind == Router::Match::Kind::kNotFound) {
      res = ApiError::NotFound().ToResponse();
    } else if (match.kind == Router::Match::Kind::kMethodNotAllowed) {
      res = Response::Json(405, ErrorJson(405, "Method not allowed."));
      res->headers.emplace_back("Allow", std::move(match.allow));
    } else {
      const detail::RawRequest raw{msg};
      Request req(raw, verb, path, query, request_id, remote);
      req.set_params(std::move(match.params));
      if (route->options.json_body) {
        auto parsed = ParseJsonBody(msg.body());
        if (parsed) {
          req.set_json(std::move(*parsed));
        } else {
          res = parsed.error().ToResponse();
        }
      }
      if (!res) {
        try {
          res = co_await route->handler(req);
        } catch (const ApiError& e) {
          if (e.status >= 500) spdlog::error("request {} {} {}: {}", request_id, msg.method_string(), path, e.detail);
          res = e.ToResponse();
        } catch (const std::exception& e) {
          spdlog::error("request {} {} {}: unhandled exception: {}", request_id, msg.method_string(), path, e.what());
          res = ApiError::Internal(e.what()).ToResponse();
        }
      }
    }
  }

  RawResponse out{static_cast<bhttp::status>(res->status), msg.version()};
  SetCommonHeaders(out, request_id);
  if (!res->content_type.empty() && res->status != 204 && res->status != 304) {
    out.set(bhttp::field::content_type, res->content_type);
  }
  std::string vary;
  if (!origin.empty() && !preflight) {
    if (auto allow = cors.AllowOrigin(origin)) {
      out.set(bhttp::field::access_control_allow_origin, *allow);
      out.set(bhttp::field::access_control_expose_headers, "X-Request-Id");
    }
  }
  if (cors.varies_by_origin()) vary = "Origin";
  for (auto& [name, value] : res->headers) out.set(name, value);
  if (res->body.size() >= kCompressMinBytes && out.find(bhttp::field::content_encoding) == out.end()) {
    vary += vary.empty() ? "Accept-Encoding" : ", Accept-Encoding";
    auto ae = msg.find(bhttp::field::accept_encoding);
    if (ae != msg.end() && AcceptsGzip(ae->value())) {
      if (auto gz = Gzip(res->body)) {
        res->body = std::move(*gz);
        out.set(bhttp::field::content_encoding, "gzip");
      }
    }
  }
  if (!vary.empty()) out.set(bhttp::field::vary, vary);
  out.body() = std::move(res->body);
  const bool keep = !linger && !w.stopping && msg.keep_alive();
  out.keep_alive(keep);
  out.prepare_payload();
  const uint64_t bytes = out.body().size();

  stream.expires_after(kWriteTimeout);
  boost::system::error_code wec;
  if (verb == Verb::kHead) {
    bhttp::response_serializer<bhttp::string_body> sr{out};
    auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kTuple);
    wec = ec;
  } else {
    auto [ec, n] = co_await bhttp::async_write(stream, out, kTuple);
    wec = ec;
  }
  Record(w, route, msg.method_string(), verb, res->status, bytes, request_id, path, remote, start);
  co_return !wec && keep;
}

net::awaitable<void> Server::Impl::RunSession(Worker& w, tcp::socket socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  const std::string remote = ec ? std::string() : endpoint.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  SessionState state{&stream};
  w.sessions.insert(&state);
  struct Exit {
    Worker& w;
    SessionState* state;
    std::atomic<std::size_t>& open;
    ~Exit() {
      w.sessions.erase(state);
      open.fetch_sub(1);
    }
  } on_exit{w, &state, open_connections};

  beast::flat_buffer buffer;
  bool first = true;
  bool linger = false;
  try {
    while (!w.stopping) {
      if (buffer.size() == 0) {
        // Wait for the next request: idle keep-alive time, or the header time on a new connection.
        stream.expires_after(first ? opts.header_timeout : opts.idle_timeout);
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kTuple);
        if (rec) break;
        buffer.commit(n);
      }
      first = false;
      Parser parser;
      parser.header_limit(kMaxHeaderBytes);
      // No limit while reading the header (the parser would check Content-Length against it): the
      // route decides the limit once it is known.
      parser.body_limit(boost::none);
      stream.expires_after(opts.header_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      const auto start = Clock::now();
      if (hec) {
        if (hec == bhttp::error::header_limit) {
          co_await WriteError(w, stream, 431, "Request header fields too large.", remote, start);
          linger = true;
        } else if (hec == bhttp::error::body_limit) {
          co_await WriteError(w, stream, 413, "Request entity too large.", remote, start);
          linger = true;
        } else if (!IsNormalEnd(hec)) {
          co_await WriteError(w, stream, 400, "Malformed HTTP request.", remote, start);
          linger = true;
        }
        break;
      }
      state.busy = true;
      in_flight->Add(1);
      struct Busy {
        SessionState& s;
        obs::Gauge& g;
        ~Busy() {
          s.busy = false;
          g.Add(-1);
        }
      } busy{state, *in_flight};
      const bool keep = co_await Serve(w, stream, buffer, parser, remote, start, linger);
      if (!keep) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("connection from {}: {}", remote, e.what());
  }
  if (linger) {
    co_await LingeringClose(stream);
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
}

net::awaitable<void> Server::Impl::Reject(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  RawResponse out{bhttp::status::service_unavailable, 11};
  SetCommonHeaders(out, util::NewRequestId());
  out.set(bhttp::field::content_type, kJsonContentType);
  out.set(bhttp::field::retry_after, "1");
  out.body() = ErrorJson(503, "Too many open connections, try again later.");
  out.keep_alive(false);
  out.prepare_payload();
  stream.expires_after(kLingerTimeout);
  auto [ec, n] = co_await bhttp::async_write(stream, out, kTuple);
  if (!ec) co_await LingeringClose(stream);
}

net::awaitable<void> Server::Impl::Accept(Worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(kTuple);
    if (ec) {
      if (w.stopping || ec == net::error::operation_aborted) co_return;
      // Out of descriptors or a transient failure: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(w.ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (open_connections.fetch_add(1) >= opts.max_connections) {
      open_connections.fetch_sub(1);
      rejected->Inc();
      net::co_spawn(w.ioc, Reject(std::move(socket)), net::detached);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(w.ioc, RunSession(w, std::move(socket)), net::detached);
  }
}

net::awaitable<void> Server::Impl::FlushLoop(Worker& w) {
  net::steady_timer timer(w.ioc);
  while (!w.stopping) {
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(kTuple);
    w.log_buf.Flush();
  }
}

Server::Server(ServerOptions options, const Router& router, obs::Registry& metrics, obs::AccessLog& access_log)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics, access_log)) {}

Server::~Server() { Shutdown(); }

uint16_t Server::port() const { return impl_->bound_port; }

util::Status Server::Start() {
  auto& im = *impl_;
  if (im.started) return util::Status::Internal("server already started");
  boost::system::error_code ec;
  const auto address = net::ip::make_address(im.opts.address, ec);
  if (ec) return util::Status::InvalidArgument("invalid listen address: " + im.opts.address);
  const unsigned threads = im.opts.threads ? im.opts.threads : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t wanted_files = im.opts.max_connections + 1024;
  if (const uint64_t got = RaiseFileLimit(wanted_files); got < wanted_files) {
    spdlog::warn("open file limit is {}, below the {} that {} connections need", got, wanted_files,
                 im.opts.max_connections);
  }

  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>(im.access_log);
    w->latency.resize(im.router.size() + 1, nullptr);
    auto& acc = w->acceptor.emplace(w->ioc);
    const tcp::endpoint endpoint(address, i == 0 ? im.opts.port : im.bound_port);
    acc.open(endpoint.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.set_option(ReusePort(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return util::Status::IoError("cannot listen on " + im.opts.address + ":" + std::to_string(endpoint.port()) +
                                   ": " + ec.message());
    }
    if (i == 0) im.bound_port = acc.local_endpoint().port();
    im.workers.push_back(std::move(w));
  }
  for (auto& wp : im.workers) {
    Worker& w = *wp;
    net::co_spawn(w.ioc, im.Accept(w), net::detached);
    net::co_spawn(w.ioc, im.FlushLoop(w), net::detached);
    w.thread = std::thread([&w] {
      for (;;) {
        try {
          w.ioc.run();
          break;
        } catch (const std::exception& e) {
          spdlog::error("I/O thread: {}", e.what());
        }
      }
      w.log_buf.Flush();
    });
  }
  im.started = true;
  return util::Status::Ok();
}

void Server::Shutdown() {
  auto& im = *impl_;
  if (!im.started || im.stopped) return;
  im.stopped = true;
  for (auto& wp : im.workers) {
    Worker& w = *wp;
    net::post(w.ioc, [&w] {
      w.stopping = true;
      boost::system::error_code ec;
      w.acceptor->close(ec);
      // Idle connections close now; busy ones after their response (sent with Connection: close).
      for (SessionState* s : w.sessions) {
        if (!s->busy) s->stream->cancel();
      }
    });
  }
  const auto deadline = Clock::now() + im.opts.shutdown_grace;
  while (im.open_connections.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (im.open_connections.load() > 0) {
    spdlog::warn("shutdown: closing {} connections still busy after the grace period", im.open_connections.load());
  }
  for (auto& wp : im.workers) wp->ioc.stop();
  for (auto& wp : im.workers) {
    if (wp->thread.joinable()) wp->thread.join();
    wp->acceptor.reset();
  }
}

uint64_t RaiseFileLimit(uint64_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur >= wanted) return rl.rlim_cur;
  if (rl.rlim_max < wanted) {
    rlimit raised{wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return wanted;
  }
  rl.rlim_cur = std::min<rlim_t>(wanted, rl.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

}  // namespace strata::http
