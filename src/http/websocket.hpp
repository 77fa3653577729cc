// WebSocket connections (RFC 6455) for routes that upgrade: a handler answers with a Response
// whose `websocket` is set, and once the handshake is done the server runs that session on the
// connection. Text messages only; binary frames close the connection (1003). Beast answers pings,
// sends its own when the peer is silent, and closes a peer that stops answering. A write that the
// peer does not take within the write timeout ends the connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::http {

// Close codes a session uses.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;       // the server stops
inline constexpr uint16_t kCloseUnsupported = 1003;     // a binary frame
inline constexpr uint16_t kCloseInvalidPayload = 1007;  // not valid JSON
inline constexpr uint16_t kClosePolicy = 1008;          // a message the protocol does not allow
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseTryAgainLater = 1013;  // too slow a reader

// The open connection, as a session sees it. One Read and one Write may be pending at a time
// (each from its own coroutine), on the connection's executor.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  virtual boost::asio::any_io_executor executor() = 0;
  // The next text message, or nullopt once the connection is closed or failed.
  virtual boost::asio::awaitable<std::optional<std::string>> Read() = 0;
  // Sends one text message made of `pieces` (not copied); false once the connection failed.
  virtual boost::asio::awaitable<bool> Write(const std::vector<std::shared_ptr<const std::string>>& pieces) = 0;
  // Sends a close frame with `code` and `reason` (at most 123 bytes); reads then end.
  virtual boost::asio::awaitable<void> Close(uint16_t code, std::string_view reason) = 0;
};

// What a route runs on an upgraded connection.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  // Runs until the session is over; the connection closes when it returns.
  virtual boost::asio::awaitable<void> Run(WebSocket& ws) = 0;
  // The server is stopping: Run should close with kCloseGoingAway and return soon. Called on the
  // connection's executor.
  virtual void Cancel() = 0;
};

inline constexpr std::size_t kMaxWebSocketMessage = 64 * 1024;

}  // namespace strata::http
