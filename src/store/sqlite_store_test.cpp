#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <variant>
#include <vector>

namespace strata::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strata_store_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The store in dir_, after `schema` (one statement, if any) is applied; throws (failing the
  // test) if either fails.
  Store& Open(const std::string& schema = "");

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

util::Status Exec(Store& db, std::string sql, util::SqlParams params = {}) {
  return db.WriteAndWait([&](Tx& tx) {
    auto r = tx.Exec(sql, params);
    return r ? util::Status::Ok() : r.error();
  });
}

Store& SqliteStoreTest::Open(const std::string& schema) {
  auto opened = OpenSqliteStore({.dir = dir_});
  if (!opened) throw std::runtime_error(opened.error().ToString());
  store_ = std::move(*opened);
  if (!schema.empty()) {
    if (auto st = Exec(*store_, schema); !st.ok()) throw std::runtime_error(st.ToString());
  }
  return *store_;
}

int64_t Count(Store& db, const std::string& sql, const util::SqlParams& params = {}) {
  auto rs = db.QueryCached(sql, params);
  EXPECT_TRUE(rs) << rs.error().ToString();
  return rs ? std::get<int64_t>(rs->rows.at(0).at(0)) : -1;
}

TEST_F(SqliteStoreTest, CreatesTheDirectoryAndAWalDatabase) {
  auto store = OpenSqliteStore({.dir = dir_ / "nested"});
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "nested" / "data.db"));
  EXPECT_TRUE((*store)->Ping().ok());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "nested" / "data.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, PingsFromManyThreads) {
  auto store = OpenSqliteStore({.dir = dir_});
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) failures += !(*store)->Ping().ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SqliteStoreTest, WritesAreDurableAndVisibleToReaders) {
  {
    auto store = OpenSqliteStore({.dir = dir_});
    ASSERT_TRUE(store);
    auto st = (*store)->WriteAndWait([](Tx& tx) -> util::Status {
      if (auto r = tx.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)"); !r)
        return r.error();
      auto r = tx.Exec("INSERT INTO t (name, score) VALUES (?, ?), (?, ?)",
                       {std::string("a"), 1.5, std::string("it's; --"), std::monostate{}});
      if (!r) return r.error();
      return *r == 2 ? util::Status::Ok() : util::Status::Internal("expected two rows");
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto rs = (*store)->Query("SELECT name, score FROM t ORDER BY id");
    ASSERT_TRUE(rs) << rs.error().ToString();
    ASSERT_EQ(rs->rows.size(), 2u);
    EXPECT_EQ(rs->ColumnIndex("score"), 1);
    EXPECT_EQ(std::get<std::string>(rs->rows[1][0]), "it's; --");
    EXPECT_TRUE(std::holds_alternative<std::monostate>(rs->rows[1][1]));
  }
  auto reopened = OpenSqliteStore({.dir = dir_});
  ASSERT_TRUE(reopened);
  auto rs = (*reopened)->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(rs);
  EXPECT_EQ(std::get<int64_t>(rs->rows[0][0]), 2);
}

TEST_F(SqliteStoreTest, GroupCommitIsolatesAFailingWrite) {
  auto store = OpenSqliteStore({.dir = dir_});
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)
                  ->WriteAndWait([](Tx& tx) -> util::Status {
                    auto r = tx.Exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
                    return r ? util::Status::Ok() : r.error();
                  })
                  .ok());
  // Many writers at once; every third one inserts a duplicate key after a good insert, so its
  // whole write must roll back while its batch-mates commit.
  constexpr int kWriters = 300;
  std::vector<std::thread> threads;
  std::vector<util::Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = (*store)->WriteAndWait([i](Tx& tx) -> util::Status {
        if (auto r = tx.Exec("INSERT INTO t VALUES (?)", {std::string("k") + std::to_string(i)}); !r) return r.error();
        if (i % 3 == 0) {
          if (auto r = tx.Exec("INSERT INTO t VALUES (?)", {std::string("k") + std::to_string(i)}); !r)
            return r.error();
        }
        return util::Status::Ok();
      });
    });
  }
  for (auto& t : threads) t.join();
  int failed = 0;
  for (int i = 0; i < kWriters; ++i) {
    if (i % 3 == 0) {
      EXPECT_EQ(results[i].code(), util::Status::Code::kConstraint) << results[i].ToString();
      ++failed;
    } else {
      EXPECT_TRUE(results[i].ok()) << results[i].ToString();
    }
  }
  auto rs = (*store)->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(rs);
  EXPECT_EQ(std::get<int64_t>(rs->rows[0][0]), kWriters - failed);
}

