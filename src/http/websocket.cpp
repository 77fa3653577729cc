#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <memory>

#include "http/limits.hpp"
#include "http/websocket_serve.hpp"

namespace strata::http::detail {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// With nothing received for this long the server pings; with nothing for twice as long, it closes.
constexpr auto kWebSocketIdle = std::chrono::seconds(60);
constexpr auto kHandshakeTimeout = std::chrono::seconds(5);  // opening, and waiting for the peer's close

// The deadline of the write in progress. Shared with the timer's handler, which may run after the
// connection is gone.
struct WriteDeadline {
  explicit WriteDeadline(tcp::socket& s) : timer(s.get_executor()), socket(&s) {}
  net::steady_timer timer;
  tcp::socket* socket;      // null once the connection is gone
  uint64_t generation = 0;  // of the write: a wait armed for an earlier one does nothing
};

class BeastWebSocket final : public WebSocket {
 public:
  explicit BeastWebSocket(tcp::socket& socket) : ws_(socket), deadline_(std::make_shared<WriteDeadline>(socket)) {
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = kHandshakeTimeout;
    timeouts.idle_timeout = kWebSocketIdle;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(kMaxWebSocketMessage);
    ws_.auto_fragment(false);
  }

  ~BeastWebSocket() override {
    deadline_->socket = nullptr;
    deadline_->timer.cancel();
  }

  net::awaitable<bool> Accept(const beast::http::request<beast::http::string_body>& req) {
    auto [ec] = co_await ws_.async_accept(req, kTuple);
    co_return !ec;
  }

  net::any_io_executor executor() override { return ws_.get_executor(); }

  net::awaitable<std::optional<std::string>> Read() override {
    if (closing_ || failed_) co_return std::nullopt;
    buffer_.clear();
    auto [ec, n] = co_await ws_.async_read(buffer_, kTuple);
    if (ec == websocket::error::message_too_big) {
      co_await Close(kCloseTooBig, "message too big");
      co_return std::nullopt;
    }
    if (ec) {
      Fail();
      co_return std::nullopt;
    }
    if (!ws_.got_text()) {
      co_await Close(kCloseUnsupported, "binary frames are not supported");
      co_return std::nullopt;
    }
    co_return beast::buffers_to_string(buffer_.data());
  }

  net::awaitable<bool> Write(const std::vector<std::shared_ptr<const std::string>>& pieces) override {
    if (closing_ || failed_) co_return false;
    buffers_.clear();
    for (const auto& p : pieces) buffers_.push_back(net::buffer(*p));
    ws_.text(true);
    ArmDeadline();
    auto [ec, n] = co_await ws_.async_write(buffers_, kTuple);
    ++deadline_->generation;  // the write is over: its wait ends nothing
    deadline_->timer.cancel();
    if (ec) Fail();
    co_return !ec;
  }

  net::awaitable<void> Close(uint16_t code, std::string_view reason) override {
    if (closing_ || failed_) co_return;
    closing_ = true;
    websocket::close_reason why(static_cast<websocket::close_code>(code), reason.substr(0, 123));
    auto [ec] = co_await ws_.async_close(why, kTuple);
    (void)ec;
  }

 private:
  // The connection failed (reset, timed out): no close handshake is possible, and the other
  // direction's pending operation is ended too.
  void Fail() {
    failed_ = true;
    boost::system::error_code ignored;
    ws_.next_layer().cancel(ignored);
  }

  // A peer that takes nothing for kWriteTimeout is cut off: the write fails.
  void ArmDeadline() {
    const uint64_t generation = ++deadline_->generation;
    deadline_->timer.expires_after(kWriteTimeout);
    deadline_->timer.async_wait([d = deadline_, generation](boost::system::error_code ec) {
      if (ec || d->generation != generation || !d->socket) return;
      boost::system::error_code ignored;
      d->socket->cancel(ignored);
    });
  }

  websocket::stream<tcp::socket&> ws_;
  std::shared_ptr<WriteDeadline> deadline_;
  beast::flat_buffer buffer_;
  std::vector<net::const_buffer> buffers_;
  bool closing_ = false;
  bool failed_ = false;
};

}  // namespace

bool IsWebSocketUpgrade(const beast::http::request<beast::http::string_body>& req) {
  return websocket::is_upgrade(req);
}

net::awaitable<bool> ServeWebSocket(tcp::socket& socket, const beast::http::request<beast::http::string_body>& req,
                                    WebSocketSession& session) {
  BeastWebSocket ws(socket);
  if (!co_await ws.Accept(req)) co_return false;
  co_await session.Run(ws);
  co_return true;
}

}  // namespace strata::http::detail
