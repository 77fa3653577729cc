#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "files/file_store.hpp"
#include "util/random.hpp"

namespace strata::files {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxKeyLength = 1024;
constexpr std::string_view kPartialDir = ".partial";

util::Status Errno(std::string_view what, const fs::path& path) {
  const int err = errno;
  // ELOOP: a symbolic link where a file was expected, which the store never follows.
  if (err == ENOENT || err == ELOOP || err == ENOTDIR) {
    return util::Status::NotFound(fmt::format("{} {}: no such file", what, path.string()));
  }
  return util::Status::IoError(fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

// Makes a directory entry (a rename or a new file) durable.
util::Status SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync", dir);
  return util::Status::Ok();
}

FileInfo InfoOf(const struct stat& st) {
  return {.size = static_cast<uint64_t>(st.st_size),
          .modified = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                                            std::chrono::nanoseconds(st.st_mtim.tv_nsec))};
}

class LocalReader final : public FileReader {
 public:
  LocalReader(int fd, FileInfo info) : fd_(fd), info_(info) {}
  ~LocalReader() override { ::close(fd_); }
  const FileInfo& info() const override { return info_; }
  int native_handle() const override { return fd_; }
  util::Result<std::size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    for (;;) {
      const ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return std::unexpected(util::Status::IoError(std::strerror(errno)));
    }
  }

 private:
  int fd_;
  FileInfo info_;
};

class LocalWriter final : public FileWriter {
 public:
  LocalWriter(int fd, fs::path partial, fs::path target)
      : fd_(fd), partial_(std::move(partial)), target_(std::move(target)) {}
  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) {
      std::error_code ec;
      fs::remove(partial_, ec);
    }
  }

  util::Status Append(std::string_view bytes) override {
    if (fd_ < 0) return util::Status::Internal("write after commit");
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write", partial_);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return util::Status::Ok();
  }

  util::Status Commit() override {
    if (fd_ < 0) return util::Status::Internal("committed twice");
    if (::fsync(fd_) != 0) return Errno("cannot sync", partial_);
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    fs::create_directories(target_.parent_path(), ec);
    if (ec)
      return util::Status::IoError(fmt::format("cannot create {}: {}", target_.parent_path().string(), ec.message()));
    if (::rename(partial_.c_str(), target_.c_str()) != 0) return Errno("cannot move into place", target_);
    committed_ = true;
    return SyncDir(target_.parent_path());
  }

  uint64_t bytes_written() const override { return written_; }

 private:
  int fd_;
  fs::path partial_;
  fs::path target_;
  uint64_t written_ = 0;
  bool committed_ = false;
};

class LocalFileStore final : public FileStore {
 public:
  explicit LocalFileStore(fs::path root) : root_(std::move(root)) {}

  util::Result<std::unique_ptr<FileWriter>> Create(std::string_view key) override {
    if (!ValidKey(key)) return std::unexpected(util::Status::InvalidArgument("invalid file key"));
    const fs::path partial = root_ / kPartialDir / util::RandomString(24, "abcdefghijklmnopqrstuvwxyz0123456789");
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return std::unexpected(Errno("cannot create", partial));
    return std::make_unique<LocalWriter>(fd, partial, root_ / fs::path(std::string(key)));
  }

  util::Status Adopt(std::string_view key, const fs::path& path) override {
    if (!ValidKey(key)) return util::Status::InvalidArgument("invalid file key");
    const fs::path target = root_ / fs::path(std::string(key));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Errno("cannot open", path);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Errno("cannot sync", path);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return util::Status::IoError(fmt::format("cannot create {}: {}", target.parent_path().string(), ec.message()));
    if (::rename(path.c_str(), target.c_str()) != 0) {
      if (errno == EXDEV) return FileStore::Adopt(key, path);  // another file system: copied
      return Errno("cannot move into place", target);
    }
    return SyncDir(target.parent_path());
  }

