// Private to the http module: the wire library's request type behind Request.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace strata::http::detail {

struct RawRequest {
  const boost::beast::http::request<boost::beast::http::string_body>& msg;
};

}  // namespace strata::http::detail
