#include "http/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
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
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <ctime>
#include <iterator>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "http/compress.hpp"
#include "http/cors.hpp"
#include "http/etag.hpp"
#include "http/json_body.hpp"
#include "http/multipart.hpp"
#include "http/raw_request.hpp"
#include "http/websocket.hpp"
#include "http/websocket_serve.hpp"
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
using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::string_view kUnmatchedRoute = "unmatched";
constexpr std::string_view kApiCsp = "default-src 'none'; frame-ancestors 'none'";
// How often each I/O thread checks its connections' deadlines: the resolution of every timeout.
constexpr auto kDeadlineSweep = std::chrono::milliseconds(100);

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
         ec == net::error::operation_aborted || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::not_connected || ec == net::error::bad_descriptor;
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

bool ExpectsContinue(const Parser::value_type& msg) {
  auto it = msg.find(bhttp::field::expect);
  return it != msg.end() && beast::iequals(it->value(), "100-continue");
}

// The client's address: the peer's, or what the trusted proxy's header says (TrustedProxy).
std::string_view ClientAddress(const Parser::value_type& msg, const TrustedProxy* proxy, std::string_view peer) {
  if (!proxy) return peer;
  for (const auto& header : proxy->headers) {
    // Lines of the same name are one list, in order.
    std::string_view first, last;
    bool found = false;
    for (auto [it, end] = msg.equal_range(header); it != end; ++it) {
      if (!found) first = it->value();
      last = it->value();
      found = true;
    }
    if (!found) continue;
    std::string_view v = proxy->use_leftmost_ip ? first.substr(0, first.find(',')) : last;
    if (!proxy->use_leftmost_ip) {
      if (const auto comma = v.rfind(','); comma != std::string_view::npos) v = v.substr(comma + 1);
    }
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    boost::system::error_code ec;
    (void)net::ip::make_address(v, ec);
    return ec ? peer : v;
  }
  return peer;
}

// Response headers in the order they are sent; a handler's header replaces a default of the same
// name. Names and values are views that stay valid until the response is serialized.
class HeaderList {
 public:
  HeaderList() { items_.reserve(16); }
  // Adds a header known not to be in the list yet.
  void Add(std::string_view name, std::string_view value) { items_.emplace_back(name, value); }
  void Set(std::string_view name, std::string_view value) {
    for (auto& h : items_) {
      if (beast::iequals(h.first, name)) {
        h.second = value;
        return;
      }
    }
    items_.emplace_back(name, value);
  }
  void Remove(std::string_view name) {
    std::erase_if(items_, [&](const auto& h) { return beast::iequals(h.first, name); });
  }
  std::string_view Get(std::string_view name) const {
    for (const auto& h : items_) {
      if (beast::iequals(h.first, name)) return h.second;
    }
    return {};
  }
  const std::vector<std::pair<std::string_view, std::string_view>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> items_;
};

void AppendHeaderText(std::string& out, std::string_view text) {
  // CR and LF would split the header: a handler bug must not become response splitting.
  // One pass over the value (find_first_of would call memchr for every character).
  const std::size_t start = out.size();
  out += text;
  for (std::size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
}

// Writes the status line and headers of a response with `content_length` body bytes into `out`;
// without a length, the body is chunked (HTTP/1.0: it ends with the connection).
void SerializeHead(std::string& out, int status, const HeaderList& headers, std::optional<std::size_t> content_length,
                   bool keep_alive, bool http10) {
  out.clear();
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} ", status);
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& [name, value] : headers.items()) {
    out += name;
    out += ": ";
    AppendHeaderText(out, value);
    out += "\r\n";
  }
  if (status != 204 && status != 304 && status >= 200) {
    if (content_length) {
      fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", *content_length);
    } else if (!http10) {
      out += "Transfer-Encoding: chunked\r\n";
    }
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

// Headers every response carries; `h` must be empty.
void SetCommonHeaders(HeaderList& h, std::string_view request_id) {
  h.Add("Date", HttpDate());
  h.Add("X-Request-Id", request_id);
  h.Add("X-Content-Type-Options", "nosniff");
  h.Add("X-Frame-Options", "SAMEORIGIN");
  h.Add("Referrer-Policy", "strict-origin-when-cross-origin");
  h.Add("Content-Security-Policy", kApiCsp);
}

// One connection's state, visible to its worker for deadlines and shutdown.
struct Connection {
  tcp::socket socket;
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;
  bool busy = false;                      // between a request's header and the end of its response
  ResponseStream* stream = nullptr;       // the streamed body being sent, if any
  WebSocketSession* websocket = nullptr;  // the WebSocket session running, if any

  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  void ExpiresAfter(std::chrono::steady_clock::duration d) {
    deadline = Clock::now() + d;
    timed_out = false;
  }
};

}  // namespace