TEST_F(SqliteStoreTest, BadStatementsAreErrorsNotCrashes) {
  auto store = OpenSqliteStore({.dir = dir_});
  ASSERT_TRUE(store);
  auto bad = (*store)->Query("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), util::Status::Code::kInvalidArgument);
  auto count = (*store)->Query("SELECT ?", {});
  ASSERT_FALSE(count);
  auto two = (*store)->Query("SELECT 1; SELECT 2");
  ASSERT_FALSE(two);
  auto write = (*store)->Query("CREATE TABLE x (a)");
  ASSERT_FALSE(write);  // the read connection is read-only
}

// Keeps the rows handed to it as owned values, up to `max`; throws at row `throw_at` (0: never).
class KeepRows final : public RowSink {
 public:
  explicit KeepRows(std::size_t max = SIZE_MAX, std::size_t throw_at = 0) : max_(max), throw_at_(throw_at) {}
  void Columns(const std::vector<std::string>& names) override { columns = names; }
  bool Row(std::span<const ColumnRef> row) override {
    if (rows.size() + 1 == throw_at_) throw std::runtime_error("sink failed");
    auto& values = rows.emplace_back();
    for (const auto& v : row) values.push_back(v.Value());
    return rows.size() < max_;
  }
  std::vector<std::string> columns;
  std::vector<std::vector<util::SqlValue>> rows;

 private:
  std::size_t max_;
  std::size_t throw_at_;
};

TEST_F(SqliteStoreTest, QueryRowsHandsEachRowInPlaceAndStopsWhenAsked) {
  Store& db = Open("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)");
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (?, ?, ?, x'00ff', NULL)",
                     {int64_t{i}, i + 0.5, std::string("text \"") + std::to_string(i)})
                    .ok());
  }
  const std::string sql = "SELECT * FROM t WHERE i >= ? ORDER BY i";
  KeepRows all;
  ASSERT_TRUE(db.QueryRows(sql, {int64_t{2}}, all).ok());
  EXPECT_EQ(all.columns, (std::vector<std::string>{"i", "r", "s", "b", "n"}));
  auto queried = db.Query(sql, {int64_t{2}});
  ASSERT_TRUE(queried);
  EXPECT_EQ(all.rows, queried->rows);  // the same values as the materialized form
  ASSERT_EQ(all.rows.size(), 4u);
  EXPECT_EQ(all.rows[0][1], util::SqlValue(2.5));
  EXPECT_EQ(all.rows[0][2], util::SqlValue(std::string("text \"2")));
  EXPECT_EQ(all.rows[0][3], util::SqlValue(std::string("\x00\xff", 2)));
  EXPECT_EQ(all.rows[0][4], util::SqlValue(std::monostate{}));

  KeepRows two(2);
  ASSERT_TRUE(db.QueryRows(sql, {int64_t{1}}, two).ok());
  EXPECT_EQ(two.rows.size(), 2u);

  // A sink that throws leaves the statement ready for its next use.
  KeepRows failing(SIZE_MAX, 2);
  EXPECT_THROW((void)db.QueryRows(sql, {int64_t{1}}, failing), std::runtime_error);
  KeepRows again;
  ASSERT_TRUE(db.QueryRows(sql, {int64_t{4}}, again).ok());
  EXPECT_EQ(again.rows.size(), 2u);
  // And a write is not held back by the reader it used.
  ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (9, 0, '', NULL, NULL)").ok());
  KeepRows after;
  ASSERT_TRUE(db.QueryRows(sql, {int64_t{9}}, after).ok());
  EXPECT_EQ(after.rows.size(), 1u);

  KeepRows bad;
  const auto st = db.QueryRows("SELECT nope FROM t", {}, bad);
  EXPECT_EQ(st.code(), util::Status::Code::kInvalidArgument);

  // A sink that reads again gets an error, not a wait on its own reader.
  class Nested final : public RowSink {
   public:
    explicit Nested(Store& db) : db_(db) {}
    void Columns(const std::vector<std::string>&) override {}
    bool Row(std::span<const ColumnRef>) override {
      inner = db_.Query("SELECT 1");
      return false;
    }
    util::Result<ResultSet> inner;

   private:
    Store& db_;
  } nested(db);
  ASSERT_TRUE(db.QueryRows(sql, {int64_t{1}}, nested).ok());
  ASSERT_FALSE(nested.inner);
  EXPECT_EQ(nested.inner.error().code(), util::Status::Code::kInternal);
  EXPECT_TRUE(db.Query("SELECT 1"));  // and reads work again after it
}

