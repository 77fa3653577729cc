// OAuth2 / OpenID Connect sign-in (authorization code with PKCE) for auth collections whose
// options.oauth2 is enabled with providers {name, displayName, clientId, clientSecret, authURL,
// tokenURL, userInfoURL, scope?}.
#pragma once

#include <boost/json/object.hpp>

#include "api/record_change.hpp"
#include "auth/token.hpp"
#include "http/router.hpp"
#include "ratelimit/limiter.hpp"
#include "schema/catalog.hpp"
#include "store/store.hpp"

namespace strata::api {

// The "oauth2" part of auth-methods: each provider with a fresh state, PKCE code verifier and
// challenge, and the authorization URL (ending in "redirect_uri=" for the client to complete).
boost::json::object OAuth2Methods(const schema::Collection& c);

// Registers POST /api/collections/{collection}/auth-with-oauth2. The records it creates are
// published to `publish`. The arguments must outlive the router.
void AddOAuth2Routes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                     ratelimit::RateLimiter& limiter, const RecordChangeSink& publish);

}  // namespace strata::api
