#include "http/server.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/compress.hpp"
#include "http/test_client.hpp"
#include "obs/access_log.hpp"
#include "obs/metrics.hpp"

namespace strata::http {
namespace {

using testing::RawHttpResponse;
using testing::TestConnection;
namespace net = boost::asio;

// A streamed body of fixed chunks, each made of pieces.
class ListStream final : public ResponseStream {
 public:
  explicit ListStream(std::vector<std::vector<std::string>> chunks) : chunks_(std::move(chunks)) {}
  net::awaitable<bool> Next(std::vector<std::shared_ptr<const std::string>>& out) override {
    if (next_ >= chunks_.size()) co_return false;
    for (const auto& piece : chunks_[next_]) out.push_back(std::make_shared<const std::string>(piece));
    ++next_;
    co_return true;
  }
  void Cancel() override {}

 private:
  std::vector<std::vector<std::string>> chunks_;
  std::size_t next_ = 0;
};

// A streamed body that sends nothing until it is cancelled.
class ForeverStream final : public ResponseStream {
 public:
  net::awaitable<bool> Next(std::vector<std::shared_ptr<const std::string>>&) override {
    if (cancelled_) co_return false;
    timer_.emplace(co_await net::this_coro::executor, std::chrono::steady_clock::time_point::max());
    co_await timer_->async_wait(net::as_tuple(net::use_awaitable));
    co_return false;
  }
  void Cancel() override {
    cancelled_ = true;
    if (timer_) timer_->cancel();
  }

 private:
  std::optional<net::steady_timer> timer_;
  bool cancelled_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Verb::kGet, "/echo/{word}", [](Request& req) -> net::awaitable<Response> {
      co_return Response::Json(
          200, "{\"word\":\"" + req.Param("word") + "\",\"q\":\"" + req.QueryParam("q").value_or("") + "\"}");
    });
    router_.Add(Verb::kPost, "/json",
                [](Request& req) -> net::awaitable<Response> {
                  co_return Response::Json(200, boost::json::serialize(req.json()));
                },
                {.body_limit = 1024, .json_body = true});
    router_.Add(Verb::kGet, "/boom", [](Request&) -> net::awaitable<Response> {
      throw std::runtime_error("secret internal detail");
      co_return Response{};
    });
    router_.Add(Verb::kGet, "/big", [](Request&) -> net::awaitable<Response> {
      std::string body = "[";
      for (int i = 0; i < 500; ++i) body += "{\"id\":" + std::to_string(i) + ",\"name\":\"record\"},";
      body.back() = ']';
      co_return Response::Json(200, body);
    });
    router_.Add(Verb::kGet, "/stream", [](Request&) -> net::awaitable<Response> {
      Response r;
      r.content_type = "text/event-stream";
      r.stream = std::make_shared<ListStream>(std::vector<std::vector<std::string>>{{"a", "bc"}, {}, {"def"}});
      co_return r;
    });
    router_.Add(Verb::kGet, "/forever", [](Request&) -> net::awaitable<Response> {
      Response r;
      r.content_type = "text/event-stream";
      r.stream = std::make_shared<ForeverStream>();
      co_return r;
    });
    router_.Add(Verb::kGet, "/slow", [](Request&) -> net::awaitable<Response> {
      net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(400));
      co_await timer.async_wait(net::use_awaitable);
      co_return Response::Json(200, "{\"slow\":true}");
    });
  }

  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, router_, metrics_, log_);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::optional<RawHttpResponse> Get(const std::string& target, const std::string& extra_headers = "") {
    TestConnection c(server_->port());
    c.Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n");
    return c.Read();
  }

  Router router_;
  obs::Registry metrics_;
  obs::AccessLog log_{1, false};
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, AnswersWithCommonHeaders) {
  StartServer();
  auto r = Get("/echo/hi?x=1&q=a%20b+c&q=second");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"word":"hi","q":"a b c"})");
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("x-request-id").size(), 20u);
  EXPECT_EQ(r->Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r->Header("x-frame-options"), "SAMEORIGIN");
  EXPECT_FALSE(r->Header("referrer-policy").empty());
  EXPECT_EQ(r->Header("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  EXPECT_FALSE(r->Header("date").empty());
}

TEST_F(ServerTest, QueryParametersDecodeInAnyPosition) {
  StartServer();
  for (const char* target : {"/echo/a?q=-like_count", "/echo/a?q=-like_count&page=2", "/echo/a?page=2&q=-like_count"}) {
    auto r = Get(target);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, R"({"word":"a","q":"-like_count"})") << target;
  }
}

