#include "files/file_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace strata::files {
namespace {

namespace fs = std::filesystem;

class LocalFileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("strata_files_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = OpenLocalFileStore(root_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(root_); }

  util::Status Put(std::string_view key, std::string_view bytes) {
    auto w = store_->Create(key);
    if (!w) return w.error();
    // In pieces, as an upload arrives.
    for (std::size_t i = 0; i < bytes.size(); i += 7) {
      if (auto st = (*w)->Append(bytes.substr(i, 7)); !st.ok()) return st;
    }
    return (*w)->Commit();
  }

  std::string Read(std::string_view key) {
    auto r = store_->Open(key);
    EXPECT_TRUE(r) << r.error().ToString();
    if (!r) return {};
    std::string out;
    char buf[5];
    for (uint64_t off = 0;;) {
      auto n = (*r)->ReadAt(off, buf);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
      out.append(buf, *n);
      off += *n;
    }
    return out;
  }

  std::size_t PartialFiles() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_ / ".partial")) ++n;
    return n;
  }

  fs::path root_;
  std::unique_ptr<FileStore> store_;
};

TEST(FileKeys, OnlyPlainSegments) {
  EXPECT_TRUE(ValidKey("pbc_123/abc/photo_x1y2.jpg"));
  EXPECT_TRUE(ValidKey("a/b..c"));
  for (const char* bad :
       {"", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".hidden", "a/.partial/x", "a b", "a\\b", "a/b\n", "é"}) {
    EXPECT_FALSE(ValidKey(bad)) << bad;
  }
  EXPECT_FALSE(ValidKey(std::string(1025, 'a')));
}

TEST_F(LocalFileStoreTest, WritesReadsAndReplacesWholeFiles) {
  ASSERT_TRUE(Put("c1/r1/a.txt", "hello, files").ok());
  EXPECT_EQ(Read("c1/r1/a.txt"), "hello, files");
  auto info = store_->Stat("c1/r1/a.txt");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 12u);
  EXPECT_LE(std::chrono::system_clock::now() - info->modified, std::chrono::minutes(1));
  // Reads at any offset, past the end included.
  auto r = store_->Open("c1/r1/a.txt");
  ASSERT_TRUE(r);
  char buf[5];
  EXPECT_EQ(*(*r)->ReadAt(7, buf), 5u);
  EXPECT_EQ(std::string(buf, 5), "files");
  EXPECT_EQ(*(*r)->ReadAt(100, buf), 0u);

  ASSERT_TRUE(Put("c1/r1/a.txt", "second").ok());
  EXPECT_EQ(Read("c1/r1/a.txt"), "second");
  EXPECT_EQ(PartialFiles(), 0u);
}

TEST_F(LocalFileStoreTest, AdoptsASpooledFileByMovingIt) {
  const fs::path spooled = root_.parent_path() / (root_.filename().string() + "_spool");
  std::ofstream(spooled, std::ios::binary) << "spooled bytes";
  ASSERT_TRUE(store_->Adopt("c1/r1/up.bin", spooled).ok());
  EXPECT_EQ(Read("c1/r1/up.bin"), "spooled bytes");
  EXPECT_FALSE(fs::exists(spooled));
  EXPECT_EQ(store_->LocalPath("c1/r1/up.bin"), root_ / "c1/r1/up.bin");
  EXPECT_FALSE(store_->Adopt("../out", spooled).ok());
  EXPECT_FALSE(store_->Adopt("c1/r1/missing.bin", spooled).ok());
  // An open local file gives its descriptor, for sendfile.
  auto r = store_->Open("c1/r1/up.bin");
  ASSERT_TRUE(r);
  EXPECT_GE((*r)->native_handle(), 0);
}

// A store that keeps no file where callers can see it, as a remote one: the callers' fallbacks
// (FetchLocal's copy, Adopt's copy) run against it.
class OpaqueStore final : public FileStore {
 public:
  explicit OpaqueStore(FileStore& inner) : inner_(inner) {}
  util::Result<std::unique_ptr<FileWriter>> Create(std::string_view key) override { return inner_.Create(key); }
  util::Result<std::unique_ptr<FileReader>> Open(std::string_view key) override { return inner_.Open(key); }
  util::Result<FileInfo> Stat(std::string_view key) override { return inner_.Stat(key); }
  util::Status Delete(std::string_view key) override { return inner_.Delete(key); }
  util::Status DeleteAll(std::string_view prefix) override { return inner_.DeleteAll(prefix); }

 private:
  FileStore& inner_;
};