TEST_F(SqliteStoreTest, ReportsAnUncreatableDirectory) {
  std::filesystem::create_directories(dir_);
  { std::ofstream(dir_ / "file") << "x"; }
  auto store = OpenSqliteStore({.dir = dir_ / "file" / "sub"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), util::Status::Code::kIoError);
  EXPECT_NE(store.error().message().find("cannot create data directory"), std::string::npos);
}

TEST_F(SqliteStoreTest, AReadAfterAnAcknowledgedWriteSeesItThoughTheThreadKeepsASnapshot) {
  Store& db = Open("CREATE TABLE t (v INTEGER)");
  for (int64_t i = 1; i <= 200; ++i) {
    // The read before the write opens (or keeps) this thread's snapshot; the read after must
    // not be served from it.
    ASSERT_TRUE(db.Query("SELECT count(*) FROM t"));
    ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (?)", {i}).ok());
    auto rs = db.Query("SELECT count(*) FROM t");
    ASSERT_TRUE(rs);
    ASSERT_EQ(std::get<int64_t>(rs->rows[0][0]), i);
  }
}

TEST_F(SqliteStoreTest, AnotherProcessCommitIsSeenWithinTheReuseWindow) {
  Store& db = Open("CREATE TABLE t (v INTEGER)");
  ASSERT_TRUE(db.Query("SELECT count(*) FROM t"));  // this thread now holds a snapshot
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "data.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto rs = db.Query("SELECT count(*) FROM t");
  ASSERT_TRUE(rs);
  EXPECT_EQ(std::get<int64_t>(rs->rows[0][0]), 1);
}

TEST_F(SqliteStoreTest, AReleasedSnapshotNoLongerHoldsBackTheCheckpoint) {
  Store& db = Open("CREATE TABLE t (v INTEGER)");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no recent commit: the snapshot is kept
  // A snapshot from before the insert below, kept by a thread that then ends: only another
  // thread can release it.
  std::thread([&] { ASSERT_TRUE(db.Query("SELECT count(*) FROM t")); }).join();
  ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (1)").ok());
  auto checkpoint = [&] {
    sqlite3* other = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ / "data.db").c_str(), &other), SQLITE_OK);
    int log = -1, done = -1;
    // A first read makes the connection see that the database is in WAL mode.
    EXPECT_EQ(sqlite3_exec(other, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_wal_checkpoint_v2(other, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done), SQLITE_OK);
    sqlite3_close(other);
    return log > 0 && log == done;
  };
  EXPECT_FALSE(checkpoint());  // the kept snapshot pins the frames before the insert
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  db.ReleaseStaleSnapshots();
  EXPECT_TRUE(checkpoint());
}

