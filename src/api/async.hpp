// Bridges callback-style completions (the store's writer, the catalog) into coroutines: the
// coroutine suspends, and resumes on its own executor when the callback fires on another thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <utility>

namespace strata::api {

namespace detail {

// Starts the operation with a callback that posts its result back to `executor`.
template <typename R>
struct AwaitInitiation {
  const std::function<void(std::function<void(R)>)>* start;
  boost::asio::any_io_executor executor;

  template <typename Handler>
  void operator()(Handler handler) const {
    auto shared = std::make_shared<Handler>(std::move(handler));
    auto ex = executor;
    (*start)([shared, ex](R result) {
      boost::asio::post(ex, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
    });
  }
};

}  // namespace detail

// R r = co_await Await<R>([&](std::function<void(R)> done) { component.Start(..., std::move(done)); });
// `start` is called at once, on the calling thread.
template <typename R>
boost::asio::awaitable<R> Await(std::function<void(std::function<void(R)>)> start) {
  const boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
  const detail::AwaitInitiation<R> initiation{&start, executor};
  R result = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      initiation, boost::asio::use_awaitable);
  co_return result;
}

}  // namespace strata::api
