// The realtime benchmark's load client: many subscriber connections to Strata (WebSocket or
// server-sent events) or to the Socket.IO peer (its WebSocket transport, spoken directly so that
// both servers' clients cost the load generator the same), and a writer. The subscribers share one
// thread (Beast's WebSocket client, about half of Node's CPU per message; event streams read
// straight from their sockets); the writer has its own thread, so that their traffic never holds
// up a write.
//
//   strata_realtime_load hold KIND URL COUNT
//       opens COUNT subscribers, prints "held N in S s" once they are subscribed, then keeps them
//       open until it gets SIGTERM or SIGINT.
//   strata_realtime_load fanout KIND URL COUNT SECONDS RATE
//       opens COUNT subscribers, then writes RATE records a second (one second of warm-up, then
//       SECONDS measured) and prints JSON: deliveries a second and write-to-delivery latency
//       (p50, p99, ms) over the measured window, every 16th delivery timed.
//
// KIND: ws | sse (Strata, topic notes/*; writes are record creates) or sio (the peer, room
// notes/*; writes are POST /publish of the same record). URL: http://127.0.0.1:PORT.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

enum class Kind { kWebSocket, kEventStream, kSocketIo };

struct Config {
  Kind kind = Kind::kWebSocket;
  std::string host;  // "127.0.0.1:PORT", for Host headers
  tcp::endpoint server;
};

// Milliseconds since the epoch, as the writer stamps records and Node's
// performance.timeOrigin + performance.now() would.
double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Deliveries seen; every 16th is timed from the `sent` stamp the writer put in its record.
struct Tally {
  bool measuring = false;
  uint64_t delivered = 0;
  uint64_t sample = 0;
  std::vector<double> latencies;

  // One message or frame: `marker` counts the events in it (a WebSocket message may be an array of
  // several); empty, it is one event.
  void Events(std::string_view text, std::string_view marker) {
    if (!measuring) return;
    double now = 0;
    std::size_t at = marker.empty() ? 0 : text.find(marker);
    while (at != std::string_view::npos) {
      ++delivered;
      if ((++sample & 15) == 0) {
        if (const auto i = text.find("\"sent\":", at); i != std::string_view::npos) {
          if (now == 0) now = NowMs();
          latencies.push_back(now - std::strtod(std::string(text.substr(i + 7, 32)).c_str(), nullptr));
        }
      }
      at = marker.empty() ? std::string_view::npos : text.find(marker, at + marker.size());
    }
  }
};

[[noreturn]] void Fail(std::string_view what) {
  std::fprintf(stderr, "%.*s\n", static_cast<int>(what.size()), what.data());
  std::exit(1);
}

