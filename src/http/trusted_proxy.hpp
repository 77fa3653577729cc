// Where a request's client address comes from behind a reverse proxy.
#pragma once

#include <string>
#include <vector>

namespace strata::http {

// Behind a reverse proxy (PocketBase's `trustedProxy` settings): the request headers that hold the
// client's address as the proxy saw it. The first of `headers` that a request has decides; in a
// list ("X-Forwarded-For: client, proxy1"), the rightmost entry, the one the proxy added, unless
// `use_leftmost_ip`. A value that is not an IP address is ignored. No headers: the peer's address.
// Only name headers that every request gets from that proxy.
struct TrustedProxy {
  std::vector<std::string> headers;
  bool use_leftmost_ip = false;
};

}  // namespace strata::http