struct Worker {
  explicit Worker(obs::AccessLog& log) : log_buf(log) {}

  obs::AccessLog::Buffer log_buf;
  std::optional<tcp::acceptor> acceptor;
  // Metric handles resolved once per thread, so counting a request takes no lock.
  std::unordered_map<uint64_t, obs::Counter*> request_counters;
  std::vector<obs::Histogram*> latency;  // per route index, then one for unmatched requests
  std::unordered_set<Connection*> connections;
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
  net::awaitable<bool> Serve(Worker& w, Connection& conn, beast::flat_buffer& buffer, std::string& head, Parser& parser,
                             const std::string& remote, Clock::time_point start, bool& linger);
  net::awaitable<void> WriteError(Worker& w, Connection& conn, std::string& head, int status, std::string_view message,
                                  const std::string& remote, Clock::time_point start);
  net::awaitable<void> Housekeeping(Worker& w);
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

namespace {

// Writes a serialized head and a body (none for HEAD) within the write timeout.
net::awaitable<boost::system::error_code> WriteResponse(Connection& conn, std::string_view head,
                                                        std::string_view body) {
  conn.ExpiresAfter(kWriteTimeout);
  const std::array<net::const_buffer, 2> buffers{net::buffer(head.data(), head.size()),
                                                 net::buffer(body.data(), body.size())};
  auto [ec, n] = co_await net::async_write(conn.socket, buffers, kTuple);
  co_return ec;
}

// Writes a serialized head that a file body follows (MSG_MORE: the kernel sends them together).
net::awaitable<boost::system::error_code> WriteHeadMore(Connection& conn, std::string_view head) {
  conn.ExpiresAfter(kWriteTimeout);
  while (!head.empty()) {
    auto [ec, n] = co_await conn.socket.async_send(net::buffer(head.data(), head.size()), MSG_MORE, kTuple);
    if (ec) co_return ec;
    head.remove_prefix(n);
  }
  co_return boost::system::error_code{};
}

// Sends a file body with sendfile(2), waiting for the socket to drain whenever it is full. Each
// chunk sent moves the write deadline.
net::awaitable<boost::system::error_code> SendFile(Connection& conn, const FileBody& file) {
  boost::system::error_code ec;
  conn.socket.native_non_blocking(true, ec);
  if (ec) co_return ec;
  off_t offset = static_cast<off_t>(file.offset);
  uint64_t left = file.length;
  while (left > 0) {
    conn.ExpiresAfter(kWriteTimeout);
    const ssize_t n = ::sendfile(conn.socket.native_handle(), file.fd, &offset,
                                 static_cast<std::size_t>(std::min<uint64_t>(left, kSendFileChunkBytes)));
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
    } else if (n == 0) {
      co_return net::error::eof;  // the file is shorter than it was when the response began
    } else if (errno == EAGAIN) {
      auto [wec] = co_await conn.socket.async_wait(tcp::socket::wait_write, kTuple);
      if (wec) co_return wec;
    } else if (errno != EINTR) {
      co_return boost::system::error_code(errno, boost::system::system_category());
    }
  }
  co_return boost::system::error_code{};
}

constexpr std::size_t kMaxStreamPieces = 16;

// Sends a streamed body after its head: each chunk as it comes, while a reader watches for the
// client closing (which cancels the stream). Returns the body bytes sent.
net::awaitable<uint64_t> SendStream(Connection& conn, std::string_view head, ResponseStream& stream, bool http10) {
  conn.stream = &stream;
  struct Watch {
    bool done = false;
    net::steady_timer finished;
    explicit Watch(const net::any_io_executor& ex) : finished(ex, Clock::time_point::max()) {}
  };
  auto watch = std::make_shared<Watch>(conn.socket.get_executor());
  // The client sends nothing more on this connection: a read that ends means it has gone.
  net::co_spawn(
      conn.socket.get_executor(),
      [&conn, &stream, watch]() -> net::awaitable<void> {
        char sink[512];
        for (;;) {
          auto [ec, n] = co_await conn.socket.async_read_some(net::buffer(sink), kTuple);
          if (ec) break;
        }
        stream.Cancel();
        watch->done = true;
        watch->finished.cancel();
      },
      net::detached);
  uint64_t sent = 0;
  std::string frame;
  std::vector<std::shared_ptr<const std::string>> pieces;
  std::vector<net::const_buffer> buffers;
  bool ok = !co_await WriteResponse(conn, head, {});
  while (ok) {
    conn.deadline = Clock::time_point::max();  // waiting for events is not a stalled write
    pieces.clear();
    if (!co_await stream.Next(pieces)) break;
    std::size_t size = 0;
    for (const auto& p : pieces) size += p->size();
    if (size == 0) continue;
    frame.clear();
    if (!http10) fmt::format_to(std::back_inserter(frame), "{:x}\r\n", size);
    buffers.clear();
    if (pieces.size() > kMaxStreamPieces) {
      // Many small pieces: one copy is cheaper than sending them one buffer at a time.
      for (const auto& p : pieces) frame += *p;
      buffers.push_back(net::buffer(frame));
    } else {
      buffers.push_back(net::buffer(frame));
      for (const auto& p : pieces) buffers.push_back(net::buffer(*p));
    }
    if (!http10) buffers.push_back(net::buffer(std::string_view("\r\n")));
    conn.ExpiresAfter(kWriteTimeout);
    auto [ec, n] = co_await net::async_write(conn.socket, buffers, kTuple);
    ok = !ec;
    sent += size;
  }
  if (ok && !http10) {
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    co_await WriteResponse(conn, kLastChunk, {});
  }
  conn.stream = nullptr;
  // The reader must be gone before the connection is.
  boost::system::error_code ignored;
  conn.socket.shutdown(tcp::socket::shutdown_both, ignored);
  conn.socket.cancel(ignored);
  while (!watch->done) co_await watch->finished.async_wait(kTuple);
  co_return sent;
}

// Half-closes the connection and drains what the client still sends for a moment, so that the
// response written just before is not destroyed by a reset when unread input remains.
net::awaitable<void> LingeringClose(Connection& conn) {
  boost::system::error_code ec;
  conn.socket.shutdown(tcp::socket::shutdown_send, ec);
  // What is read is thrown away: one buffer per thread serves every draining connection.
  thread_local std::array<char, 64 * 1024> sink;
  const auto end = Clock::now() + kLingerTotal;
  std::size_t total = 0;
  while (total < kLingerDrainBytes && Clock::now() < end) {
    conn.ExpiresAfter(std::min<Clock::duration>(kLingerTimeout, end - Clock::now()));
    auto [rec, n] = co_await conn.socket.async_read_some(net::buffer(sink), kTuple);
    if (rec) break;
    total += n;
  }
  conn.socket.close(ec);
}

}  // namespace

