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
#include <string>
#include <string_view>
#include <vector>

#include "util/sql_value.hpp"
#include "util/status.hpp"

namespace strata::store {

enum class Dialect { kSqlite, kPostgres };

// Rows of a query, materialized. A plain value.
struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<util::SqlValue>> rows;

  // The index of a column, or -1.
  int ColumnIndex(std::string_view name) const;
};

// The statements of one write, run inside the writer's transaction. Only valid during the WriteFn
// call that received it; not thread-safe.
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement. Returns the number of rows changed, or the database's error.
  virtual util::Result<int64_t> Exec(std::string_view sql, const util::SqlParams& params = {}) = 0;
  // Runs a query inside the transaction (sees the transaction's own changes).
  virtual util::Result<ResultSet> Query(std::string_view sql, const util::SqlParams& params = {}) = 0;
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

  // Runs a read-only query as Query does, and keeps its result until a commit changes one of the
  // tables it reads (or the schema): for small results of costly queries, such as counts. A
  // result is never served once the write that changed it has been acknowledged.
  virtual util::Result<ResultSet> QueryCached(std::string_view sql, const util::SqlParams& params = {}) {
    return Query(sql, params);
  }

  // Ends the calling thread's kept read transaction if it is older than the reuse window (a
  // read transaction held by an idle thread would hold back the database's checkpoints). I/O
  // threads call it now and then.
  virtual void ReleaseStaleSnapshot() {}

  // Queues a write; `done` receives its outcome once durable. Never blocks on the database.
  virtual void Write(WriteFn work, WriteDone done) = 0;

  // Queues a write and waits for its outcome: for the command line and tests, never for I/O threads.
  util::Status WriteAndWait(WriteFn work);
};

}  // namespace strata::store
