// FileStore: where uploaded files live, by key ("collectionId/recordId/name.jpg"). The local-disk
// implementation keeps them under a folder; an S3 implementation (SigV4, presigned URLs) follows
// with the distributed tier behind the same interface, so callers never see which one it is.
//
// Writes are atomic: a file appears whole under its key or not at all, and a failed or
// abandoned upload leaves nothing behind. Reads stream: a file is never read whole into memory.
// Every method is safe to call from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace strata::files {

struct FileInfo {
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
};

// An open stored file, read in pieces at any offset (Range requests, thumbnails).
class FileReader {
 public:
  virtual ~FileReader() = default;
  virtual const FileInfo& info() const = 0;
  // Reads up to out.size() bytes at `offset`; returns how many were read (0 at the end).
  virtual util::Result<std::size_t> ReadAt(uint64_t offset, std::span<char> out) = 0;
  // The open file descriptor when the file is on local disk (for sendfile), or -1.
  virtual int native_handle() const { return -1; }
};

// A file being written. Append the bytes in order, then Commit to make it appear under its key;
// destroying it without Commit discards it.
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual util::Status Append(std::string_view bytes) = 0;
  // Durable and visible under the key once this returns Ok. `bytes_written()` is its size.
  virtual util::Status Commit() = 0;
  virtual uint64_t bytes_written() const = 0;
};

class FileStore {
 public:
  virtual ~FileStore() = default;

  // Starts writing `key`; an existing file under it is replaced at Commit.
  virtual util::Result<std::unique_ptr<FileWriter>> Create(std::string_view key) = 0;
  // Stores the local file at `path` under `key`, as Create, Append and Commit would. The local
  // store moves it into place when it can (`path` is then gone); others copy it.
  virtual util::Status Adopt(std::string_view key, const std::filesystem::path& path);
  // Opens `key`; NotFound when there is none.
  virtual util::Result<std::unique_ptr<FileReader>> Open(std::string_view key) = 0;
  // NotFound when there is none.
  virtual util::Result<FileInfo> Stat(std::string_view key) = 0;
  // Removes `key`; Ok when it was not there.
  virtual util::Status Delete(std::string_view key) = 0;
  // Removes every file whose key starts with `prefix` + "/" (a record's files).
  virtual util::Status DeleteAll(std::string_view prefix) = 0;
  // Where `key` is on local disk, when the store keeps files there (for libvips, which reads
  // files by path); nullopt for remote stores, whose callers copy the file to a local one.
  virtual std::optional<std::filesystem::path> LocalPath(std::string_view key) {
    (void)key;
    return std::nullopt;
  }
  // A URL a client can fetch `key` from directly for `ttl`, when the store can give one (S3);
  // nullopt when files are served through the API (local disk).
  virtual std::optional<std::string> PresignedUrl(std::string_view key, std::chrono::seconds ttl) {
    (void)key;
    (void)ttl;
    return std::nullopt;
  }
};

// A stored file as a path on local disk, for tools that read files by path (libvips): the
// store's own file when it keeps files locally, else a temporary copy removed with this object.
class LocalFile {
 public:
  LocalFile(std::filesystem::path path, bool temporary) : path_(std::move(path)), temporary_(temporary) {}
  ~LocalFile();
  LocalFile(LocalFile&& other) noexcept : path_(std::move(other.path_)), temporary_(other.temporary_) {
    other.temporary_ = false;
  }
  LocalFile(const LocalFile&) = delete;
  LocalFile& operator=(const LocalFile&) = delete;
  LocalFile& operator=(LocalFile&&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool temporary_;
};
util::Result<LocalFile> FetchLocal(FileStore& store, std::string_view key);

// Whether `key` is acceptable: 1 to 1024 characters of [A-Za-z0-9._-] in '/'-separated segments,
// none of them empty, "." or "..", and not starting with '.': a key can never name a place outside
// the store or a hidden file.
bool ValidKey(std::string_view key);

// Files being written (partial uploads, spooled request bodies) older than this were left by a
// process that stopped; younger ones may belong to another process on the same directory.
inline constexpr std::chrono::hours kStaleWriteAge{1};

// Removes the files directly in `dir` not modified for `age`. Returns how many it removed.
std::size_t RemoveStaleFiles(const std::filesystem::path& dir, std::chrono::seconds age = kStaleWriteAge);

// The local-disk store under `root` (created if missing). Partial uploads are written under
// root/.partial and renamed into place at Commit; stale leftovers from a crash are removed on
// opening (RemoveStaleFiles).
util::Result<std::unique_ptr<FileStore>> OpenLocalFileStore(const std::filesystem::path& root);

}  // namespace strata::files