TEST_F(ServerTest, QueryParameterNamesAndValuesArePercentAndPlusDecoded) {
  StartServer();
  EXPECT_EQ(Get("/echo/a?%71=a+b%21")->body, R"({"word":"a","q":"a b!"})");
  // "q+" and "q%20" name other parameters than "q".
  EXPECT_EQ(Get("/echo/a?q%2B=x&q+=y&q=z")->body, R"({"word":"a","q":"z"})");
  EXPECT_EQ(Get("/echo/a?q=100%25")->body, R"({"word":"a","q":"100%"})");
}

TEST_F(ServerTest, EchoesAWellFormedRequestIdAndReplacesABadOne) {
  StartServer();
  EXPECT_EQ(Get("/echo/a", "X-Request-Id: client-id.42\r\n")->Header("x-request-id"), "client-id.42");
  const auto replaced = Get("/echo/a", "X-Request-Id: bad id <x>\r\n")->Header("x-request-id");
  EXPECT_NE(replaced, "bad id <x>");
  EXPECT_EQ(replaced.size(), 20u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestConnection c(server_->port());
  std::string batch;
  for (int i = 0; i < 20; ++i)
    batch +=
        "GET " + std::string(i % 7 == 0 ? "/slow" : "/echo/w" + std::to_string(i)) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  c.Send(batch);
  for (int i = 0; i < 20; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    if (i % 7 == 0) {
      EXPECT_EQ(r->body, R"({"slow":true})");
    } else {
      EXPECT_EQ(r->body, "{\"word\":\"w" + std::to_string(i) + "\",\"q\":\"\"}");
    }
  }
}

TEST_F(ServerTest, UnknownRouteIs404InPocketBaseShape) {
  StartServer();
  auto r = Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"data":{},"message":"The requested resource wasn't found.","status":404})");
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("DELETE /json HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("allow"), "POST");
  EXPECT_EQ(r->body, R"({"data":{},"message":"Method not allowed.","status":405})");
}

TEST_F(ServerTest, JsonBodies) {
  StartServer();
  TestConnection c(server_->port());
  const std::string good = R"({"a":[1,2]})";
  c.Send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(good.size()) + "\r\n\r\n" + good);
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, good);

  const std::string bad = "{\"a\":\n  [1,,2]}";
  c.Send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(bad.size()) + "\r\n\r\n" + bad);
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("line 2, column 6"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"status\":400"), std::string::npos);
}

TEST_F(ServerTest, HandlerExceptionIs500WithoutDetail) {
  StartServer();
  auto r = Get("/boom");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"data":{},"message":"Something went wrong while processing your request.","status":500})");
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
}

TEST_F(ServerTest, OversizedHeaderIs431AndCloses) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 * 1024, 'a') + "\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, DeclaredOversizedBodyIs413WithoutReadingIt) {
  StartServer();
  TestConnection c(server_->port());
  // The body is never sent: the answer must come from the headers alone.
  c.Send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n");
  auto r = c.Read(2000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"data":{},"message":"Request entity too large.","status":413})");
}

TEST_F(ServerTest, DeclaredBodyOverTheDefaultLimitOnAnUnknownRouteIs413) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5242880\r\n\r\n");
  auto r = c.Read(2000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, ChunkedOversizedBodyIs413) {
  StartServer();
  TestConnection c(server_->port());
  std::string chunk(800, 'x');
  c.Send("POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk + "\r\n320\r\n" + chunk +
         "\r\n0\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("\"status\":400"), std::string::npos);
}

TEST_F(ServerTest, CompressesLargeBodiesWhenAccepted) {
  StartServer();
  auto plain = Get("/big");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->Header("content-encoding"), "");
  EXPECT_EQ(plain->Header("vary"), "Accept-Encoding");
  auto gz = Get("/big", "Accept-Encoding: gzip, deflate\r\n");
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->Header("content-encoding"), "gzip");
  EXPECT_LT(gz->body.size(), plain->body.size());
  EXPECT_EQ(Gunzip(gz->body), plain->body);
  auto small = Get("/echo/a", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(small->Header("content-encoding"), "");
}