TEST_F(SqliteStoreTest, TheWalStaysBoundedWhileReadersAndWritersRun) {
  Store& db = Open("CREATE TABLE t (v TEXT)");
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      // As I/O threads do: a query, then other work.
      while (!stop) {
        (void)db.Query("SELECT count(*) FROM t");
        std::this_thread::yield();
      }
    });
  }
  // Every commit adds a page or two to the WAL: without restarts it would pass 40 MB.
  const std::string payload(4000, 'x');
  for (int i = 0; i < 6000; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = Exec(db, "INSERT INTO t VALUES (?)", {payload}).ok();
    // A restart waits a short while for readers in the middle of a query, never the busy timeout.
    const bool prompt = std::chrono::steady_clock::now() - start < std::chrono::seconds(2);
    if (!ok || !prompt) {
      ADD_FAILURE() << "write " << i << (ok ? " stalled" : " failed");
      break;
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_LT(std::filesystem::file_size(dir_ / "data.db-wal"), 24u << 20);
}

// A thread that read once and then went idle keeps its snapshot. Neither the checkpoints nor the
// WAL's restarts may wait for it: no write stalls and the WAL stays bounded.
TEST_F(SqliteStoreTest, AnIdleThreadsSnapshotHoldsBackNeitherWritesNorTheWal) {
  Store& db = Open("CREATE TABLE t (v TEXT)");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no recent commit: the snapshot is kept
  std::mutex mu;
  std::condition_variable cv;
  bool read = false, read_ok = false, stop = false;
  std::thread idle([&] {
    const bool ok = db.Query("SELECT count(*) FROM t").has_value();
    std::unique_lock lock(mu);
    read = true;
    read_ok = ok;
    cv.notify_all();
    cv.wait(lock, [&] { return stop; });
  });
  // However the test ends, the idle thread is let go.
  auto release = [&](std::thread* t) {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    t->join();
  };
  std::unique_ptr<std::thread, decltype(release)> guard(&idle, release);
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return read; });
  }
  ASSERT_TRUE(read_ok);
  // 6,000 pages: past the WAL size at which the writer restarts it. Were the idle snapshot in
  // the way, each commit from there on would wait the busy timeout (5 s) for it.
  const std::string payload(4000, 'x');
  for (int i = 0; i < 6000; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (?)", {payload}).ok());
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "write " << i << " stalled";
  }
  EXPECT_LT(std::filesystem::file_size(dir_ / "data.db-wal"), 24u << 20);
}

TEST_F(SqliteStoreTest, ACachedResultLastsUntilACommitChangesATableItReads) {
  Store& db = Open("CREATE TABLE a (v INTEGER)");
  ASSERT_TRUE(Exec(db, "CREATE TABLE b (v INTEGER)").ok());
  ASSERT_TRUE(Exec(db, "INSERT INTO a VALUES (1), (2)").ok());
  const std::string both = "SELECT count(*) FROM a WHERE v IN (SELECT v FROM b) OR v > ?";
  EXPECT_EQ(Count(db, "SELECT count(*) FROM a"), 2);
  EXPECT_EQ(Count(db, both, {int64_t{0}}), 2);
  EXPECT_EQ(Count(db, both, {int64_t{1}}), 1);  // parameters are part of the key

  // A commit to another table leaves the count of `a` alone but not the query that reads b.
  ASSERT_TRUE(Exec(db, "INSERT INTO b VALUES (1)").ok());
  EXPECT_EQ(Count(db, both, {int64_t{1}}), 2);
  // Every acknowledged write is seen at once: inserts, updates, deletes.
  for (int64_t i = 3; i < 50; ++i) {
    ASSERT_TRUE(Exec(db, "INSERT INTO a VALUES (?)", {i}).ok());
    ASSERT_EQ(Count(db, "SELECT count(*) FROM a"), i);
  }
  ASSERT_TRUE(Exec(db, "UPDATE a SET v = 0 WHERE v = 2").ok());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM a WHERE v = 0"), 1);
  ASSERT_TRUE(Exec(db, "UPDATE a SET v = 2 WHERE v = 0").ok());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM a WHERE v = 0"), 0);
  ASSERT_TRUE(Exec(db, "DELETE FROM a WHERE v > 10").ok());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM a"), 10);
  // Schema changes too.
  ASSERT_TRUE(Exec(db, "ALTER TABLE a ADD COLUMN w INTEGER DEFAULT 7").ok());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM a WHERE w = 7"), 10);
  ASSERT_TRUE(Exec(db, "DROP TABLE b").ok());
  ASSERT_TRUE(Exec(db, "CREATE TABLE b (v INTEGER)").ok());
  EXPECT_EQ(Count(db, both, {int64_t{100}}), 0);
}

