// The embedded SQLite Store. Thread-safe: each thread that reads gets its own read connection.
#pragma once

#include <filesystem>
#include <memory>

#include "store/store.hpp"
#include "util/status.hpp"

namespace strata::store {

struct SqliteOptions {
  std::filesystem::path dir;  // created if missing; the database is dir/data.db
};

// Opens (creating if needed) the database in options.dir, in WAL mode with synchronous=FULL.
// Returns the store, or IoError saying what could not be created or opened.
util::Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace strata::store