TEST_F(ServerTest, JsonReadsCarryAStrongETagAnd304WhenItMatches) {
  StartServer();
  auto first = Get("/echo/tag");
  ASSERT_TRUE(first);
  const std::string etag = first->Header("etag");
  EXPECT_EQ(etag.size(), 34u);
  EXPECT_EQ(Get("/echo/tag")->Header("etag"), etag);
  EXPECT_NE(Get("/echo/other")->Header("etag"), etag);

  auto not_modified = Get("/echo/tag", "If-None-Match: \"nope\", " + etag + "\r\n");
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_EQ(not_modified->body, "");
  EXPECT_EQ(not_modified->Header("etag"), etag);
  auto changed = Get("/echo/tag2", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(changed->status, 200);

  // The gzip representation has its own tag; either validates the same resource.
  auto gz = Get("/big", "Accept-Encoding: gzip\r\n");
  auto plain = Get("/big");
  ASSERT_TRUE(gz && plain);
  EXPECT_NE(gz->Header("etag"), plain->Header("etag"));
  auto gz_again = Get("/big", "Accept-Encoding: gzip\r\nIf-None-Match: " + gz->Header("etag") + "\r\n");
  EXPECT_EQ(gz_again->status, 304);
  EXPECT_EQ(gz_again->Header("etag"), gz->Header("etag"));
  EXPECT_EQ(Get("/big", "If-None-Match: " + gz->Header("etag") + "\r\n")->status, 304);

  // Errors and writes carry none.
  EXPECT_EQ(Get("/missing")->Header("etag"), "");
}

TEST_F(ServerTest, HeadSendsHeadersOnly) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("HEAD /echo/abc HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.Read(5000, /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  // Content-Length announces the GET body, none follows: the next response parses cleanly.
  EXPECT_EQ(head->Header("content-length"), "21");
  auto next = c.Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body.rfind("{\"word\":\"next\"", 0), 0u) << next->body;
}

TEST_F(ServerTest, CorsAllowList) {
  ServerOptions o;
  o.origins = {"https://app.example"};
  StartServer(o);
  auto ok = Get("/echo/a", "Origin: https://app.example\r\n");
  EXPECT_EQ(ok->Header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(ok->Header("vary"), "Origin");
  auto denied = Get("/echo/a", "Origin: https://evil.example\r\n");
  EXPECT_EQ(denied->Header("access-control-allow-origin"), "");

  TestConnection c(server_->port());
  c.Send(
      "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n"
      "Access-Control-Request-Headers: content-type, authorization\r\n\r\n");
  auto pre = c.Read();
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->Header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(pre->Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre->Header("access-control-allow-headers"), "content-type, authorization");
}

TEST_F(ServerTest, ConnectionCapAnswers503AndCloses) {
  ServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  TestConnection a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.Send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.Send("GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(a.Read());
  ASSERT_TRUE(b.Read());
  TestConnection c(server_->port());
  c.Send("GET /echo/c HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("\"status\":503"), std::string::npos);
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(metrics_.GetCounter("strata_http_connections_rejected_total", "").Value(), 1u);
}

TEST_F(ServerTest, HeaderAndIdleTimeoutsCloseConnections) {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  o.idle_timeout = std::chrono::milliseconds(600);
  StartServer(o);
  TestConnection slow(server_->port());
  slow.Send("GET /echo/a HTTP/1.1\r\nHost: x\r\n");  // never finishes its header
  EXPECT_TRUE(slow.WaitClosed(3000));

  TestConnection idle(server_->port());
  idle.Send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(idle.Read());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.WaitClosed(3000));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequestsAndClosesIdleOnes) {
  StartServer();
  TestConnection idle(server_->port());
  idle.Send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(idle.Read());
  TestConnection busy(server_->port());
  busy.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread stopper([&] { server_->Shutdown(); });
  auto r = busy.Read(3000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(idle.WaitClosed(3000));
  stopper.join();
  TestConnection after(server_->port());
  EXPECT_FALSE(after.connected());
}

TEST_F(ServerTest, CountsRequestsByRoutePattern) {
  StartServer();
  Get("/echo/a");
  Get("/echo/b");
  Get("/nope");
  // A request is counted just after its response is written: allow the server a moment.
  const std::string want_ok = "strata_http_requests_total{route=\"/echo/{word}\",method=\"GET\",status=\"200\"} 2";
  const std::string want_404 = "strata_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1";
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = metrics_.Render();
    if (text.find(want_ok) != std::string::npos && text.find(want_404) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(text.find(want_ok), std::string::npos) << text;
  EXPECT_NE(text.find(want_404), std::string::npos) << text;
  EXPECT_NE(text.find("strata_http_request_duration_seconds_count{route=\"/echo/{word}\"} 2"), std::string::npos);
}

TEST_F(ServerTest, StreamsChunkedBodiesUntilTheStreamEnds) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.Read(5000, /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->Header("content-length"), "");
  EXPECT_EQ(head->Header("content-type"), "text/event-stream");
  // Pieces of one Next() go out as one chunk; an empty Next() sends nothing; the last chunk ends it.
  EXPECT_EQ(c.ReadUntilClosed(), "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
}

TEST_F(ServerTest, ShutdownEndsStreamsAtOnce) {
  StartServer();
  TestConnection c(server_->port());
  c.Send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.Read(5000, /*head_only=*/true));
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));  // not the grace period
  EXPECT_EQ(c.ReadUntilClosed(), "0\r\n\r\n");
}

}  // namespace
}  // namespace strata::http
