#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>
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
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

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

TEST_F(SqliteStoreTest, ReportsAnUncreatableDirectory) {
  std::filesystem::create_directories(dir_);
  {
    std::ofstream(dir_ / "file") << "x";
  }
  auto store = OpenSqliteStore({.dir = dir_ / "file" / "sub"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), util::Status::Code::kIoError);
  EXPECT_NE(store.error().message().find("cannot create data directory"), std::string::npos);
}

}  // namespace
}  // namespace strata::store