TEST_F(LocalFileStoreTest, CallersGetLocalFilesFromAnyStore) {
  ASSERT_TRUE(Put("c1/r1/a.bin", std::string(3 << 20, 'z')).ok());
  {
    auto local = FetchLocal(*store_, "c1/r1/a.bin");
    ASSERT_TRUE(local);
    EXPECT_EQ(local->path(), root_ / "c1/r1/a.bin");  // the store's own file
  }
  EXPECT_TRUE(fs::exists(root_ / "c1/r1/a.bin"));
  OpaqueStore opaque(*store_);
  fs::path copied;
  {
    auto local = FetchLocal(opaque, "c1/r1/a.bin");
    ASSERT_TRUE(local) << local.error().ToString();
    copied = local->path();
    EXPECT_NE(copied, root_ / "c1/r1/a.bin");
    EXPECT_EQ(fs::file_size(copied), 3u << 20);
  }
  EXPECT_FALSE(fs::exists(copied));  // a temporary copy goes with its object
  EXPECT_FALSE(FetchLocal(opaque, "c1/r1/none.bin"));
  EXPECT_FALSE(FetchLocal(*store_, "c1/r1/none.bin"));

  const fs::path spooled = root_.parent_path() / (root_.filename().string() + "_spool2");
  std::ofstream(spooled, std::ios::binary) << "copied in";
  ASSERT_TRUE(opaque.Adopt("c1/r1/b.bin", spooled).ok());
  EXPECT_EQ(Read("c1/r1/b.bin"), "copied in");
  fs::remove(spooled);
}

TEST_F(LocalFileStoreTest, AnUploadNotCommittedLeavesNothing) {
  {
    auto w = store_->Create("c1/r1/big.bin");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->Append(std::string(100000, 'x')).ok());
    EXPECT_EQ(PartialFiles(), 1u);
    EXPECT_EQ(store_->Stat("c1/r1/big.bin").error().code(), util::Status::Code::kNotFound);
  }
  EXPECT_EQ(PartialFiles(), 0u);
  EXPECT_FALSE(fs::exists(root_ / "c1"));
  // A crash mid-upload: the leftover goes when the store opens again, once it is stale; a fresh
  // one may be another process's upload in progress.
  std::ofstream(root_ / ".partial" / "leftover") << "half";
  fs::last_write_time(root_ / ".partial" / "leftover", fs::file_time_type::clock::now() - std::chrono::hours(2));
  std::ofstream(root_ / ".partial" / "in-progress") << "half";
  auto again = OpenLocalFileStore(root_);
  ASSERT_TRUE(again);
  EXPECT_EQ(PartialFiles(), 1u);
  EXPECT_TRUE(fs::exists(root_ / ".partial" / "in-progress"));
}

TEST_F(LocalFileStoreTest, DeletesFilesAndRecordFolders) {
  ASSERT_TRUE(Put("c1/r1/a.txt", "a").ok());
  ASSERT_TRUE(Put("c1/r1/thumbs_a.txt/10x10_a.txt", "t").ok());
  ASSERT_TRUE(Put("c1/r2/b.txt", "b").ok());
  ASSERT_TRUE(store_->Delete("c1/r1/a.txt").ok());
  EXPECT_EQ(store_->Open("c1/r1/a.txt").error().code(), util::Status::Code::kNotFound);
  EXPECT_TRUE(store_->Delete("c1/r1/a.txt").ok());  // already gone
  ASSERT_TRUE(store_->DeleteAll("c1/r1").ok());
  EXPECT_FALSE(fs::exists(root_ / "c1" / "r1"));
  EXPECT_EQ(Read("c1/r2/b.txt"), "b");
  EXPECT_FALSE(store_->Delete("../outside").ok());
  EXPECT_FALSE(store_->DeleteAll("..").ok());
}

TEST_F(LocalFileStoreTest, NeverLeavesTheRootOrFollowsLinks) {
  EXPECT_FALSE(store_->Create("../escape.txt"));
  EXPECT_EQ(store_->Open("../../etc/passwd").error().code(), util::Status::Code::kNotFound);
  fs::create_directories(root_ / "c1");
  fs::create_symlink("/etc/hostname", root_ / "c1" / "link.txt");
  EXPECT_EQ(store_->Open("c1/link.txt").error().code(), util::Status::Code::kNotFound);
  EXPECT_EQ(store_->Stat("c1/link.txt").error().code(), util::Status::Code::kNotFound);
  EXPECT_EQ(store_->Open("c1").error().code(), util::Status::Code::kNotFound);  // a folder is not a file
  EXPECT_FALSE(store_->PresignedUrl("c1/r1/a.txt", std::chrono::seconds(60)));
}

TEST_F(LocalFileStoreTest, ConcurrentWritersOfOneKeyNeverShowAPartialFile) {
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto r = store_->Open("c/r/f");
      if (!r) continue;
      std::string body((*r)->info().size, '\0');
      auto n = (*r)->ReadAt(0, body);
      if (!n || *n != body.size() || (body != std::string(body.size(), 'a') && body != std::string(body.size(), 'b'))) {
        torn.fetch_add(1);
      }
    }
  });
  std::vector<std::thread> writers;
  for (char c : {'a', 'b'}) {
    writers.emplace_back([&, c] {
      for (int i = 0; i < 50; ++i) ASSERT_TRUE(Put("c/r/f", std::string(20000 + i * 100, c)).ok());
    });
  }
  for (auto& w : writers) w.join();
  stop.store(true);
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(PartialFiles(), 0u);
}

}  // namespace
}  // namespace strata::files
