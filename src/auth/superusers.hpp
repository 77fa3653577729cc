// Superuser accounts (the `_superusers` auth collection) managed from the command line.
// Thread-safe.
#pragma once

#include <string_view>

#include "store/store.hpp"
#include "util/status.hpp"

namespace strata::auth {

// Creates the superuser `email` with `password`, or sets the password of the existing one (which
// also renews its token key, so that its current tokens stop working). Returns Ok, or
// InvalidArgument for a malformed email or a password shorter than 8 characters.
util::Status UpsertSuperuser(store::Store& store, std::string_view email, std::string_view password);

}  // namespace strata::auth
