// For the api module's tests: a SQLite store and its catalog in a fresh directory named after the
// running test, holding one collection.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "schema/catalog.hpp"
#include "store/sqlite_store.hpp"

namespace strata::api::testing {

struct TestDatabase {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<schema::Catalog> catalog;
  std::string collection_id;  // of the collection Open created

  // Opens them under `<tmp>/<prefix>_<pid>_<test>` and creates the collection `definition` (JSON);
  // a failure fails the test (call with ASSERT_NO_FATAL_FAILURE).
  void Open(std::string_view prefix, std::string_view definition) {
    dir = std::filesystem::temp_directory_path() / (std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    auto opened = store::OpenSqliteStore({.dir = dir});
    ASSERT_TRUE(opened) << opened.error().ToString();
    store = std::move(*opened);
    auto cat = schema::Catalog::Open(*store);
    ASSERT_TRUE(cat) << cat.error().ToString();
    catalog = std::move(*cat);
    auto created = schema::Wait(
        [&](schema::ChangeDone done) { catalog->Create(boost::json::parse(definition).as_object(), std::move(done)); });
    ASSERT_TRUE(created.status.ok()) << created.status.ToString() << boost::json::serialize(created.errors);
    collection_id = created.collection->id;
  }

  // The catalog before the store it reads, then the directory.
  void Close() {
    catalog.reset();
    store.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

}  // namespace strata::api::testing