void Server::Impl::Record(Worker& w, const Route* route, std::string_view method, Verb verb, int status, uint64_t bytes,
                          std::string_view request_id, std::string_view path, std::string_view remote,
                          Clock::time_point start) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  const std::size_t idx = route ? route->index : router.size();
  const uint64_t key =
      (static_cast<uint64_t>(idx) << 24) | (static_cast<uint64_t>(verb) << 16) | static_cast<uint64_t>(status & 0xffff);
  auto& counter = w.request_counters[key];
  const std::string_view label = route ? std::string_view(route->pattern) : kUnmatchedRoute;
  if (!counter) {
    counter = &metrics.GetCounter(
        "strata_http_requests_total", "HTTP requests by route pattern, method and status.",
        {{"route", std::string(label)}, {"method", std::string(VerbName(verb))}, {"status", std::to_string(status)}});
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

net::awaitable<void> Server::Impl::WriteError(Worker& w, Connection& conn, std::string& head, int status,
                                              std::string_view message, const std::string& remote,
                                              Clock::time_point start) {
  const std::string request_id = util::NewRequestId();
  const std::string body = ErrorJson(status, message);
  HeaderList headers;
  SetCommonHeaders(headers, request_id);
  headers.Set("Content-Type", kJsonContentType);
  SerializeHead(head, status, headers, body.size(), /*keep_alive=*/false, /*http10=*/false);
  co_await WriteResponse(conn, head, body);
  Record(w, nullptr, "", Verb::kOther, status, body.size(), request_id, "", remote, start);
}

net::awaitable<bool> Server::Impl::Serve(Worker& w, Connection& conn, beast::flat_buffer& buffer, std::string& head,
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
  std::optional<MultipartParser::Result> streamed;  // an upload's parts, parsed as they came
  // What comes before the handler (rate limits) is decided on the head alone: a refused request's
  // body, an upload's file among them, is never read.
  const auto proxy = opts.trusted_proxy ? opts.trusted_proxy() : nullptr;
  const std::string_view client = ClientAddress(msg, proxy.get(), remote);
  std::vector<std::pair<std::string, std::string>> extra_headers;
  if (route && !preflight && opts.before_handler) {
    const detail::RawRequest raw{msg};
    Request probe(raw, verb, path, query, request_id, client);
    probe.set_params(match.params);
    try {
      opts.before_handler(probe, *route, extra_headers);
    } catch (const ApiError& e) {
      if (e.status >= 500) spdlog::error("request {} {} {}: {}", request_id, msg.method_string(), path, e.detail);
      res = e.ToResponse();
      linger = !parser.is_done();  // the unread body ends the connection
    }
  }
  // The body, within the route's limit. A declared length over it is refused before reading.
  if (!res && !parser.is_done()) {
    std::size_t limit = route ? route->options.body_limit : kDefaultBodyLimit;
    if (route && route->options.body_limit_of) {
      const detail::RawRequest raw{msg};
      Request probe(raw, verb, path, query, request_id, remote);
      probe.set_params(match.params);
      // The larger limit only for bodies streamed to disk (multipart uploads); others are held.
      auto ct = msg.find(bhttp::field::content_type);
      if (route->options.files && !opts.spool_dir.empty() &&
          MultipartBoundary(ct == msg.end() ? std::string_view{} : std::string_view(ct->value()))) {
        limit = route->options.body_limit_of(probe);
      }
    }
    const auto declared = parser.content_length();
    if (declared && *declared > limit) {
      res = Response::Json(413, ErrorJson(413, "Request entity too large."));
      linger = true;
    } else {
      if (ExpectsContinue(msg)) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (co_await WriteResponse(conn, kContinue, {})) co_return false;
      }
      parser.body_limit(limit);
      conn.ExpiresAfter(opts.body_timeout);
      // Uploads stream through a multipart parser that spools their files: the body is never
      // held whole, and a file over its limit is refused as soon as it crosses it.
      std::optional<MultipartParser> streaming;
      if (route && route->options.files && !opts.spool_dir.empty()) {
        auto ct = msg.find(bhttp::field::content_type);
        if (auto boundary = MultipartBoundary(ct == msg.end() ? std::string_view{} : std::string_view(ct->value()))) {
          MultipartLimits limits;
          if (route->options.upload_limits) {
            const detail::RawRequest raw{msg};
            Request probe(raw, verb, path, query, request_id, remote);
            probe.set_params(match.params);
            limits = route->options.upload_limits(probe);
          }
          streaming.emplace(std::move(*boundary), opts.spool_dir, std::move(limits));
        }
      }
      boost::system::error_code ec;
      if (!streaming) {
        auto [rec, n] = co_await bhttp::async_read(conn.socket, buffer, parser, kTuple);
        ec = rec;
      } else {
        while (!parser.is_done()) {
          auto [rec, n] = co_await bhttp::async_read_some(conn.socket, buffer, parser, kTuple);
          if (auto refused = streaming->Feed(msg.body())) {
            if (refused->status >= 500)
              spdlog::error("request {} {} {}: {}", request_id, msg.method_string(), path, refused->detail);
            res = refused->ToResponse();
            linger = true;
            break;
          }
          msg.body().clear();
          if (rec) {
            ec = rec;
            break;
          }
          conn.ExpiresAfter(opts.body_timeout);  // an upload may take long while it makes progress
        }
        if (!res && !ec) {
          auto parsed = streaming->Finish();
          if (parsed) {
            streamed = std::move(*parsed);
          } else {
            res = parsed.error().ToResponse();
          }
        }
      }
      if (res) {
        // refused while the upload streamed
      } else if (ec == bhttp::error::body_limit) {
        res = Response::Json(413, ErrorJson(413, "Request entity too large."));
        linger = true;
      } else if (ec && conn.timed_out) {
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
      r.headers = cors.PreflightHeaders(
          origin, allow_headers == msg.end() ? std::string_view{} : std::string_view(allow_headers->value()));
      res = std::move(r);
    } else if (match.kind == Router::Match::Kind::kNotFound) {
      res = ApiError::NotFound().ToResponse();
    } else if (match.kind == Router::Match::Kind::kMethodNotAllowed) {
      res = Response::Json(405, ErrorJson(405, "Method not allowed."));
      res->headers.emplace_back("Allow", std::move(match.allow));
    } else {
      const detail::RawRequest raw{msg};
      Request req(raw, verb, path, query, request_id, client);
      req.set_params(std::move(match.params));
      if (streamed) {
        req.set_json(boost::json::value(std::move(streamed->data)));
        req.set_files(std::move(streamed->files));
      }
      if (route->options.json_body && !streamed) {
        auto ct = msg.find(bhttp::field::content_type);
        auto parsed =
            ParseRequestBody(ct == msg.end() ? std::string_view{} : std::string_view(ct->value()), msg.body());
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
      for (auto& [name, value] : extra_headers) {
        const bool set = std::any_of(res->headers.begin(), res->headers.end(),
                                     [&](const auto& h) { return beast::iequals(h.first, name); });
        if (!set) res->headers.emplace_back(std::move(name), std::move(value));
      }
    }
  }

  if (res->websocket && res->status < 300) {
    if (!detail::IsWebSocketUpgrade(msg)) {
      res = Response::Json(400, ErrorJson(400, "A WebSocket upgrade request is expected."));
    } else if (w.stopping) {
      res = Response::Json(503, ErrorJson(503, "The server is stopping."));
    } else {
      // The session manages its own timeouts (Beast's idle pings); the sweep leaves it alone.
      conn.deadline = Clock::time_point::max();
      conn.websocket = res->websocket.get();
      const bool upgraded = co_await detail::ServeWebSocket(conn.socket, msg, *res->websocket);
      conn.websocket = nullptr;
      Record(w, route, msg.method_string(), verb, upgraded ? 101 : 400, 0, request_id, path, remote, start);
      co_return false;
    }
  }
  // Conditional GET: a strong ETag on every successful JSON read, and 304 when the client holds it.
  std::string etag;
  bool not_modified = false;  // answered 304 once the headers are settled
  if ((verb == Verb::kGet || verb == Verb::kHead) && res->status == 200 && res->content_type == kJsonContentType) {
    for (const auto& [name, value] : res->headers) {
      if (beast::iequals(name, "ETag")) etag = value;
    }
    if (etag.empty()) {
      etag = ETagOf(res->content());
      res->headers.emplace_back("ETag", etag);
    }
    auto inm = msg.find(bhttp::field::if_none_match);
    not_modified = inm != msg.end() && IfNoneMatch(inm->value(), etag);
  }

  HeaderList headers;
  SetCommonHeaders(headers, request_id);
  if (!res->content_type.empty() && res->status != 204 && res->status != 304) {
    headers.Set("Content-Type", res->content_type);
  }
  if (!origin.empty() && !preflight) {
    if (auto allow = cors.AllowOrigin(origin)) {
      headers.Set("Access-Control-Allow-Origin", *allow);
      headers.Set("Access-Control-Expose-Headers", "X-Request-Id");
    }
  }
  std::string vary;
  std::string gzip_etag;  // outlives `headers`' view of it
  if (cors.varies_by_origin()) vary = "Origin";
  for (const auto& [name, value] : res->headers) {
    if (beast::iequals(name, "Vary")) {
      vary += vary.empty() ? "" : ", ";
      vary += value;
    } else {
      headers.Set(name, value);
    }
  }
  bool has_encoding = false;
  for (const auto& h : headers.items()) has_encoding = has_encoding || beast::iequals(h.first, "Content-Encoding");
  if (has_encoding) {
    vary += vary.empty() ? "Accept-Encoding" : ", Accept-Encoding";  // the handler chose the coding
  } else if (res->content().size() >= kCompressMinBytes) {
    vary += vary.empty() ? "Accept-Encoding" : ", Accept-Encoding";
    auto ae = msg.find(bhttp::field::accept_encoding);
    if (ae != msg.end() && AcceptsGzip(ae->value()) && not_modified) {
      gzip_etag = GzipETag(etag);
      headers.Set("ETag", gzip_etag);  // the tag a 200 would have carried
    } else if (ae != msg.end() && AcceptsGzip(ae->value())) {
      if (auto gz = Gzip(res->content())) {
        res->body = std::move(*gz);
        res->shared_body = nullptr;
        headers.Set("Content-Encoding", "gzip");
        // A strong tag names one representation: the compressed one gets its own.
        if (!etag.empty()) {
          gzip_etag = GzipETag(etag);
          headers.Set("ETag", gzip_etag);
        }
      }
    }
  }
  if (!vary.empty()) headers.Set("Vary", vary);
  std::string matched_etag;  // outlives `headers`' view of it
  if (not_modified) {
    res->status = 304;
    res->body.clear();
    res->shared_body = nullptr;
    // The 304 describes the representation the client holds: its tag, and no coding.
    headers.Remove("Content-Encoding");
    const std::string_view sent = headers.Get("ETag");
    const std::string_view inm = msg.find(bhttp::field::if_none_match)->value();
    if (!sent.empty() && inm.find(sent) == std::string_view::npos) {
      const std::string identity = IdentityETag(etag);
      const std::string gz = GzipETag(identity);
      matched_etag = inm.find(gz) != std::string_view::npos ? gz : identity;
      headers.Set("ETag", matched_etag);
    }
  }
  const bool keep = !linger && !w.stopping && msg.keep_alive();
  const std::string_view body = res->content();
  const bool send_body = verb != Verb::kHead && res->status != 204 && res->status != 304;
  if (res->stream) {
    SerializeHead(head, res->status, headers, std::nullopt, /*keep_alive=*/false, msg.version() == 10);
    uint64_t sent = 0;
    if (send_body) {
      sent = co_await SendStream(conn, head, *res->stream, msg.version() == 10);
    } else {
      // HEAD: the head alone; the stream is never started.
      res->stream->Cancel();
      co_await WriteResponse(conn, head, {});
    }
    Record(w, route, msg.method_string(), verb, res->status, sent, request_id, path, remote, start);
    co_return false;
  }
  if (res->file) {
    SerializeHead(head, res->status, headers, res->file->length, keep, msg.version() == 10);
    auto wec = send_body && res->file->length > 0 ? co_await WriteHeadMore(conn, head)
                                                  : co_await WriteResponse(conn, head, {});
    if (!wec && send_body) wec = co_await SendFile(conn, *res->file);
    Record(w, route, msg.method_string(), verb, res->status, res->file->length, request_id, path, remote, start);
    co_return !wec && keep;
  }
  SerializeHead(head, res->status, headers, body.size(), keep, msg.version() == 10);
  const auto wec = co_await WriteResponse(conn, head, send_body ? body : std::string_view{});
  Record(w, route, msg.method_string(), verb, res->status, body.size(), request_id, path, remote, start);
  co_return !wec && keep;
}

net::awaitable<void> Server::Impl::RunSession(Worker& w, tcp::socket socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  const std::string remote = ec ? std::string() : endpoint.address().to_string();
  Connection conn(std::move(socket));
  w.connections.insert(&conn);
  struct Exit {
    Worker& w;
    Connection* conn;
    std::atomic<std::size_t>& open;
    ~Exit() {
      w.connections.erase(conn);
      open.fetch_sub(1);
    }
  } on_exit{w, &conn, open_connections};

  beast::flat_buffer buffer;
  std::string head;  // the serialized response head, reused across the connection's requests
  bool first = true;
  bool linger = false;
  try {
    while (!w.stopping) {
      if (buffer.size() == 0) {
        // Wait for the next request: idle keep-alive time, or the header time on a new connection.
        conn.ExpiresAfter(first ? opts.header_timeout : opts.idle_timeout);
        auto [rec, n] = co_await conn.socket.async_read_some(buffer.prepare(kReadChunkBytes), kTuple);
        if (rec) break;
        buffer.commit(n);
      }
      first = false;
      Parser parser;
      parser.header_limit(kMaxHeaderBytes);
      // No limit while reading the header (the parser would check Content-Length against it): the
      // route decides the limit once it is known.
      parser.body_limit(boost::none);
      conn.ExpiresAfter(opts.header_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(conn.socket, buffer, parser, kTuple);
      const auto start = Clock::now();
      if (hec) {
        if (hec == bhttp::error::header_limit) {
          co_await WriteError(w, conn, head, 431, "Request header fields too large.", remote, start);
          linger = true;
        } else if (hec == bhttp::error::body_limit) {
          co_await WriteError(w, conn, head, 413, "Request entity too large.", remote, start);
          linger = true;
        } else if (!IsNormalEnd(hec)) {
          co_await WriteError(w, conn, head, 400, "Malformed HTTP request.", remote, start);
          linger = true;
        }
        break;
      }
      conn.busy = true;
      in_flight->Add(1);
      struct Busy {
        Connection& c;
        obs::Gauge& g;
        ~Busy() {
          c.busy = false;
          g.Add(-1);
        }
      } busy{conn, *in_flight};
      const bool keep = co_await Serve(w, conn, buffer, head, parser, remote, start, linger);
      if (!keep) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("connection from {}: {}", remote, e.what());
  }
  if (linger) {
    co_await LingeringClose(conn);
  } else {
    conn.socket.shutdown(tcp::socket::shutdown_both, ec);
    conn.socket.close(ec);
  }
}

net::awaitable<void> Server::Impl::Reject(tcp::socket socket) {
  // Not counted as a connection and not swept: its own short timer bounds it.
  Connection conn(std::move(socket));
  net::steady_timer guard(conn.socket.get_executor(), kLingerTimeout * 2);
  guard.async_wait([&conn](const boost::system::error_code& ec) {
    if (!ec) conn.socket.cancel();
  });
  const std::string request_id = util::NewRequestId();
  const std::string body = ErrorJson(503, "Too many open connections, try again later.");
  HeaderList headers;
  SetCommonHeaders(headers, request_id);
  headers.Set("Content-Type", kJsonContentType);
  headers.Set("Retry-After", "1");
  std::string head;
  SerializeHead(head, 503, headers, body.size(), /*keep_alive=*/false, /*http10=*/false);
  if (!co_await WriteResponse(conn, head, body)) co_await LingeringClose(conn);
  guard.cancel();
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

// Per-thread chores on one timer: connection deadlines, the access log flush and on_sweep. One sweep per
// interval costs far less than arming and cancelling a timer around every read and write.
net::awaitable<void> Server::Impl::Housekeeping(Worker& w) {
  net::steady_timer timer(w.ioc);
  auto last_flush = Clock::now();
  for (;;) {
    timer.expires_after(kDeadlineSweep);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
    const auto now = Clock::now();
    for (Connection* c : w.connections) {
      if (c->deadline <= now && !c->timed_out) {
        c->timed_out = true;
        boost::system::error_code ignored;
        c->socket.cancel(ignored);
      }
    }
    if (now - last_flush >= std::chrono::milliseconds(200)) {
      w.log_buf.Flush();
      last_flush = now;
    }
    if (opts.on_sweep) opts.on_sweep();
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
    net::co_spawn(w.ioc, im.Housekeeping(w), net::detached);
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
      // Idle connections close now; busy ones after their response (sent with Connection: close);
      // streams end now.
      for (Connection* c : w.connections) {
        if (!c->busy) c->socket.cancel(ec);
        if (c->stream) c->stream->Cancel();
        if (c->websocket) c->websocket->Cancel();
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
