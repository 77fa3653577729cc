// Private to the http module: runs a WebSocket session on an upgraded connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/websocket.hpp"

namespace strata::http::detail {

// Whether `req` asks to upgrade to WebSocket.
bool IsWebSocketUpgrade(const boost::beast::http::request<boost::beast::http::string_body>& req);

// Completes the handshake for `req` on `socket`, then runs `session` until it returns. False when
// the handshake failed.
boost::asio::awaitable<bool> ServeWebSocket(boost::asio::ip::tcp::socket& socket,
                                            const boost::beast::http::request<boost::beast::http::string_body>& req,
                                            WebSocketSession& session);

}  // namespace strata::http::detail
