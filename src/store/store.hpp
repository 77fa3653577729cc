// Store: the database behind Strata's collections. Implementations: SQLite (embedded, the
// default) and, later, PostgreSQL. Every method is safe to call from any thread.
#pragma once

#include "util/status.hpp"

namespace strata::store {

class Store {
 public:
  virtual ~Store() = default;

  // Checks that the database answers a query, from the calling thread's read connection.
  // Returns Ok, or Unavailable with the reason.
  virtual util::Status Ping() = 0;
};

}  // namespace strata::store