  util::Result<std::unique_ptr<FileReader>> Open(std::string_view key) override {
    if (!ValidKey(key)) return std::unexpected(util::Status::NotFound("invalid file key"));
    const fs::path path = root_ / fs::path(std::string(key));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::unexpected(Errno("cannot open", path));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return std::unexpected(util::Status::NotFound(fmt::format("{} is not a file", path.string())));
    }
    return std::make_unique<LocalReader>(fd, InfoOf(st));
  }

  util::Result<FileInfo> Stat(std::string_view key) override {
    if (!ValidKey(key)) return std::unexpected(util::Status::NotFound("invalid file key"));
    const fs::path path = root_ / fs::path(std::string(key));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return std::unexpected(Errno("cannot stat", path));
    if (!S_ISREG(st.st_mode))
      return std::unexpected(util::Status::NotFound(fmt::format("{} is not a file", path.string())));
    return InfoOf(st);
  }

  util::Status Delete(std::string_view key) override {
    if (!ValidKey(key)) return util::Status::InvalidArgument("invalid file key");
    const fs::path path = root_ / fs::path(std::string(key));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", path);
    return util::Status::Ok();
  }

  std::optional<fs::path> LocalPath(std::string_view key) override {
    if (!ValidKey(key)) return std::nullopt;
    return root_ / fs::path(std::string(key));
  }

  util::Status DeleteAll(std::string_view prefix) override {
    if (!ValidKey(prefix)) return util::Status::InvalidArgument("invalid file key prefix");
    std::error_code ec;
    fs::remove_all(root_ / fs::path(std::string(prefix)), ec);
    if (ec) return util::Status::IoError(fmt::format("cannot delete {}: {}", prefix, ec.message()));
    return util::Status::Ok();
  }

 private:
  fs::path root_;
};

}  // namespace

util::Status FileStore::Adopt(std::string_view key, const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Errno("cannot open", path);
  LocalReader source(fd, {});
  auto writer = Create(key);
  if (!writer) return writer.error();
  std::string chunk(1 << 20, '\0');
  for (uint64_t offset = 0;;) {
    auto n = source.ReadAt(offset, chunk);
    if (!n) return n.error();
    if (*n == 0) break;
    if (auto st = (*writer)->Append(std::string_view(chunk.data(), *n)); !st.ok()) return st;
    offset += *n;
  }
  return (*writer)->Commit();
}

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  std::size_t start = 0;
  while (start <= key.size()) {
    const auto slash = key.find('/', start);
    const std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg.front() == '.') return false;
    for (char c : seg) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

LocalFile::~LocalFile() {
  if (!temporary_) return;
  std::error_code ec;
  fs::remove(path_, ec);
}

util::Result<LocalFile> FetchLocal(FileStore& store, std::string_view key) {
  if (auto local = store.LocalPath(key)) {
    std::error_code ec;
    if (!fs::is_regular_file(*local, ec)) return std::unexpected(util::Status::NotFound("no such file"));
    return LocalFile(*local, false);
  }
  auto reader = store.Open(key);
  if (!reader) return std::unexpected(reader.error());
  LocalFile copy(
      fs::temp_directory_path() / ("strata-" + util::RandomString(20, "abcdefghijklmnopqrstuvwxyz0123456789")), true);
  const int fd = ::open(copy.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(Errno("cannot create", copy.path()));
  std::string chunk(1 << 20, '\0');
  util::Status st = util::Status::Ok();
  for (uint64_t offset = 0; st.ok();) {
    auto n = (*reader)->ReadAt(offset, chunk);
    if (!n) {
      st = n.error();
      break;
    }
    if (*n == 0) break;
    for (std::size_t done = 0; done < *n;) {
      const ssize_t w = ::write(fd, chunk.data() + done, *n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        st = Errno("cannot write", copy.path());
        break;
      }
      done += static_cast<std::size_t>(w);
    }
    offset += *n;
  }
  ::close(fd);
  if (!st.ok()) return std::unexpected(st);
  return copy;
}

std::size_t RemoveStaleFiles(const std::filesystem::path& dir, std::chrono::seconds age) {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - age;
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code fec;
    if (!entry.is_regular_file(fec)) continue;
    const auto written = entry.last_write_time(fec);
    if (!fec && written < cutoff && fs::remove(entry.path(), fec)) ++removed;
  }
  return removed;
}

util::Result<std::unique_ptr<FileStore>> OpenLocalFileStore(const std::filesystem::path& root) {
  std::error_code ec;
  fs::create_directories(root / kPartialDir, ec);
  if (ec)
    return std::unexpected(util::Status::IoError(fmt::format("cannot create {}: {}", root.string(), ec.message())));
  // Uploads a crash interrupted: never committed, never visible.
  RemoveStaleFiles(root / kPartialDir);
  return std::make_unique<LocalFileStore>(root);
}

}  // namespace strata::files
