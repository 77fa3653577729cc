// Store: the database behind Strata's collections. Implementations: SQLite (embedded, the
// default) and, later, PostgreSQL. Every method is safe to call from any thread.
//
// Reads run on the calling thread's own read connection. Writes are queued to one writer, which
// commits concurrent writes together in one transaction (group commit) and reports each write's
// outcome once its transaction is durable; a failing write is rolled back alone (a savepoint per
// write) and never fails the writes committed with it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/sql_value.hpp"
#include "util/status.hpp"

namespace strata::store {

enum class Dialect { kSqlite, kPostgres };

struct ColumnRef;

// Rows of a query, materialized. A plain value.
struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<util::SqlValue>> rows;

  // The index of a column, or -1.
  int ColumnIndex(std::string_view name) const;

  // Adds a copy of `row`.
  void Append(std::span<const ColumnRef> row);
};

// A column of the row a query is on, read in place: `text` (of text and blobs) points into the
// database's copy of the row and is valid only during the call that receives it.
struct ColumnRef {
  enum class Type : uint8_t { kNull, kInteger, kReal, kText, kBlob };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string_view text;

  static ColumnRef Of(const util::SqlValue& value);  // refers to `value`'s text
  // The columns of `row`, referring to its texts.
  static std::vector<ColumnRef> Of(const std::vector<util::SqlValue>& row);
  util::SqlValue Value() const;  // an owned copy, as Query returns it
};

// Receives a query's rows one at a time, as they are read (Store::QueryRows). It must not use the
// store while it receives them.
class RowSink {
 public:
  virtual ~RowSink() = default;
  // The result's column names, once, before the first row.
  virtual void Columns(const std::vector<std::string>& names) = 0;
  // The next row. Returns false to read no more.
  virtual bool Row(std::span<const ColumnRef> row) = 0;
};

// The statements of one write, run inside the writer's transaction. Change tracking (caches,
// kept counts) sees every row a statement inserts, updates or deletes, except rows deleted by an
// OR REPLACE conflict: write upserts as INSERT … ON CONFLICT DO UPDATE. Only valid during the WriteFn
// call that received it; not thread-safe.
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement. Returns the number of rows changed, or the database's error.
  virtual util::Result<int64_t> Exec(std::string_view sql, const util::SqlParams& params = {}) = 0;
  // Runs a query inside the transaction (sees the transaction's own changes).
  virtual util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params = {}) = 0;

  // Where each result column of `sql` (a query without parameters) comes from: the table and
  // column it reads unchanged, through views and subqueries, or empty names for a computed one.
  struct ColumnOrigin {
    std::string table;
    std::string column;
  };
  virtual util::Result<std::vector<ColumnOrigin>> ColumnOrigins(std::string_view sql) = 0;
};

// A unit of work for the writer: Ok to keep its changes, an error to roll them back.
using WriteFn = std::function<util::Status(Tx&)>;
// Called once with the write's outcome after its transaction committed (or failed), on the
// writer's thread: keep it short and hand off to the caller's own thread.
using WriteDone = std::function<void(util::Status)>;

class Store {
 public:
  virtual ~Store() = default;

  virtual Dialect dialect() const = 0;

  // Checks that the database answers a query, from the calling thread's read connection.
  // Returns Ok, or Unavailable with the reason.
  virtual util::Status Ping() = 0;

  // Runs a read-only query on the calling thread's read connection, on a snapshot that includes
  // every write acknowledged before the call (and, within a millisecond, other processes'
  // commits). Returns the rows, or InvalidArgument/IoError from the database.
  virtual util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params = {}) = 0;

  // Runs a read-only query as Query does, handing each row to `sink` as it is read rather than
  // keeping the result: for results turned straight into text. Returns the database's error, if
  // any, after the rows read before it.
  virtual util::Status QueryRows(std::string_view sql, const util::SqlParams& params, RowSink& sink);

  // Runs a read-only query as Query does, and keeps its result until a commit changes one of the
  // tables it reads (or the schema): for small results of costly queries, such as counts. A
  // result is never served once the write that changed it has been acknowledged.
  virtual util::Result<ResultSet> QueryCached(std::string_view sql, const util::SqlParams& params = {}) {
    return Query(sql, params);
  }

  // The number of rows of `table` for which `condition` (an SQL expression over that table's
  // columns, with `params`) holds: what "SELECT count(*) FROM table WHERE condition" answers, on
  // a snapshot that includes every write acknowledged before the call. Implementations may keep
  // the count current across commits rather than count again; SQLite keeps the set of matching
  // rows and, after a commit, checks only the rows it changed.
  virtual util::Result<int64_t> CountWhere(std::string_view table, std::string_view condition,
                                           const util::SqlParams& params);

  // Change tracking, for caches of answers built from several reads (see ReadTracker).
  // The position of the last published change: every write acknowledged before the call is at or
  // before it.
  virtual uint64_t ChangeMark() const { return 0; }
  // Whether a commit after `mark` changed one of `tables` (or the schema, or the database from
  // another process). Without tracking (the default), always true.
  virtual bool ChangedSince(const std::vector<std::string>& tables, uint64_t mark) const {
    (void)tables;
    (void)mark;
    return true;
  }
  // While `sink` is set, the names of the tables each of the calling thread's Query calls reads
  // are appended to it (duplicates included). nullptr stops. Use ReadTracker.
  virtual void TrackReads(std::vector<std::string>* sink) { (void)sink; }

  // Ends the read transactions that threads keep between reads and that are older than the
  // reuse window (one held by an idle thread would hold back the database's checkpoints, and
  // another process's). I/O threads call it now and then.
  virtual void ReleaseStaleSnapshots() {}

  // Queues a write; `done` receives its outcome once durable. Never blocks on the database.
  virtual void Write(WriteFn work, WriteDone done) = 0;

  // Queues a write and waits for its outcome: for the command line and tests, never for I/O threads.
  util::Status WriteAndWait(WriteFn work);
};

// Records what a piece of work reads, for caching its result: the change mark before the first
// read and the tables of every query the calling thread runs while it lives. The work must not
// suspend (co_await) in between, or another coroutine's reads on the thread would be counted.
class ReadTracker {
 public:
  explicit ReadTracker(Store& store) : store_(store), mark_(store.ChangeMark()) { store_.TrackReads(&tables_); }
  ~ReadTracker() { Stop(); }
  ReadTracker(const ReadTracker&) = delete;
  ReadTracker& operator=(const ReadTracker&) = delete;

  void Stop() {
    if (!active_) return;
    active_ = false;
    store_.TrackReads(nullptr);
  }
  uint64_t mark() const { return mark_; }
  // The tables read, sorted and without duplicates (stops tracking).
  std::vector<std::string> Tables();

 private:
  Store& store_;
  uint64_t mark_;
  bool active_ = true;
  std::vector<std::string> tables_;
};

}  // namespace strata::store
