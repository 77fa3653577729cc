#include "store/sqlite_store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

namespace strata::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

util::Result<Connection> OpenConnection(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) {
    return std::unexpected(util::Status::IoError(
        fmt::format("cannot open {}: {}", path, db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc))));
  }
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

util::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    auto status = util::Status::IoError(fmt::format("{}: {}", sql, err ? err : sqlite3_errmsg(db)));
    sqlite3_free(err);
    return status;
  }
  return util::Status::Ok();
}

std::atomic<uint64_t> next_store_id{1};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, Connection writer) : path_(std::move(path)), writer_(std::move(writer)) {}

  util::Status Ping() override {
    auto reader = ThreadReader();
    if (!reader) return util::Status::Unavailable(reader.error().message());
    sqlite3_stmt* stmt = (*reader)->ping.get();
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) {
      return util::Status::Unavailable(fmt::format("database check failed: {}", sqlite3_errstr(rc)));
    }
    return util::Status::Ok();
  }

 private:
  struct Reader {
    Connection db;
    Statement ping;
  };

  // The calling thread's read connection, opened on its first use.
  util::Result<Reader*> ThreadReader() {
    struct Slot {
      uint64_t store_id;
      Reader* reader;
    };
    thread_local std::vector<Slot> slots;
    for (const auto& s : slots) {
      if (s.store_id == id_) return s.reader;
    }
    auto db = OpenConnection(path_, SQLITE_OPEN_READONLY);
    if (!db) return std::unexpected(db.error());
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db->get(), "PRAGMA schema_version", -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
        SQLITE_OK) {
      return std::unexpected(util::Status::IoError(sqlite3_errmsg(db->get())));
    }
    auto reader = std::make_unique<Reader>(Reader{std::move(*db), Statement(raw)});
    Reader* ptr = reader.get();
    {
      std::lock_guard lock(mu_);
      readers_.push_back(std::move(reader));
    }
    // Slots of stores that no longer exist are never matched again (ids are not reused).
    slots.push_back({id_, ptr});
    return ptr;
  }

  const uint64_t id_ = next_store_id.fetch_add(1);
  std::string path_;
  Connection writer_;
  std::mutex mu_;  // guards readers_ (only touched when a thread opens its reader)
  std::vector<std::unique_ptr<Reader>> readers_;
};

}  // namespace

util::Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return std::unexpected(
        util::Status::IoError(fmt::format("cannot create data directory {}: {}", options.dir.string(), ec.message())));
  }
  const std::string path = (options.dir / "data.db").string();
  auto writer = OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!writer) return std::unexpected(writer.error());
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto st = Exec(writer->get(), pragma); !st.ok()) return std::unexpected(st);
  }
  return std::make_unique<SqliteStore>(path, std::move(*writer));
}

}  // namespace strata::store
