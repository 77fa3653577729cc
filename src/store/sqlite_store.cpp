#include "store/sqlite_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/limits.hpp"
#include "util/text.hpp"

namespace strata::store {
namespace {

// The calling thread's ReadTracker sink (Store::TrackReads).
thread_local std::vector<std::string>* t_read_sink = nullptr;
// Whether this thread is inside a read on its reader (SqliteStore::Read).
thread_local bool t_reading = false;

util::Status ErrorFrom(sqlite3* db, int rc, std::string_view what) {
  const std::string msg = fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return util::Status::Constraint(msg);
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return util::Status::InvalidArgument(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return util::Status::Unavailable(msg);
    default:
      return util::Status::IoError(msg);
  }
}

// Upper bound of the memory map each connection reads the database through (address space,
// not memory: pages are shared with the kernel's page cache). SQLite caps it at its compile-time
// SQLITE_MAX_MMAP_SIZE.
constexpr int64_t kMmapSize = int64_t{1} << 34;
// Each connection's page cache, in KiB (negative: a size rather than a page count).
constexpr int kCacheKiB = 32 * 1024;
// WAL sizes, in pages, for a passive checkpoint and for a restart (see SqliteStore::Checkpoint).
constexpr int kCheckpointPages = 1000;
// The writer's page cache, in KiB. Small: SQLite walks the whole cache at the end of every write
// transaction, so a large one slows each commit, and the writer mostly touches the same few
// pages (the right edges of the B-trees) while the readers keep the large caches.
constexpr int kWriterCacheKiB = 2 * 1024;
// How often an idle writer looks for commits by other processes, which QueryCached must see.
constexpr auto kForeignCommitPoll = std::chrono::milliseconds(100);
// Rows a table's change log keeps (and rows one batch may list per table); past it, counts that
// are further behind count again.
constexpr std::size_t kChangeLogRows = 1 << 16;
// Counts kept by CountWhere, and the memory of their bitmaps; past either, they are all dropped.
constexpr std::size_t kMaxCounts = 1024;
constexpr std::size_t kMaxCountedBytes = std::size_t{64} << 20;
// A kept count whose table has its rowids above this counts with a query instead (the set of
// matching rows is a bitmap indexed by rowid: 8 MiB at most).
constexpr int64_t kMaxCountedRowid = int64_t{1} << 26;
// A kept count more than this many changed rows behind counts again rather than check each.
constexpr std::size_t kMaxCatchUpRows = 4096;
// Results kept by QueryCached; past it they are all dropped.
constexpr std::size_t kMaxCachedResults = 4096;
constexpr int kRestartPages = 4096;
// How long a restart may wait for readers, and how long after one that gave up the next is tried.
constexpr auto kRestartWait = std::chrono::milliseconds(100);
constexpr auto kRestartRetry = std::chrono::seconds(1);
// How long a thread's reads may share one read transaction (see SqliteStore::Refresh).
constexpr auto kSnapshotReuse = std::chrono::milliseconds(1);

// One SQLite connection with its prepared-statement cache. Used by one thread at a time.
class Connection {
  struct Cached {
    sqlite3_stmt* stmt;
    std::vector<std::string> tables;  // the tables the statement reads, lower case
  };