// A connection from a loopback source address of its own, so that more connections than one
// address has ports can be opened.
net::awaitable<tcp::socket> Connect(const Config& config, std::size_t i) {
  tcp::socket socket(co_await net::this_coro::executor);
  socket.open(tcp::v4());
  const auto source = net::ip::make_address_v4(fmt::format("127.0.{}.{}", 1 + i / 25000, 1 + i % 200));
  socket.bind(tcp::endpoint(source, 0));
  co_await socket.async_connect(config.server, net::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  co_return socket;
}

// Takes the chunked transfer coding off an HTTP body fed to it in pieces.
class Dechunker {
 public:
  // Appends the data of `in` to `out`; false on framing that is not chunked coding.
  bool Feed(std::string_view in, std::string& out) {
    while (!in.empty() && !done_) {
      if (state_ == State::kData) {
        const std::size_t take = std::min<std::size_t>(left_, in.size());
        out.append(in.substr(0, take));
        in.remove_prefix(take);
        left_ -= take;
        if (left_ == 0) state_ = State::kDataEnd;
        continue;
      }
      // A line: a chunk's size, or the CRLF that ends its data.
      const char c = in.front();
      in.remove_prefix(1);
      if (c != '\n') {
        if (line_.size() > 64) return false;
        if (c != '\r') line_ += c;
        continue;
      }
      if (state_ == State::kDataEnd) {
        if (!line_.empty()) return false;
        state_ = State::kSize;
        continue;
      }
      const std::string size = line_.substr(0, line_.find(';'));
      line_.clear();
      if (size.empty() || size.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
      left_ = std::stoull(size, nullptr, 16);
      if (left_ == 0) {
        done_ = true;
      } else {
        state_ = State::kData;
      }
    }
    return true;
  }
  bool done() const { return done_; }

 private:
  enum class State { kSize, kData, kDataEnd };
  State state_ = State::kSize;
  std::string line_;
  std::size_t left_ = 0;
  bool done_ = false;
};

class Load {
 public:
  Load(net::io_context& io, Config config) : io_(io), config_(std::move(config)) {}

  // Opens `count` subscribers, 250 at a time; resumes once all are subscribed.
  net::awaitable<void> OpenAll(std::size_t count) {
    net::steady_timer poll(io_);
    for (std::size_t i = 0; i < count; i += 250) {
      const std::size_t n = std::min<std::size_t>(250, count - i);
      const std::size_t target = subscribed_ + n;
      for (std::size_t k = 0; k < n; ++k) Spawn(i + k);
      while (subscribed_ < target) {
        poll.expires_after(std::chrono::milliseconds(1));
        co_await poll.async_wait(net::use_awaitable);
      }
    }
  }

  // RATE writes a second until `stop`, on `io` (a thread of its own, so that the subscribers'
  // traffic never delays a write); counts them.
  net::awaitable<void> Write(net::io_context& io, double rate, const std::atomic<bool>& stop) {
    net::steady_timer tick(io);
    auto next = std::chrono::steady_clock::now();
    const auto interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1.0 / rate));
    while (!stop) {
      // Stamped now, and sent by a free connection, a new one (up to kMaxWriters, as Node's agent
      // pools them), or the first that frees up: a slow server never holds up the next write.
      queued_.push_back(fmt::format(R"({{"body":"a change every subscriber sees","sent":{:.3f}}})", NowMs()));
      writes.fetch_add(1, std::memory_order_relaxed);
      std::shared_ptr<Writer> writer;
      for (auto& w : writers_) {
        if (!w->busy) writer = w;
      }
      if (writer || writers_.size() < kMaxWriters) {
        if (!writer) {
          writer = std::make_shared<Writer>();
          writers_.push_back(writer);
        }
        writer->busy = true;
        net::co_spawn(io, Post(writer, writers_.size()), net::detached);
      }
      next += interval;
      tick.expires_at(next);
      co_await tick.async_wait(net::use_awaitable);
    }
  }

  Tally tally;  // on the subscribers' thread
  std::atomic<uint64_t> writes{0};
  std::size_t subscribed() const { return subscribed_; }

 private:
  static constexpr std::size_t kMaxWriters = 64;
  struct Writer {
    std::optional<tcp::socket> socket;  // connected by its first write
    beast::flat_buffer buffer;
    bool busy = false;
  };

  void Spawn(std::size_t i) {
    auto run = [this, i]() -> net::awaitable<void> {
      try {
        if (config_.kind == Kind::kEventStream) {
          co_await EventStream(i);
        } else {
          co_await WebSocket(i);
        }
      } catch (const std::exception& e) {
        if (subscribed_ < wanted_) Fail(fmt::format("subscriber {}: {}", i, e.what()));
      }
    };
    ++wanted_;
    net::co_spawn(io_, run(), net::detached);
  }

  net::awaitable<void> WebSocket(std::size_t i) {
    websocket::stream<tcp::socket> ws(co_await Connect(config_, i));
    const bool sio = config_.kind == Kind::kSocketIo;
    co_await ws.async_handshake(config_.host, sio ? "/socket.io/?EIO=4&transport=websocket" : "/api/ws",
                                net::use_awaitable);
    beast::flat_buffer buffer;
    auto send = [&](std::string_view text) { return ws.async_write(net::buffer(text), net::use_awaitable); };
    for (;;) {
      buffer.clear();
      co_await ws.async_read(buffer, net::use_awaitable);
      const std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (sio) {
        if (text.starts_with("42[\"notes/*\"")) {
          tally.Events(text, {});
        } else if (text == "2") {
          co_await send("3");  // Engine.IO ping → pong
        } else if (text.starts_with("0{")) {
          co_await send("40");  // Engine.IO open → Socket.IO connect
        } else if (text.starts_with("40")) {
          co_await send("421[\"subscribe\",\"notes/*\"]");
        } else if (text.starts_with("431")) {
          ++subscribed_;  // the subscribe ack
        }
      } else if (text.starts_with("{\"type\":\"event\"") || text.starts_with("[{\"type\":\"event\"")) {
        tally.Events(text, "{\"type\":\"event\"");
      } else if (text.starts_with("{\"type\":\"connected\"")) {
        co_await send(R"({"type":"subscribe","topics":["notes/*"]})");
      } else if (text.starts_with("{\"type\":\"subscribed\"")) {
        ++subscribed_;
      }
    }
  }

  net::awaitable<void> EventStream(std::size_t i) {
    tcp::socket socket = co_await Connect(config_, i);
    http::request<http::empty_body> get{http::verb::get, "/api/realtime", 11};
    get.set(http::field::host, config_.host);
    get.set(http::field::accept, "text/event-stream");
    co_await http::async_write(socket, get, net::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    co_await http::async_read_header(socket, buffer, parser, net::use_awaitable);
    if (parser.get().result() != http::status::ok) throw std::runtime_error("GET /api/realtime failed");
    if (!parser.chunked()) throw std::runtime_error("GET /api/realtime: the stream is not chunked");
    // The body is read straight from the socket, a read at a time, and its chunked framing taken
    // off here: Beast's parser costs several times more per event on streams of small chunks.
    Dechunker body;
    std::string pending;  // event-stream text not yet split into frames
    body.Feed(std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()), pending);
    std::vector<char> read(16 * 1024);  // per connection: tens of thousands of them
    bool subscribed = false;
    for (bool first = true; !body.done(); first = false) {
      if (!first) {
        auto [ec, n] = co_await socket.async_read_some(net::buffer(read), net::as_tuple(net::use_awaitable));
        if (ec) break;
        if (!body.Feed(std::string_view(read.data(), n), pending)) throw std::runtime_error("bad chunked framing");
      }
      std::size_t start = 0;
      for (std::size_t end; (end = pending.find("\n\n", start)) != std::string::npos; start = end + 2) {
        const std::string_view frame(pending.data() + start, end - start);
        if (subscribed) {
          tally.Events(frame, {});
          continue;
        }
        const auto data = frame.find("data:");
        if (data == std::string_view::npos) continue;
        const auto connect = boost::json::parse(frame.substr(data + 5));
        const std::string client_id(connect.at("clientId").as_string());
        co_await Subscribe(i, client_id);
        subscribed = true;
        ++subscribed_;
      }
      pending.erase(0, start);
    }
  }

  net::awaitable<void> Subscribe(std::size_t i, const std::string& client_id) {
    tcp::socket socket = co_await Connect(config_, i);
    http::request<http::string_body> post{http::verb::post, "/api/realtime", 11};
    post.set(http::field::host, config_.host);
    post.set(http::field::content_type, "application/json");
    post.body() = fmt::format(R"({{"clientId":"{}","subscriptions":["notes/*"]}})", client_id);
    post.prepare_payload();
    co_await http::async_write(socket, post, net::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    co_await http::async_read(socket, buffer, response, net::use_awaitable);
    if (response.result_int() / 100 != 2) throw std::runtime_error("POST /api/realtime: " + response.body());
  }

  // Sends the queued writes on `writer` until none is left.
  net::awaitable<void> Post(std::shared_ptr<Writer> writer, std::size_t n) {
    if (!writer->socket) writer->socket.emplace(co_await Connect(config_, n));
    while (!queued_.empty()) {
      http::request<http::string_body> post{
          http::verb::post, config_.kind == Kind::kSocketIo ? "/publish" : "/api/collections/notes/records", 11};
      post.set(http::field::host, config_.host);
      post.set(http::field::content_type, "application/json");
      post.body() = std::move(queued_.front());
      queued_.pop_front();
      post.prepare_payload();
      http::response<http::string_body> response;
      auto [wec, wn] = co_await http::async_write(*writer->socket, post, net::as_tuple(net::use_awaitable));
      if (!wec) {
        auto [rec, rn] =
            co_await http::async_read(*writer->socket, writer->buffer, response, net::as_tuple(net::use_awaitable));
        if (rec) wec = rec;
      }
      if (wec) Fail(fmt::format("a write failed: {}", wec.message()));
      if (response.result_int() / 100 != 2)
        Fail(fmt::format("a write was answered {}: {}", response.result_int(), response.body()));
    }
    writer->busy = false;
  }

  net::io_context& io_;
  Config config_;
  std::size_t wanted_ = 0;
  std::size_t subscribed_ = 0;
  std::vector<std::shared_ptr<Writer>> writers_;  // on the writer's thread, as is queued_
  std::deque<std::string> queued_;                // bodies of writes not sent yet
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p / 100 * static_cast<double>(sorted.size())))];
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const bool hold = !args.empty() && args[0] == "hold";
  if (args.size() != (hold ? 4u : 6u) || (!hold && args[0] != "fanout")) {
    Fail("usage: strata_realtime_load hold KIND URL COUNT | fanout KIND URL COUNT SECONDS RATE");
  }
  Config config;
  if (args[1] == "ws") {
    config.kind = Kind::kWebSocket;
  } else if (args[1] == "sse") {
    config.kind = Kind::kEventStream;
  } else if (args[1] == "sio") {
    config.kind = Kind::kSocketIo;
  } else {
    Fail("KIND: ws, sse or sio");
  }
  const std::string_view url = args[2];
  if (!url.starts_with("http://")) Fail("URL: http://HOST:PORT");
  config.host = std::string(url.substr(7));
  const auto colon = config.host.rfind(':');
  if (colon == std::string::npos) Fail("URL: http://HOST:PORT");
  config.server = tcp::endpoint(net::ip::make_address(config.host.substr(0, colon)),
                                static_cast<uint16_t>(std::stoi(config.host.substr(colon + 1))));
  const std::size_t count = std::stoul(args[3]);

  net::io_context io(1);
  net::io_context writer_io(1);
  std::atomic<bool> stop{false};
  std::thread writer;
  Load load(io, config);
  int status = 0;
  auto run = [&]() -> net::awaitable<void> {
    const auto started = std::chrono::steady_clock::now();
    co_await load.OpenAll(count);
    const double open_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (hold) {
      std::printf("held %zu in %.1f s\n", load.subscribed(), open_seconds);
      std::fflush(stdout);
      net::signal_set signals(io, SIGTERM, SIGINT);
      co_await signals.async_wait(net::use_awaitable);
      io.stop();
      co_return;
    }
    const double seconds = std::stod(args[4]);
    const double rate = std::stod(args[5]);
    net::co_spawn(writer_io, load.Write(writer_io, rate, stop), net::detached);
    writer = std::thread([&] { writer_io.run(); });
    net::steady_timer wait(io);
    wait.expires_after(std::chrono::seconds(1));  // warm-up
    co_await wait.async_wait(net::use_awaitable);
    load.tally.measuring = true;
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t w0 = load.writes.load();
    wait.expires_after(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)));
    co_await wait.async_wait(net::use_awaitable);
    load.tally.measuring = false;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double writes_per_s = static_cast<double>(load.writes.load() - w0) / elapsed;
    stop = true;
    writer_io.stop();
    auto& latencies = load.tally.latencies;
    std::sort(latencies.begin(), latencies.end());
    std::printf(
        "{\"kind\":\"%s\",\"subscribers\":%zu,\"writes_per_s\":%.1f,\"deliveries_per_s\":%.0f,\"expected_per_s\":%.0f,"
        "\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
        args[1].c_str(), load.subscribed(), writes_per_s, static_cast<double>(load.tally.delivered) / elapsed,
        writes_per_s * static_cast<double>(load.subscribed()), Percentile(latencies, 50), Percentile(latencies, 99));
    std::fflush(stdout);
    io.stop();
  };
  net::co_spawn(io, run(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "%s\n", x.what());
    }
    status = 1;
    io.stop();
  });
  io.run();
  if (writer.joinable()) writer.join();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    Fail(e.what());
  }
}