TEST_F(SqliteStoreTest, ACachedResultIsDroppedWhenAnotherProcessCommits) {
  Store& db = Open("CREATE TABLE t (v INTEGER)");
  EXPECT_EQ(Count(db, "SELECT count(*) FROM t"), 0);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "data.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  // The idle writer looks for such commits every 100 ms.
  int64_t seen = 0;
  for (int i = 0; i < 50 && seen != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seen = Count(db, "SELECT count(*) FROM t");
  }
  EXPECT_EQ(seen, 1);
}

TEST_F(SqliteStoreTest, CachedCountsStayExactUnderConcurrentWrites) {
  Store& db = Open("CREATE TABLE t (v INTEGER)");
  std::atomic<int64_t> acknowledged{0};
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  std::thread reader([&] {
    while (!stop) {
      // Whatever was acknowledged before the read started must be counted.
      const int64_t before = acknowledged.load();
      const int64_t n = Count(db, "SELECT count(*) FROM t");
      if (n < before) ++stale;
    }
  });
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (1)").ok());
    acknowledged.store(i + 1);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM t"), 500);
}

TEST_F(SqliteStoreTest, AStatementPreparedBeforeASchemaChangeNamesTheNewColumns) {
  Store& db = Open("CREATE TABLE t (a INTEGER)");
  ASSERT_TRUE(Exec(db, "INSERT INTO t VALUES (1)").ok());
  ASSERT_TRUE(db.Query("SELECT * FROM t"));  // prepared and cached
  ASSERT_TRUE(Exec(db, "ALTER TABLE t RENAME COLUMN a TO b").ok());
  ASSERT_TRUE(Exec(db, "ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'x'").ok());
  auto rs = db.Query("SELECT * FROM t");
  ASSERT_TRUE(rs);
  EXPECT_EQ(rs->columns, (std::vector<std::string>{"b", "c"}));
  ASSERT_EQ(rs->rows.size(), 1u);
  EXPECT_EQ(rs->rows[0].size(), 2u);
}

}  // namespace
}  // namespace strata::store