 public:
  static util::Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    auto conn = std::unique_ptr<Connection>(new Connection(raw));
    if (rc != SQLITE_OK) {
      return std::unexpected(util::Status::IoError(
          fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))));
    }
    sqlite3_busy_timeout(raw, static_cast<int>(kBusyTimeout.count()));
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_set_authorizer(raw, &Connection::Authorize, conn.get());
    // Pages are read through a shared memory map rather than copied by pread into each
    // connection's cache, and the cache holds the hot part of the database.
    const std::string tuning =
        fmt::format("PRAGMA mmap_size={}; PRAGMA cache_size=-{}; PRAGMA temp_store=MEMORY;", kMmapSize, kCacheKiB);
    if (auto st = conn->ExecScript(tuning.c_str()); !st.ok()) return std::unexpected(st);
    return conn;
  }
  ~Connection() {
    for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  util::Status ExecScript(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      auto st = util::Status::IoError(fmt::format("{}: {}", sql, err ? err : sqlite3_errmsg(db_)));
      sqlite3_free(err);
      return st;
    }
    return util::Status::Ok();
  }

  util::Result<int64_t> Exec(std::string_view sql, const util::SqlParams& params) {
    auto stmt = Prepare(sql, params);
    if (!stmt) return std::unexpected(stmt.error());
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    }
    Reset(*stmt);
    if (rc != SQLITE_DONE) return std::unexpected(ErrorFrom(db_, rc, "statement failed"));
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

  util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params) {
    // Keeps every row.
    class Collect final : public RowSink {
     public:
      explicit Collect(ResultSet& rs) : rs_(rs) {}
      void Columns(const std::vector<std::string>& names) override { rs_.columns = names; }
      bool Row(std::span<const ColumnRef> row) override {
        rs_.Append(row);
        return true;
      }

     private:
      ResultSet& rs_;
    };
    ResultSet rs;
    Collect collect(rs);
    if (auto st = QueryRows(sql, params, collect); !st.ok()) return std::unexpected(std::move(st));
    return rs;
  }

  // Hands each row of `sql` to `sink` as it is stepped to, read in place.
  util::Status QueryRows(std::string_view sql, const util::SqlParams& params, RowSink& sink) {
    auto stmt = Prepare(sql, params);
    if (!stmt) return stmt.error();
    // Reset even if the sink throws: the statement stays cached, ready for its next use.
    struct ResetOnExit {
      sqlite3_stmt* stmt;
      ~ResetOnExit() { Reset(stmt); }
    } reset{*stmt};
    int rc = Step(sql, *stmt);
    // Columns are read after the first step: a statement prepared before a schema change is
    // prepared again by that step, and `SELECT *` may then name other columns.
    const int n = sqlite3_column_count(*stmt);
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) names.emplace_back(sqlite3_column_name(*stmt, i));
    sink.Columns(names);
    std::vector<ColumnRef> row(static_cast<std::size_t>(n));
    for (; rc == SQLITE_ROW; rc = sqlite3_step(*stmt)) {
      for (int i = 0; i < n; ++i) ReadColumn(*stmt, i, row[static_cast<std::size_t>(i)]);
      if (!sink.Row(row)) return util::Status::Ok();
    }
    if (rc != SQLITE_DONE) return ErrorFrom(db_, rc, "query failed");
    return util::Status::Ok();
  }

  // Tx::ColumnOrigins, from the statement's column metadata (a statement of its own, not kept).
  util::Result<std::vector<Tx::ColumnOrigin>> ColumnOrigins(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return std::unexpected(ErrorFrom(db_, rc, "prepare failed"));
    }
    std::vector<Tx::ColumnOrigin> origins;
    const int n = stmt ? sqlite3_column_count(stmt) : 0;
    for (int i = 0; i < n; ++i) {
      const char* table = sqlite3_column_table_name(stmt, i);
      const char* column = sqlite3_column_origin_name(stmt, i);
      origins.push_back({table ? table : "", column ? column : ""});
    }
    sqlite3_finalize(stmt);
    return origins;
  }

  // Calls `row` with the first column of each row, as an integer, without keeping the rows.
  util::Status ScanInts(std::string_view sql, const util::SqlParams& params, const std::function<void(int64_t)>& row) {
    class Ints final : public RowSink {
     public:
      explicit Ints(const std::function<void(int64_t)>& row) : row_(row) {}
      void Columns(const std::vector<std::string>&) override {}
      bool Row(std::span<const ColumnRef> row) override {
        row_(row.empty() ? 0 : row[0].integer);
        return true;
      }

     private:
      const std::function<void(int64_t)>& row_;
    };
    Ints ints(row);
    return QueryRows(sql, params, ints);
  }

  // The tables `sql` reads (lower case), as of the last time it was prepared (Query keeps it
  // current when a schema change makes SQLite prepare it again).
  util::Result<std::vector<std::string>> Tables(std::string_view sql) {
    auto cached = Statement(sql);
    if (!cached) return std::unexpected(cached.error());
    return (*cached)->tables;
  }

  // The tables `sql` reads under the current schema, from a fresh prepare (not cached).
  util::Result<std::vector<std::string>> FreshTables(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    preparing_tables_.clear();
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) return std::unexpected(ErrorFrom(db_, rc, "cannot prepare statement"));
    return std::exchange(preparing_tables_, {});
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  // Reads column `i` through its value: one column lookup rather than one per accessor. The
  // value is used only here, by the connection's one thread.
  static void ReadColumn(sqlite3_stmt* stmt, int i, ColumnRef& out) {
    sqlite3_value* v = sqlite3_column_value(stmt, i);
    switch (sqlite3_value_type(v)) {
      case SQLITE_INTEGER:
        out.type = ColumnRef::Type::kInteger;
        out.integer = sqlite3_value_int64(v);
        break;
      case SQLITE_FLOAT:
        out.type = ColumnRef::Type::kReal;
        out.real = sqlite3_value_double(v);
        break;
      case SQLITE_TEXT: {
        out.type = ColumnRef::Type::kText;
        const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
        out.text = std::string_view(p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v)));
        break;
      }
      case SQLITE_BLOB: {
        out.type = ColumnRef::Type::kBlob;
        const auto* p = static_cast<const char*>(sqlite3_value_blob(v));
        out.text = std::string_view(p ? p : "", static_cast<std::size_t>(sqlite3_value_bytes(v)));
        break;
      }
      default:
        out.type = ColumnRef::Type::kNull;
    }
  }

  static void Reset(sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }

  // The first step of `sql`'s cached statement. A schema change since it was prepared makes
  // SQLite prepare it again inside this step; the tables it reads are then taken again.
  int Step(std::string_view sql, sqlite3_stmt* stmt) {
    const int before = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0);
    preparing_tables_.clear();
    const int rc = sqlite3_step(stmt);
    if (sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0) != before) {
      if (auto it = cache_.find(sql); it != cache_.end()) it->second.tables = std::exchange(preparing_tables_, {});
    }
    return rc;
  }

  // The cached statement for `sql`, prepared on first use.
  util::Result<const Cached*> Statement(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return &it->second;
    if (cache_.size() >= kStatementCacheSize) {
      for (auto& [k, c] : cache_) sqlite3_finalize(c.stmt);
      cache_.clear();
    }
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    preparing_tables_.clear();
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return std::unexpected(ErrorFrom(db_, rc, "cannot prepare statement"));
    if (!stmt) return std::unexpected(util::Status::InvalidArgument("empty statement"));
    for (; tail && *tail; ++tail) {
      if (*tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r' && *tail != ';') {
        sqlite3_finalize(stmt);
        return std::unexpected(util::Status::InvalidArgument("one statement at a time"));
      }
    }
    auto [it, inserted] = cache_.emplace(std::string(sql), Cached{stmt, std::move(preparing_tables_)});
    preparing_tables_ = {};
    return &it->second;
  }

  // The cached statement for `sql`, with `params` bound.
  util::Result<sqlite3_stmt*> Prepare(std::string_view sql, const util::SqlParams& params) {
    auto cached = Statement(sql);
    if (!cached) return std::unexpected(cached.error());
    sqlite3_stmt* stmt = (*cached)->stmt;
    if (static_cast<std::size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
      return std::unexpected(util::Status::InvalidArgument(
          fmt::format("statement expects {} parameters, got {}", sqlite3_bind_parameter_count(stmt), params.size())));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              rc = sqlite3_bind_null(stmt, idx);
            } else if constexpr (std::is_same_v<T, bool>) {
              rc = sqlite3_bind_int(stmt, idx, v ? 1 : 0);
            } else if constexpr (std::is_same_v<T, int64_t>) {
              rc = sqlite3_bind_int64(stmt, idx, v);
            } else if constexpr (std::is_same_v<T, double>) {
              rc = sqlite3_bind_double(stmt, idx, v);
            } else {
              rc = sqlite3_bind_text64(stmt, idx, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
            }
          },
          params[i]);
      if (rc != SQLITE_OK) {
        Reset(stmt);
        return std::unexpected(ErrorFrom(db_, rc, "cannot bind parameter"));
      }
    }
    return stmt;
  }

  // Collects the tables a statement being prepared reads (SQLite asks for each one).
  static int Authorize(void* self, int action, const char* table, const char*, const char*, const char*) {
    auto* conn = static_cast<Connection*>(self);
    const int previous = std::exchange(conn->last_action_, action);
    // A DELETE without WHERE would empty the table without visiting its rows, and the update hook
    // (change tracking) would not see them: IGNORE turns that shortcut off, and the rows are still
    // deleted. Not where IGNORE means "skip": SQLite's own tables, and the check DROP TABLE makes
    // right after its own.
    const bool after_drop =
        previous == SQLITE_DROP_TABLE || previous == SQLITE_DROP_TEMP_TABLE || previous == SQLITE_DROP_VIEW ||
        previous == SQLITE_DROP_TEMP_VIEW || previous == SQLITE_DROP_VTABLE || previous == SQLITE_DROP_INDEX ||
        previous == SQLITE_DROP_TEMP_INDEX || previous == SQLITE_DROP_TRIGGER || previous == SQLITE_DROP_TEMP_TRIGGER;
    if (action == SQLITE_DELETE && table && sqlite3_strnicmp(table, "sqlite_", 7) != 0 && !after_drop) {
      return SQLITE_IGNORE;
    }
    if (action == SQLITE_READ && table) {
      std::string name = util::Lower(table);
      auto& tables = conn->preparing_tables_;
      if (std::find(tables.begin(), tables.end(), name) == tables.end()) tables.push_back(std::move(name));
    }
    return SQLITE_OK;
  }

  sqlite3* db_;
  std::unordered_map<std::string, Cached, util::StringHash, std::equal_to<>> cache_;
  std::vector<std::string> preparing_tables_;
  int last_action_ = 0;  // the authorizer's previous action code
};

