#include "cache/response_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <variant>
#include <vector>

#include "store/sqlite_store.hpp"

namespace strata::cache {
namespace {

class ResponseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strata_cache_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = store::OpenSqliteStore({.dir = dir_});
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(Exec("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)").ok());
    ASSERT_TRUE(Exec("CREATE TABLE other (id INTEGER PRIMARY KEY)").ok());
    ASSERT_TRUE(Exec("INSERT INTO counters VALUES (1, 0)").ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  util::Status Exec(const std::string& sql) {
    return store_->WriteAndWait([&](store::Tx& tx) {
      auto r = tx.Exec(sql);
      return r ? util::Status::Ok() : r.error();
    });
  }

  // Builds the answer of "the counter" as a read endpoint would: tracked reads, then Put.
  std::string Build(ResponseCache& cache, const std::string& key) {
    store::ReadTracker reads(*store_);
    auto rs = store_->Query("SELECT n FROM counters WHERE id = 1");
    EXPECT_TRUE(rs);
    const std::string body = std::to_string(std::get<int64_t>(rs->rows.at(0).at(0)));
    cache.Put(key, {.body = std::make_shared<const std::string>(body), .etag = "\"" + body + "\""}, reads.Tables(),
              reads.mark());
    return body;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ResponseCacheTest, ServesUntilATableItReadChanges) {
  ResponseCache cache(*store_);
  EXPECT_FALSE(cache.Get("k"));
  EXPECT_EQ(Build(cache, "k"), "0");
  auto hit = cache.Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit->body, "0");
  EXPECT_EQ(hit->etag, "\"0\"");

  // A write to a table it did not read leaves it be.
  ASSERT_TRUE(Exec("INSERT INTO other VALUES (1)").ok());
  EXPECT_TRUE(cache.Get("k"));

  ASSERT_TRUE(Exec("UPDATE counters SET n = 1").ok());
  EXPECT_FALSE(cache.Get("k"));
  EXPECT_EQ(Build(cache, "k"), "1");
  EXPECT_EQ(*cache.Get("k")->body, "1");
  const auto st = cache.stats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.entries, 1u);
}

TEST_F(ResponseCacheTest, SchemaChangesEndEveryEntry) {
  ResponseCache cache(*store_);
  Build(cache, "k");
  ASSERT_TRUE(Exec("CREATE TABLE third (id INTEGER PRIMARY KEY)").ok());
  EXPECT_FALSE(cache.Get("k"));
}

TEST_F(ResponseCacheTest, AnAnswerBuiltAcrossAWriteIsNotKept) {
  ResponseCache cache(*store_);
  store::ReadTracker reads(*store_);
  auto rs = store_->Query("SELECT n FROM counters WHERE id = 1");
  ASSERT_TRUE(rs);
  ASSERT_TRUE(Exec("UPDATE counters SET n = 5").ok());  // lands after the reads began
  cache.Put("k", {.body = std::make_shared<const std::string>("0"), .etag = "\"0\""}, reads.Tables(), reads.mark());
  EXPECT_FALSE(cache.Get("k"));
}

TEST_F(ResponseCacheTest, StaysWithinItsBytesDroppingTheLeastRecentlyUsed) {
  ResponseCache cache(*store_, 256 * 1024);
  const std::string body(1000, 'x');
  for (int i = 0; i < 2000; ++i) {
    store::ReadTracker reads(*store_);
    ASSERT_TRUE(store_->Query("SELECT n FROM counters"));
    cache.Put("key" + std::to_string(i), {.body = std::make_shared<const std::string>(body), .etag = "\"e\""},
              reads.Tables(), reads.mark());
  }
  const auto st = cache.stats();
  EXPECT_LE(st.bytes, 256u * 1024);
  EXPECT_GT(st.entries, 50u);
  EXPECT_LT(st.entries, 260u);
  EXPECT_TRUE(cache.Get("key1999"));  // the newest stay
  EXPECT_FALSE(cache.Get("key0"));
  // Too big for the cache: not kept.
  store::ReadTracker reads(*store_);
  cache.Put("huge", {.body = std::make_shared<const std::string>(64 * 1024, 'y'), .etag = "\"h\""}, reads.Tables(),
            reads.mark());
  EXPECT_FALSE(cache.Get("huge"));
}

TEST_F(ResponseCacheTest, OffWhenSizedZero) {
  ResponseCache cache(*store_, 0);
  EXPECT_FALSE(cache.enabled());
  Build(cache, "k");
  EXPECT_FALSE(cache.Get("k"));
}

// Writers bump the counter while readers serve it through the cache: an answer is never older
// than a write acknowledged before the read began.
TEST_F(ResponseCacheTest, NeverServesOlderThanAnAcknowledgedWrite) {
  ResponseCache cache(*store_);
  std::atomic<int64_t> acknowledged{0};
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  std::atomic<int64_t> hits{0};
  std::thread writer([&] {
    for (int64_t i = 1; i <= 300; ++i) {
      ASSERT_TRUE(Exec("UPDATE counters SET n = " + std::to_string(i)).ok());
      acknowledged.store(i);
    }
    stop.store(true);
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const int64_t floor = acknowledged.load();
        std::string body;
        if (auto hit = cache.Get("counter")) {
          body = *hit->body;
          hits.fetch_add(1);
        } else {
          body = Build(cache, "counter");
        }
        if (std::stoll(body) < floor) stale.fetch_add(1);
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
}  // namespace strata::cache