namespace strata::store {
namespace {

int64_t Truth(Store& db, const std::string& condition, const util::SqlParams& params) {
  auto rs = db.Query("SELECT count(*) FROM items WHERE (" + condition + ")", params);
  EXPECT_TRUE(rs) << rs.error().ToString();
  return rs ? std::get<int64_t>(rs->rows.at(0).at(0)) : -1;
}

TEST_F(SqliteStoreTest, KeptCountsFollowInsertsUpdatesAndDeletes) {
  Store& db = Open("CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT, n INTEGER)");
  ASSERT_TRUE(Exec(db, "CREATE TABLE other (id INTEGER PRIMARY KEY)").ok());
  std::mt19937 rng(7);
  const char* statuses[] = {"active", "hidden", "draft"};
  const std::string cond = "`items`.`status` = ? AND n >= ?";
  const util::SqlParams params = {std::string("active"), int64_t{10}};
  for (int round = 0; round < 40; ++round) {
    // A batch of random changes, some in one transaction.
    ASSERT_TRUE(db.WriteAndWait([&](Tx& tx) {
                    for (int i = 0; i < 25; ++i) {
                      const std::string id = "r" + std::to_string(rng() % 300);
                      switch (rng() % 3) {
                        case 0:
                          (void)tx.Exec(
                              "INSERT INTO items VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                              "status = excluded.status, n = excluded.n",
                              {id, std::string(statuses[rng() % 3]), int64_t(rng() % 20)});
                          break;
                        case 1:
                          (void)tx.Exec("UPDATE items SET status = ?, n = ? WHERE id = ?",
                                        {std::string(statuses[rng() % 3]), int64_t(rng() % 20), id});
                          break;
                        default:
                          (void)tx.Exec("DELETE FROM items WHERE id = ?", {id});
                      }
                    }
                    return util::Status::Ok();
                  }).ok());
    auto kept = db.CountWhere("items", cond, params);
    ASSERT_TRUE(kept) << kept.error().ToString();
    EXPECT_EQ(*kept, Truth(db, cond, params)) << "round " << round;
    // Writes elsewhere and a second condition kept side by side.
    ASSERT_TRUE(Exec(db, "INSERT INTO other DEFAULT VALUES").ok());
    auto all = db.CountWhere("items", "1", {});
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, Truth(db, "1", {}));
  }
  // Emptying the table is seen row by row.
  ASSERT_TRUE(Exec(db, "DELETE FROM items").ok());
  EXPECT_EQ(*db.CountWhere("items", cond, params), 0);
  EXPECT_EQ(*db.CountWhere("items", "1", {}), 0);
  ASSERT_TRUE(Exec(db, "INSERT INTO items VALUES ('a', 'active', 12), ('b', 'active', 1)").ok());
  // A schema change counts again.
  ASSERT_TRUE(Exec(db, "ALTER TABLE items ADD COLUMN extra TEXT").ok());
  ASSERT_TRUE(Exec(db, "UPDATE items SET status = 'active', n = 15").ok());
  EXPECT_EQ(*db.CountWhere("items", cond, params), Truth(db, cond, params));
  // A condition that reads another table is counted by a query.
  const std::string joined = "`items`.`n` < (SELECT count(*) FROM other)";
  EXPECT_EQ(*db.CountWhere("items", joined, {}), Truth(db, joined, {}));
  ASSERT_TRUE(Exec(db, "INSERT INTO other DEFAULT VALUES").ok());
  ASSERT_TRUE(Exec(db, "UPDATE items SET n = 100 WHERE rowid % 2 = 0").ok());
  EXPECT_EQ(*db.CountWhere("items", joined, {}), Truth(db, joined, {}));
  EXPECT_FALSE(db.CountWhere("items", "no_such_column = 1", {}));
}

TEST_F(SqliteStoreTest, KeptCountsSurviveBatchesLargerThanTheChangeLog) {
  Store& db = Open("CREATE TABLE items (id INTEGER PRIMARY KEY, status TEXT, n INTEGER)");
  ASSERT_TRUE(Exec(db, "INSERT INTO items (status, n) SELECT 'active', value FROM generate_series(1, 1000)").ok() ||
              Exec(db,
                   "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 1000) "
                   "INSERT INTO items (status, n) SELECT 'active', x FROM s")
                  .ok());
  const std::string cond = "status = 'active'";
  EXPECT_EQ(*db.CountWhere("items", cond, {}), 1000);
  ASSERT_TRUE(Exec(db,
                   "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 70000) "
                   "INSERT INTO items (status, n) SELECT 'active', x FROM s")
                  .ok());
  EXPECT_EQ(*db.CountWhere("items", cond, {}), 71000);
  ASSERT_TRUE(Exec(db, "UPDATE items SET status = 'hidden' WHERE id % 10 = 0").ok());
  EXPECT_EQ(*db.CountWhere("items", cond, {}), Truth(db, cond, {}));
  ASSERT_TRUE(Exec(db, "DELETE FROM items WHERE id = 5").ok());
  EXPECT_EQ(*db.CountWhere("items", cond, {}), Truth(db, cond, {}));
}

}  // namespace
}  // namespace strata::store