class ConnectionTx final : public Tx {
 public:
  explicit ConnectionTx(Connection& c) : c_(c) {}
  util::Result<int64_t> Exec(std::string_view sql, const util::SqlParams& params) override {
    return c_.Exec(sql, params);
  }
  util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params) override {
    return c_.Query(sql, params);
  }
  util::Result<std::vector<ColumnOrigin>> ColumnOrigins(std::string_view sql) override { return c_.ColumnOrigins(sql); }

 private:
  Connection& c_;
};

std::atomic<uint64_t> next_store_id{1};

// A count kept by SqliteStore::CountWhere: which rows of the table match (a bitmap by rowid) as of
// the change mark `mark`.
struct MaintainedCount {
  std::mutex mu;          // one thread brings it up to date at a time
  bool decided = false;   // whether keepable was decided (again after each schema change)
  bool keepable = false;  // else counted by a cached query
  uint64_t decided_at = 0;
  bool built = false;
  std::string table;  // lower case
  uint64_t mark = 0;
  int64_t count = 0;
  std::vector<uint64_t> bits;
  std::size_t accounted_bytes = 0;  // of bits, counted in the store's budget

  void Set(int64_t rowid, bool match) {
    const auto word = static_cast<std::size_t>(rowid >> 6);
    const uint64_t bit = uint64_t{1} << (rowid & 63);
    if (word >= bits.size()) {
      if (!match) return;
      bits.resize(std::max(word + 1, bits.size() * 2), 0);
    }
    const bool was = (bits[word] & bit) != 0;
    if (was == match) return;
    bits[word] ^= bit;
    count += match ? 1 : -1;
  }
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<Connection> writer, std::unique_ptr<Connection> checkpointer)
      : path_(std::move(path)), writer_(std::move(writer)), checkpointer_(std::move(checkpointer)) {
    // Replaces SQLite's automatic checkpoint: see Checkpoint().
    sqlite3_wal_hook(writer_->db(), &SqliteStore::OnWalCommit, this);
    sqlite3_busy_handler(writer_->db(), &SqliteStore::OnBusy, this);
    sqlite3_update_hook(writer_->db(), &SqliteStore::OnUpdate, this);
    // Last, once the connections are set up: from here on only their threads use them.
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
    try {
      writer_thread_ = std::thread([this] { WriterLoop(); });
    } catch (...) {
      StopCheckpointer();
      throw;
    }
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    writer_thread_.join();
    StopCheckpointer();
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  util::Status Ping() override {
    auto reader = ThreadReader();
    if (!reader) return util::Status::Unavailable(reader.error().message());
    std::lock_guard hold((*reader)->mu);
    EndSnapshot(**reader);  // a check of the database as it is now, not of a kept snapshot
    auto rs = (*reader)->conn->Query("PRAGMA schema_version", {});
    if (!rs) return util::Status::Unavailable(fmt::format("database check failed: {}", rs.error().message()));
    return util::Status::Ok();
  }

  util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params) override {
    return ReadQuery(sql, params, t_read_sink);
  }

  util::Status QueryRows(std::string_view sql, const util::SqlParams& params, RowSink& sink) override {
    return Read(sql, t_read_sink, [&](Connection& conn) { return conn.QueryRows(sql, params, sink); });
  }

  util::Result<ResultSet> QueryCached(std::string_view sql, const util::SqlParams& params) override {
    std::string key = ResultKey(sql, params);
    {
      std::shared_lock lock(results_mu_);
      if (auto it = results_.find(key); it != results_.end() && !ChangedSince(it->second.tables, it->second.mark)) {
        if (t_read_sink) t_read_sink->insert(t_read_sink->end(), it->second.tables.begin(), it->second.tables.end());
        return it->second.rs;
      }
    }
    // The mark is read before the query: a commit that lands meanwhile makes the entry out of
    // date at once, never the other way round.
    CachedResult entry{.rs = {}, .tables = {}, .mark = ChangeMark()};
    auto rs = ReadQuery(sql, params, &entry.tables);
    if (!rs) return rs;
    if (t_read_sink) t_read_sink->insert(t_read_sink->end(), entry.tables.begin(), entry.tables.end());
    entry.rs = *rs;
    std::unique_lock lock(results_mu_);
    if (results_.size() >= kMaxCachedResults) results_.clear();
    results_.insert_or_assign(std::move(key), std::move(entry));
    return rs;
  }

  util::Result<int64_t> CountWhere(std::string_view table, std::string_view condition,
                                   const util::SqlParams& params) override {
    const std::string count_sql = fmt::format("SELECT count(*) FROM `{}` WHERE ({})", table, condition);
    std::shared_ptr<MaintainedCount> entry;
    {
      std::lock_guard lock(counts_mu_);
      std::string key = ResultKey(count_sql, params);
      if (auto it = counts_.find(key); it != counts_.end()) {
        entry = it->second;
      } else {
        if (counts_.size() >= kMaxCounts || counted_bytes_.load(std::memory_order_relaxed) > kMaxCountedBytes) {
          counts_.clear();  // entries in use live on with their callers
          counted_bytes_.store(0, std::memory_order_relaxed);
        }
        entry = std::make_shared<MaintainedCount>();
        counts_.emplace(std::move(key), entry);
      }
    }
    std::unique_lock lock(entry->mu);
    auto kept = KeepCount(*entry, table, condition, count_sql, params);
    if (kept || kept.error().code() != util::Status::Code::kNotFound) return kept;
    lock.unlock();
    return Store::CountWhere(table, condition, params);  // not one that can be kept
  }

  uint64_t ChangeMark() const override { return published_.load(std::memory_order_acquire); }

  bool ChangedSince(const std::vector<std::string>& tables, uint64_t mark) const override {
    std::shared_lock lock(versions_mu_);
    if (epoch_at_ > mark) return true;
    for (const auto& t : tables) {
      if (auto it = versions_.find(t); it != versions_.end() && it->second > mark) return true;
    }
    return false;
  }

  void TrackReads(std::vector<std::string>* sink) override { t_read_sink = sink; }

  void ReleaseStaleSnapshots() override { ReleaseIdleSnapshots(kSnapshotReuse); }

  void Write(WriteFn work, WriteDone done) override {
    {
      std::lock_guard lock(queue_mu_);
      if (!stopping_) {
        queue_.push_back({std::move(work), std::move(done)});
        work = nullptr;
      }
    }
    if (work) {
      done(util::Status::Unavailable("the store is shutting down"));
      return;
    }
    queue_cv_.notify_one();
  }

 private:
  struct Pending {
    WriteFn work;
    WriteDone done;
  };

  void WriterLoop() {
    std::vector<Pending> batch;
    (void)ForeignCommit();  // the starting point
    for (;;) {
      {
        std::unique_lock lock(queue_mu_);
        // Idle, it still looks for other processes' commits now and then (see QueryCached).
        if (!queue_cv_.wait_for(lock, kForeignCommitPoll, [this] { return stopping_ || !queue_.empty(); })) {
          lock.unlock();
          BumpVersions();
          CheckpointIdle();
          continue;
        }
        if (queue_.empty()) return;  // stopping, and everything queued is done
        while (!queue_.empty() && batch.size() < kMaxWritesPerBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunBatch(batch);
      batch.clear();
    }
  }

  // One transaction for the whole batch; a savepoint per write so that a failing write is undone
  // alone. The callers learn their outcome only after COMMIT returned (durable with synchronous=FULL).
  void RunBatch(std::vector<Pending>& batch) {
    std::vector<util::Status> results(batch.size());
    ConnectionTx tx(*writer_);
    if (auto begin = writer_->Exec("BEGIN IMMEDIATE", {}); !begin) {
      for (auto& p : batch) p.done(begin.error());
      return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (auto sp = writer_->Exec("SAVEPOINT strata_write", {}); !sp) {
        results[i] = sp.error();
        continue;
      }
      try {
        results[i] = batch[i].work(tx);
      } catch (const std::exception& e) {
        results[i] = util::Status::Internal(fmt::format("write failed: {}", e.what()));
      }
      if (!results[i].ok()) (void)writer_->Exec("ROLLBACK TO strata_write", {});
      (void)writer_->Exec("RELEASE strata_write", {});
    }
    if (auto commit = writer_->Exec("COMMIT", {}); !commit) {
      spdlog::error("group commit of {} writes failed: {}", batch.size(), commit.error().ToString());
      (void)writer_->ExecScript("ROLLBACK");
      for (auto& r : results) {
        if (r.ok()) r = commit.error();
      }
    }
    // Before anyone learns of the commit: every read that starts after that sees it.
    last_commit_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_release);
    BumpVersions();
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    // After the answers, which a checkpoint waiting for readers would otherwise hold back.
    Checkpoint();
  }

  // Brings `e` up to date and returns its count; NotFound when the condition cannot be kept by
  // checking changed rows (it reads other tables, or other rows of its own through a subquery,
  // or the table's rowids are too large), and the caller counts with a query. `e.mu` is held.
  util::Result<int64_t> KeepCount(MaintainedCount& e, std::string_view table, std::string_view condition,
                                  const std::string& count_sql, const util::SqlParams& params) {
    const util::Status not_kept = util::Status::NotFound("count not kept");
    const uint64_t mark = ChangeMark();
    if (e.built && e.mark == mark) return e.count;
    bool schema_moved = false;
    {
      std::shared_lock versions(versions_mu_);
      schema_moved = epoch_at_ > e.decided_at;
    }
    if (!e.decided || schema_moved) {
      // Decided under the current schema (a renamed table or a view redefined reads others).
      auto reader = ThreadReader();
      if (!reader) return std::unexpected(reader.error());
      std::unique_lock hold((*reader)->mu);
      EndSnapshot(**reader);  // the schema as it is now, not as a kept snapshot saw it
      auto tables = (*reader)->conn->FreshTables(count_sql);
      hold.unlock();
      if (!tables) return std::unexpected(tables.error());
      std::string lower = util::Lower(table);
      e.keepable =
          *tables == std::vector<std::string>{lower} && util::Lower(condition).find("select") == std::string::npos;
      e.table = std::move(lower);
      e.decided = true;
      e.decided_at = mark;
      e.built = false;
      if (e.keepable) WatchTable(e.table);
    }
    if (!e.keepable) return std::unexpected(not_kept);
    if (t_read_sink) t_read_sink->push_back(e.table);

    // The rows changed since the count was last brought up to date, or a reason to count again.
    std::vector<int64_t> changed;
    bool recount = !e.built;
    if (!recount) {
      std::shared_lock versions(versions_mu_);
      const auto v = versions_.find(e.table);
      if (epoch_at_ > e.mark) {
        recount = true;
      } else if (v != versions_.end() && v->second > e.mark) {
        const auto log = logs_.find(e.table);
        if (log == logs_.end() || log->second.complete_after > e.mark) {
          recount = true;
        } else {
          for (auto it = log->second.rows.rbegin(); it != log->second.rows.rend() && it->first > e.mark; ++it) {
            if (it->first <= mark) changed.push_back(it->second);
            if (changed.size() > kMaxCatchUpRows) break;
          }
          recount = changed.size() > kMaxCatchUpRows;
        }
      }
    }
    if (recount) {
      e.bits.clear();
      e.count = 0;
      bool too_large = false;
      auto st =
          ReadScan(fmt::format("SELECT rowid FROM `{}` WHERE ({})", e.table, condition), params, [&](int64_t rowid) {
            if (rowid < 0 || rowid >= kMaxCountedRowid) {
              too_large = true;
            } else if (!too_large) {
              e.Set(rowid, true);
            }
          });
      if (!st.ok()) return std::unexpected(st);
      if (too_large) {
        e.bits = {};
        e.keepable = false;
        return std::unexpected(not_kept);
      }
    } else {
      std::sort(changed.begin(), changed.end());
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      const std::string check = fmt::format("SELECT 1 FROM `{}` WHERE ({}) AND rowid = ?", e.table, condition);
      util::SqlParams check_params = params;
      check_params.emplace_back(int64_t{0});
      for (int64_t rowid : changed) {
        if (rowid < 0 || rowid >= kMaxCountedRowid) {
          e.keepable = false;
          return std::unexpected(not_kept);
        }
        check_params.back() = rowid;
        auto hit = ReadQuery(check, check_params, nullptr);
        if (!hit) return std::unexpected(hit.error());
        e.Set(rowid, !hit->rows.empty());
      }
    }
    // The bitmap only grows (clear() keeps its memory): count what it added.
    const std::size_t bytes = e.bits.capacity() * sizeof(uint64_t);
    counted_bytes_.fetch_add(bytes - e.accounted_bytes, std::memory_order_relaxed);
    e.accounted_bytes = bytes;
    e.built = true;
    e.mark = mark;
    return e.count;
  }

  // Starts the change log of `table` (rows are logged only for tables with kept counts). The log
  // is complete from the next batch on.
  void WatchTable(const std::string& table) {
    std::unique_lock lock(versions_mu_);
    if (logs_.contains(table)) return;
    logs_[table].complete_after = published_.load(std::memory_order_relaxed);
  }

  // Runs a query on the calling thread's reader, passing the first column of each row to `row`.
  util::Status ReadScan(std::string_view sql, const util::SqlParams& params, const std::function<void(int64_t)>& row) {
    return Read(sql, nullptr, [&](Connection& conn) { return conn.ScanInts(sql, params, row); });
  }

  // Runs a query on the calling thread's reader; appends the tables it reads to `tables` when
  // given (after the snapshot is current: a statement is prepared against the schema it sees).
  util::Result<ResultSet> ReadQuery(std::string_view sql, const util::SqlParams& params,
                                    std::vector<std::string>* tables) {
    ResultSet rs;
    auto st = Read(sql, tables, [&](Connection& conn) {
      auto result = conn.Query(sql, params);
      if (!result) return result.error();
      rs = std::move(*result);
      return util::Status::Ok();
    });
    if (!st.ok()) return std::unexpected(std::move(st));
    return rs;
  }

  // Runs `query` (a Status(Connection&)) on the calling thread's reader, on a snapshot as
  // Refresh decides, and adds the tables `sql` read to `tables` (unless null).
  template <typename Query>
  util::Status Read(std::string_view sql, std::vector<std::string>* tables, Query query) {
    // A row sink that reads again would wait forever on its own thread's reader.
    if (t_reading) return util::Status::Internal("a read from inside a row sink (QueryRows) on the same thread");
    auto reader = ThreadReader();
    if (!reader) return reader.error();
    Reader& r = **reader;
    std::lock_guard hold(r.mu);
    t_reading = true;
    struct Done {
      ~Done() { t_reading = false; }
    } done;
    const auto now = Refresh(r);
    util::Status st;
    try {
      st = query(*r.conn);
    } catch (...) {
      EndSnapshot(r);
      throw;
    }
    if (st.ok() && tables) {
      // After the query: its step has prepared it again if the schema changed.
      auto read = r.conn->Tables(sql);
      if (!read) {
        EndSnapshot(r);
        return read.error();
      }
      tables->insert(tables->end(), read->begin(), read->end());
    }
    if (!st.ok() || !KeepSnapshot(r, now)) EndSnapshot(r);
    return st;
  }

  // A thread's read connection and the read transaction it keeps open between queries. Its thread
  // holds `mu` around each use; another thread may take it to end a snapshot the owner left open
  // (ReleaseIdleSnapshots).
  struct Reader {
    std::mutex mu;
    std::unique_ptr<Connection> conn;
    bool snapshot = false;
    uint64_t snapshot_commits = 0;  // commits_ when the snapshot began
    std::chrono::steady_clock::time_point snapshot_at;
  };

  // Beginning and ending a read transaction costs several file locks (system calls) and the WAL
  // index lookup, more than a point query itself. A thread's reads therefore share one read
  // transaction while no commit has happened since it began and it is younger than
  // kSnapshotReuse: a read that starts after a write was acknowledged always begins a new one, and
  // a commit by another process is seen within kSnapshotReuse.
  //
  // While writes are arriving, snapshots are not kept between queries: a reader that holds one
  // keeps the WAL from being restarted, and it would grow without bound under a steady write load.
  // Returns the time the query starts.
  std::chrono::steady_clock::time_point Refresh(Reader& r) {
    const uint64_t commits = commits_.load(std::memory_order_acquire);
    const auto now = std::chrono::steady_clock::now();
    if (r.snapshot && (r.snapshot_commits != commits || now - r.snapshot_at > kSnapshotReuse)) EndSnapshot(r);
    if (r.snapshot) return now;
    // Deferred: the snapshot itself is taken by the first read, after `commits` was loaded.
    if (r.conn->Exec("BEGIN", {})) {
      r.snapshot = true;
      r.snapshot_commits = commits;
      r.snapshot_at = now;
    }
    return now;
  }

  // Whether `r`'s snapshot may serve the thread's next query: nothing was committed since it
  // began, and nothing for kSnapshotReuse before `now`.
  bool KeepSnapshot(const Reader& r, std::chrono::steady_clock::time_point now) const {
    if (commits_.load(std::memory_order_acquire) != r.snapshot_commits) return false;
    const auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_commit_.load(std::memory_order_relaxed)));
    return now - last >= kSnapshotReuse;
  }

  // Ends the snapshots older than `min_age` that threads keep between queries; readers in the
  // middle of a query are left alone. A snapshot left open by a thread that has gone idle would
  // keep every checkpoint from copying the WAL past it, and the WAL from starting over.
  void ReleaseIdleSnapshots(std::chrono::steady_clock::duration min_age) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(readers_mu_);
    for (auto& r : readers_) {
      std::unique_lock hold(r->mu, std::try_to_lock);
      if (hold && r->snapshot && now - r->snapshot_at >= min_age) EndSnapshot(*r);
    }
  }

  // The writer's busy handler. The writer waits for another process's write (the CLI) or, in a
  // checkpoint, for this process's readers on older snapshots. Each retry first ends the
  // snapshots that idle threads left open, then waits: 50 µs at first, since the readers it waits
  // for are in the middle of a query, longer later; kBusyTimeout in all at most, and kRestartWait
  // when it restarts the WAL, which can be tried again later.
  static int OnBusy(void* self, int count) {
    auto* store = static_cast<SqliteStore*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) store->busy_since_ = now;
    if (now - store->busy_since_ >= (store->restarting_ ? kRestartWait : kBusyTimeout)) return 0;
    store->ReleaseIdleSnapshots(std::chrono::steady_clock::duration::zero());
    using std::chrono::microseconds;
    std::this_thread::sleep_for(count < 20 ? microseconds(50) : count < 100 ? microseconds(1000) : microseconds(10000));
    return 1;
  }

  static void EndSnapshot(Reader& r) {
    if (!r.snapshot) return;
    r.snapshot = false;
    if (!r.conn->Exec("COMMIT", {})) (void)r.conn->ExecScript("ROLLBACK");
  }

  struct CachedResult {
    ResultSet rs;
    std::vector<std::string> tables;
    uint64_t mark = 0;  // ChangeMark() before the query ran
  };

  static std::string ResultKey(std::string_view sql, const util::SqlParams& params) {
    std::string key(sql);
    for (const auto& p : params) {
      key += '\0';
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              key += 'n';
            } else if constexpr (std::is_same_v<T, bool>) {
              key += v ? "b1" : "b0";
            } else if constexpr (std::is_same_v<T, int64_t>) {
              key += 'i' + std::to_string(v);
            } else if constexpr (std::is_same_v<T, double>) {
              key += fmt::format("d{}", v);
            } else {
              key += fmt::format("s{}:", v.size());
              key += v;
            }
          },
          p);
    }
    return key;
  }

  // Every row the writer inserts, updates or deletes: its table's version moves at the commit,
  // and the row goes to the table's change log (for CountWhere).
  static void OnUpdate(void* self, int, const char*, const char* table, sqlite3_int64 rowid) {
    auto& touched = static_cast<SqliteStore*>(self)->touched_;
    if (touched.empty() || sqlite3_stricmp(touched.back().table.c_str(), table) != 0) {
      std::string name = util::Lower(table);
      auto it = std::find_if(touched.begin(), touched.end(), [&](const Touched& t) { return t.table == name; });
      if (it == touched.end()) {
        touched.push_back({std::move(name), {}, false});
      } else {
        std::rotate(it, it + 1, touched.end());  // the last one is the one being written
      }
    }
    Touched& t = touched.back();
    if (t.overflow) return;
    if (t.rowids.size() >= kChangeLogRows) {
      t.overflow = true;
      t.rowids.clear();
      return;
    }
    t.rowids.push_back(rowid);
  }

  // After a batch, on the writer thread (after commits_ moved): new versions for the tables it
  // touched, and a new epoch when the schema changed or another process committed.
  void BumpVersions() {
    bool schema_changed = false;
    if (auto rs = writer_->Query("PRAGMA schema_version", {}); rs && !rs->rows.empty()) {
      const auto* v = std::get_if<int64_t>(&rs->rows[0][0]);
      schema_changed = v && *v != schema_version_;
      if (v) schema_version_ = *v;
    }
    const bool foreign = ForeignCommit();
    if (touched_.empty() && !schema_changed && !foreign) return;
    // Another process's commit: threads' kept read transactions predate it and must start over.
    if (foreign) commits_.fetch_add(1, std::memory_order_release);
    {
      std::unique_lock lock(versions_mu_);
      const uint64_t seq = published_.load(std::memory_order_relaxed) + 1;
      for (auto& t : touched_) {
        versions_[t.table] = seq;
        auto watched = logs_.find(t.table);
        if (watched == logs_.end()) continue;  // no kept count reads it
        ChangeLog& log = watched->second;
        if (t.overflow) {
          log.rows.clear();
          log.complete_after = seq;
          continue;
        }
        for (int64_t rowid : t.rowids) log.rows.emplace_back(seq, rowid);
        while (log.rows.size() > kChangeLogRows) {
          log.complete_after = std::max(log.complete_after, log.rows.front().first);
          log.rows.pop_front();
        }
      }
      if (schema_changed || foreign) epoch_at_ = seq;
      published_.store(seq, std::memory_order_release);
    }
    touched_.clear();
  }

  // Whether another connection (another process) committed since the last call: its changes
  // bypass the update hook.
  bool ForeignCommit() {
    auto rs = writer_->Query("PRAGMA data_version", {});
    if (!rs || rs->rows.empty()) return false;
    const auto* v = std::get_if<int64_t>(&rs->rows[0][0]);
    if (!v || *v == data_version_) return false;
    const bool first = data_version_ < 0;
    data_version_ = *v;
    return !first;
  }

  static int OnWalCommit(void* self, sqlite3*, const char*, int pages) {
    static_cast<SqliteStore*>(self)->wal_pages_ = pages;
    return SQLITE_OK;
  }

  // After a commit, on the writer thread. Once the WAL holds kCheckpointPages, the checkpointer
  // thread copies it back into the database (a passive checkpoint, as SQLite's automatic one
  // would, but with its writes and its fsync off the commit path), and the WAL starts over from
  // its beginning at a later commit if by then it was all copied and no reader is using it. A
  // steady write or read load can put that moment off indefinitely, so past kRestartPages the
  // writer copies what is left itself, waits for the readers to move off the WAL and restarts it.
  //
  // A restart that cannot finish within kRestartWait (a reader in a long query, or another
  // process's checkpoint) is given up and tried again after kRestartRetry; meanwhile the
  // checkpointer thread goes on copying.
  //
  // The checkpointer is asked again only once kCheckpointPages more frames were written: a page
  // that every commit changes (the right edge of a B-tree) is then copied and synced once per
  // kCheckpointPages frames, not after every commit.
  void Checkpoint() {
    if (wal_pages_ < wal_pages_at_request_) wal_pages_at_request_ = 0;  // the WAL started over
    const auto now = std::chrono::steady_clock::now();
    if (wal_pages_ < kRestartPages || now < restart_after_) {
      if (wal_pages_ >= wal_pages_at_request_ + kCheckpointPages) RequestCheckpoint();
      return;
    }
    ReleaseIdleSnapshots(std::chrono::steady_clock::duration::zero());
    int rc = SQLITE_OK;
    {
      // One checkpoint at a time: SQLite refuses a second one at once rather than wait for it.
      std::lock_guard running(checkpoint_run_mu_);
      restarting_ = true;
      rc = sqlite3_wal_checkpoint_v2(writer_->db(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
      restarting_ = false;
    }
    if (rc == SQLITE_BUSY) {
      restart_after_ = now + kRestartRetry;
    } else if (rc != SQLITE_OK) {
      spdlog::warn("checkpoint failed: {}", sqlite3_errmsg(writer_->db()));
    }
    wal_pages_ = 0;
    wal_pages_at_request_ = 0;
  }

  // When the writer has had nothing to do for a while: the frames written since the checkpointer
  // was last asked are copied too, so that a quiet database does not keep them in the WAL.
  void CheckpointIdle() {
    if (wal_pages_ > wal_pages_at_request_) RequestCheckpoint();
  }

  // Asks the checkpointer thread for a passive checkpoint of the WAL as it is now.
  void RequestCheckpoint() {
    wal_pages_at_request_ = wal_pages_;
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_wanted_ = true;
    }
    checkpoint_cv_.notify_one();
  }

  void StopCheckpointer() {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
    }
    checkpoint_cv_.notify_one();
    checkpoint_thread_.join();
  }

  // The checkpointer thread: a passive checkpoint each time the writer asks for one.
  void CheckpointLoop() {
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_cv_.wait(lock, [this] { return checkpoint_wanted_ || checkpoint_stopping_; });
      if (checkpoint_stopping_) return;
      checkpoint_wanted_ = false;
      lock.unlock();
      ReleaseIdleSnapshots(std::chrono::steady_clock::duration::zero());
      int rc = SQLITE_OK;
      {
        std::lock_guard running(checkpoint_run_mu_);
        rc = sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      }
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        spdlog::warn("checkpoint failed: {}", sqlite3_errmsg(checkpointer_->db()));
      }
      lock.lock();
    }
  }

  // The calling thread's reader, opened on its first use.
  util::Result<Reader*> ThreadReader() {
    struct Slot {
      uint64_t store_id;
      Reader* reader;
    };
    thread_local std::vector<Slot> slots;
    for (const auto& s : slots) {
      if (s.store_id == id_) return s.reader;
    }
    auto conn = Connection::Open(path_, SQLITE_OPEN_READONLY);
    if (!conn) return std::unexpected(conn.error());
    auto reader = std::make_unique<Reader>();
    reader->conn = std::move(*conn);
    Reader* ptr = reader.get();
    {
      std::lock_guard lock(readers_mu_);
      readers_.push_back(std::move(reader));
    }
    // Slots of stores that no longer exist are never matched again (ids are not reused).
    slots.push_back({id_, ptr});
    return ptr;
  }

  const uint64_t id_ = next_store_id.fetch_add(1);
  std::string path_;
  std::unique_ptr<Connection> writer_;        // used by writer_thread_ only
  std::unique_ptr<Connection> checkpointer_;  // used by checkpoint_thread_ only

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;

  std::mutex readers_mu_;  // guards readers_ (its elements have their own lock)
  std::vector<std::unique_ptr<Reader>> readers_;

  // Change tracking (ChangeMark, ChangedSince, QueryCached). Each batch that changed something
  // publishes the next sequence number; versions_ holds, per table, the last one that changed it,
  // and epoch_at_ the last that changed the schema or saw another process's commit.
  // touched_, schema_version_ and data_version_: writer thread only.
  mutable std::shared_mutex versions_mu_;
  std::unordered_map<std::string, uint64_t> versions_;
  // Per table, the rows changed by recent batches: (sequence, rowid), oldest first. Complete for
  // the batches after complete_after; older ones may have been dropped.
  struct ChangeLog {
    std::deque<std::pair<uint64_t, int64_t>> rows;
    uint64_t complete_after = 0;
  };
  std::unordered_map<std::string, ChangeLog> logs_;
  uint64_t epoch_at_ = 0;
  std::atomic<uint64_t> published_{0};
  struct Touched {
    std::string table;
    std::vector<int64_t> rowids;
    bool overflow = false;  // more rows than the log keeps: the batch's rows are not listed
  };
  std::vector<Touched> touched_;
  // Counts kept by CountWhere, by statement and parameters, and the bytes of their bitmaps.
  std::mutex counts_mu_;
  std::unordered_map<std::string, std::shared_ptr<MaintainedCount>> counts_;
  std::atomic<std::size_t> counted_bytes_{0};
  int64_t schema_version_ = -1;
  int64_t data_version_ = -1;
  std::shared_mutex results_mu_;
  std::unordered_map<std::string, CachedResult> results_;

  int wal_pages_ = 0;                                 // frames in the WAL after the last commit (writer thread only)
  int wal_pages_at_request_ = 0;                      // wal_pages_ when the checkpointer was last asked (writer only)
  std::chrono::steady_clock::time_point busy_since_;  // when the writer's current wait began (OnBusy)
  bool restarting_ = false;                           // the writer is restarting the WAL (OnBusy)
  std::chrono::steady_clock::time_point restart_after_;         // no restart before then (Checkpoint)
  std::atomic<uint64_t> commits_{0};                            // transactions committed by the writer
  std::atomic<std::chrono::steady_clock::rep> last_commit_{0};  // when the last one was, steady_clock ticks

  std::mutex checkpoint_run_mu_;  // held while this process runs a checkpoint
  std::mutex checkpoint_mu_;      // guards the two flags below
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stopping_ = false;

  std::thread checkpoint_thread_;  // started by the constructor once everything above exists
  std::thread writer_thread_;      // likewise
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
  auto writer = Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!writer) return std::unexpected(writer.error());
  const std::string cache = fmt::format("PRAGMA cache_size=-{}", kWriterCacheKiB);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", cache.c_str()}) {
    if (auto st = (*writer)->ExecScript(pragma); !st.ok()) return std::unexpected(st);
  }
  auto checkpointer = Connection::Open(path, SQLITE_OPEN_READWRITE);
  if (!checkpointer) return std::unexpected(checkpointer.error());
  if (auto st = (*checkpointer)->ExecScript("PRAGMA synchronous=FULL"); !st.ok()) return std::unexpected(st);
  return std::make_unique<SqliteStore>(path, std::move(*writer), std::move(*checkpointer));
}

}  // namespace strata::store
