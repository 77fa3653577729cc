#include "api/files_routes.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>

#include "api/record_files.hpp"
#include "api/test_database.hpp"
#include "auth/token.hpp"
#include "files/file_store.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "http/test_client.hpp"
#include "obs/access_log.hpp"
#include "obs/metrics.hpp"
#include "schema/catalog.hpp"

namespace strata::api {
namespace {

namespace fs = std::filesystem;

// Files on local disk, behind a store that refuses a key it cannot hold with InvalidArgument (as a
// remote store may) rather than NotFound.
class StrictFileStore final : public files::FileStore {
 public:
  explicit StrictFileStore(std::unique_ptr<files::FileStore> local) : local_(std::move(local)) {}
  util::Result<std::unique_ptr<files::FileWriter>> Create(std::string_view key) override {
    if (!files::ValidKey(key)) return std::unexpected(Refused());
    return local_->Create(key);
  }
  util::Result<std::unique_ptr<files::FileReader>> Open(std::string_view key) override {
    if (!files::ValidKey(key)) return std::unexpected(Refused());
    return local_->Open(key);
  }
  util::Result<files::FileInfo> Stat(std::string_view key) override {
    if (!files::ValidKey(key)) return std::unexpected(Refused());
    return local_->Stat(key);
  }
  util::Status Delete(std::string_view key) override { return files::ValidKey(key) ? local_->Delete(key) : Refused(); }
  util::Status DeleteAll(std::string_view prefix) override {
    return files::ValidKey(prefix) ? local_->DeleteAll(prefix) : Refused();
  }
  std::optional<fs::path> LocalPath(std::string_view key) override { return local_->LocalPath(key); }

 private:
  static util::Status Refused() { return util::Status::InvalidArgument("invalid file key"); }
  std::unique_ptr<files::FileStore> local_;
};

class FilesRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(db_.Open("strata_files_routes_test", R"J({"name":"docs","viewRule":"","fields":[
                                       {"name":"f","type":"file","maxSelect":1}]})J"));
    collection_id_ = db_.collection_id;
    ASSERT_TRUE(CreateFilesTable(*db_.store).ok());
    auto tokens = auth::TokenService::Open(*db_.store);
    ASSERT_TRUE(tokens) << tokens.error().ToString();
    tokens_ = std::move(*tokens);
    auto local = files::OpenLocalFileStore(db_.dir / "storage");
    ASSERT_TRUE(local) << local.error().ToString();
    files_ = std::make_unique<StrictFileStore>(std::move(*local));
    AddFileRoutes(router_, *db_.store, *db_.catalog, *tokens_, *files_);
    server_ = std::make_unique<http::Server>(http::ServerOptions{.port = 0, .threads = 1}, router_, metrics_, log_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    tokens_.reset();
    db_.Close();
  }

  // Notes a file of the record in `_files`, as an upload would.
  void AddFileRow(const std::string& record_id, const std::string& name, const std::string& type) {
    auto st = db_.store->WriteAndWait([&](store::Tx& tx) -> util::Status {
      auto r = tx.Exec(
          "INSERT INTO `_files` (`collectionId`, `recordId`, `field`, `name`, `size`, `type`, `created`) "
          "VALUES (?, ?, 'f', ?, 5, ?, '')",
          {collection_id_, record_id, name, type});
      return r ? util::Status::Ok() : r.error();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::optional<http::testing::RawHttpResponse> Get(const std::string& target) {
    http::testing::TestConnection c(server_->port());
    c.Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return c.Read();
  }

  testing::TestDatabase db_;
  std::unique_ptr<auth::TokenService> tokens_;
  std::unique_ptr<files::FileStore> files_;
  std::string collection_id_;
  http::Router router_;
  obs::Registry metrics_;
  obs::AccessLog log_{1, false};
  std::unique_ptr<http::Server> server_;
};

// A record id or file name that cannot be part of a store key names no file: 404 in the API's
// error shape, whatever the database holds and however the store refuses the key.
TEST_F(FilesRoutesTest, NamesThatMakeNoStoreKeyAre404) {
  auto writer = files_->Create(FileKey(collection_id_, "rec1", "a.txt"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Append("hello").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  AddFileRow("rec1", "a.txt", "text/plain");
  for (const auto& [record_id, name] : std::vector<std::pair<std::string, std::string>>{
           {"bad id", "a.txt"}, {"..", "a.txt"}, {"rec1", "b\\c.txt"}, {"rec1", ".a.txt"}, {"rec1/x", "a.txt"}}) {
    AddFileRow(record_id, name, "image/png");
  }

  const std::string base = "/api/files/docs/";
  auto ok = Get(base + "rec1/a.txt");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hello");

  for (const std::string path : {"bad%20id/a.txt", "%2E%2E/a.txt", "rec1/b%5Cc.txt", "rec1/.a.txt", "rec1%2Fx/a.txt",
                                 "rec1/a.txt%00", "rec1%00/a.txt", "%FF/a.txt"}) {
    for (const std::string query : {"", "?thumb=100x100"}) {
      auto res = Get(base + path + query);
      ASSERT_TRUE(res) << path << query;
      EXPECT_EQ(res->status, 404) << path << query << " " << res->body;
      EXPECT_EQ(res->body, R"({"data":{},"message":"The requested resource wasn't found.","status":404})")
          << path << query;
    }
  }
}

}  // namespace
}  // namespace strata::api
