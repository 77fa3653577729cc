// Response: what a handler returns, independent of the wire library. ApiError: a client-facing
// error with PocketBase's JSON shape {"data":{},"message":"…","status":N}. Plain value types.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::http {

class WebSocketSession;

inline constexpr std::string_view kJsonContentType = "application/json";

// A body sent from an open file: `length` bytes from `offset`, written by the kernel from the page
// cache (sendfile), never read into memory. `owner` keeps `fd` open until the body is sent.
struct FileBody {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<void> owner;
};

// A body produced over time (server-sent events). The server writes the head, then what each
// Next() gives (the pieces it appends to `out`, sent together as one chunk of the chunked
// transfer coding, so that pieces shared between streams are never copied), until Next() returns
// false; then the connection closes. When the client goes away or the server stops, Cancel() is
// called, after which a pending or later Next() must return false promptly. Next() and Cancel()
// are called on the connection's thread.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual boost::asio::awaitable<bool> Next(std::vector<std::shared_ptr<const std::string>>& out) = 0;
  virtual void Cancel() = 0;
};

struct Response {
  int status = 200;
  std::string content_type{kJsonContentType};
  std::string body;
  // Extra headers; they replace the server's defaults of the same name (e.g. Content-Security-Policy).
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body, shared with its owner (a cache) rather than copied; `body` is then unused.
  std::shared_ptr<const std::string> shared_body = nullptr;
  // When set, the body comes from a file; `body` and `shared_body` are then unused.
  std::shared_ptr<FileBody> file = nullptr;
  // When set, the body is streamed; `body` and `shared_body` are then unused.
  std::shared_ptr<ResponseStream> stream = nullptr;
  // When set, the request is a WebSocket upgrade and this session runs on the connection once the
  // handshake is done (a request that is not an upgrade gets 400).
  std::shared_ptr<WebSocketSession> websocket = nullptr;

  std::string_view content() const { return shared_body ? std::string_view(*shared_body) : std::string_view(body); }

  static Response Json(int status, std::string body) {
    return Response{status, std::string(kJsonContentType), std::move(body), {}};
  }
};

struct ApiError {
  int status = 400;
  std::string message;       // safe to show to the client
  boost::json::object data;  // per-field details, PocketBase's validation error map
  std::string detail;        // internal only: logged, never sent
  std::vector<std::pair<std::string, std::string>> headers = {};  // sent with the error (Retry-After, …)

  // The error as PocketBase renders it.
  Response ToResponse() const;

  static ApiError BadRequest(std::string message = "Something went wrong while processing your request.");
  static ApiError NotFound(std::string message = "The requested resource wasn't found.");
  static ApiError Forbidden(std::string message = "You are not allowed to perform this request.");
  static ApiError Internal(std::string detail);
  // 429, with Retry-After: `retry_after_seconds` (at least 1).
  static ApiError TooManyRequests(int64_t retry_after_seconds);
};

// {"data":<data>,"message":<message>,"status":<status>}
std::string ErrorJson(int status, std::string_view message, const boost::json::object& data = {});

}  // namespace strata::http