namespace strata::store {
namespace {

TEST_F(SqliteStoreTest, KeptCountsOfSelfReferencingAndViewConditionsStayExact) {
  Store& db = Open("CREATE TABLE nodes (id TEXT PRIMARY KEY, parent TEXT, status TEXT)");
  ASSERT_TRUE(Exec(db, "INSERT INTO nodes VALUES ('a', NULL, 'open'), ('b', 'a', 'x'), ('c', 'a', 'x')").ok());
  // Rows whose parent is open: a change to the parent changes whether its children match.
  const std::string cond = "EXISTS (SELECT 1 FROM nodes p WHERE p.id = nodes.parent AND p.status = 'open')";
  EXPECT_EQ(*db.CountWhere("nodes", cond, {}), 2);
  ASSERT_TRUE(Exec(db, "UPDATE nodes SET status = 'closed' WHERE id = 'a'").ok());
  EXPECT_EQ(*db.CountWhere("nodes", cond, {}), 0);

  // A view redefined over another table: its counts follow the new definition.
  ASSERT_TRUE(Exec(db, "CREATE TABLE other (id TEXT PRIMARY KEY, status TEXT)").ok());
  ASSERT_TRUE(Exec(db, "INSERT INTO other VALUES ('z', 'open')").ok());
  ASSERT_TRUE(Exec(db, "CREATE VIEW v AS SELECT id, status FROM nodes").ok());
  EXPECT_EQ(*db.CountWhere("v", "status = 'x'", {}), 2);
  ASSERT_TRUE(Exec(db, "DROP VIEW v").ok());
  ASSERT_TRUE(Exec(db, "CREATE VIEW v AS SELECT id, status FROM other").ok());
  EXPECT_EQ(*db.CountWhere("v", "status = 'open'", {}), 1);
  ASSERT_TRUE(Exec(db, "INSERT INTO other VALUES ('y', 'open')").ok());
  EXPECT_EQ(*db.CountWhere("v", "status = 'open'", {}), 2);
  // A table renamed under a view: cached statements read the new table.
  ASSERT_TRUE(Exec(db, "ALTER TABLE other RENAME TO renamed").ok());
  EXPECT_EQ(*db.CountWhere("v", "status = 'open'", {}), 2);
  auto cached = db.QueryCached("SELECT count(*) FROM v WHERE status = 'open'");
  ASSERT_TRUE(cached);
  ASSERT_TRUE(Exec(db, "INSERT INTO renamed VALUES ('w', 'open')").ok());
  EXPECT_EQ(*db.CountWhere("v", "status = 'open'", {}), 3);
  EXPECT_EQ(std::get<int64_t>(db.QueryCached("SELECT count(*) FROM v WHERE status = 'open'")->rows[0][0]), 3);
}

TEST_F(SqliteStoreTest, DropStatementsStillDropWithChangeTracking) {
  Store& db = Open();
  for (const char* sql :
       {"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "CREATE INDEX t_v ON t (v)",
        "CREATE VIEW tv AS SELECT * FROM t", "CREATE TRIGGER tt AFTER INSERT ON t BEGIN DELETE FROM t WHERE 0; END",
        "CREATE VIRTUAL TABLE ft USING fts5(v)", "DROP TRIGGER tt", "DROP VIEW tv", "DROP INDEX t_v", "DROP TABLE ft",
        "DROP TABLE t", "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE VIEW tv AS SELECT * FROM t",
        "CREATE INDEX t_v ON t (id)"}) {
    EXPECT_TRUE(Exec(db, sql).ok()) << sql;
  }
  auto rs = db.Query("SELECT count(*) FROM sqlite_master WHERE name IN ('tt', 'ft')");
  ASSERT_TRUE(rs);
  EXPECT_EQ(std::get<int64_t>(rs->rows[0][0]), 0);
}

}  // namespace
}  // namespace strata::store
