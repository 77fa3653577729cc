// Streaming multipart/form-data: the body is parsed as it arrives, text parts kept in memory and
// file parts written to files in a spool folder, so that an upload never sits whole in memory and
// a part over its limit is refused (413) as soon as it crosses it, before the rest is read.
// One parser per request; not thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/limits.hpp"
#include "http/response.hpp"

namespace strata::http {

// A file of the spool folder, removed when the last reference to it goes unless it was moved
// elsewhere first (FileStore::Adopt).
class SpooledFile {
 public:
  explicit SpooledFile(std::filesystem::path path) : path_(std::move(path)) {}
  ~SpooledFile();
  SpooledFile(const SpooledFile&) = delete;
  SpooledFile& operator=(const SpooledFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A file part of a multipart/form-data body: the form field it was sent under, the client's file
// name, its size, its first bytes (up to kUploadHeadBytes, for type detection) and where its bytes
// were spooled.
inline constexpr std::size_t kUploadHeadBytes = 8192;
struct UploadedFile {
  std::string field;
  std::string filename;
  uint64_t size = 0;
  std::string head;
  std::shared_ptr<const SpooledFile> spooled;
};

struct MultipartLimits {
  // The largest file part accepted under a field name (as sent: "avatar", "documents+").
  std::function<uint64_t(std::string_view field)> file_limit;
  // All text parts together.
  std::size_t text_limit = 1 << 20;
  // Parts in one body.
  std::size_t max_parts = kMaxMultipartParts;
  // The header blocks of all parts together, as sent (names, file names, other headers).
  std::size_t header_limit = kMaxMultipartHeaderBytes;
};

class MultipartParser {
 public:
  // `boundary` from the Content-Type; files go to `spool_dir` (which must exist).
  MultipartParser(std::string boundary, std::filesystem::path spool_dir, MultipartLimits limits);
  ~MultipartParser();
  MultipartParser(const MultipartParser&) = delete;
  MultipartParser& operator=(const MultipartParser&) = delete;

  // Parses the next bytes of the body. An error (400 malformed, 413 a part, the parts' count or
  // their headers over a limit, 500 the spool cannot be written) ends the parse: later calls
  // return it again.
  std::optional<ApiError> Feed(std::string_view bytes);

  // After the last bytes: the text parts as one JSON object (a repeated name becomes an array,
  // "@jsonPayload" is merged in) and the files; 400 when the body ended before its closing
  // delimiter.
  struct Result {
    boost::json::object data;
    std::vector<UploadedFile> files;
  };
  std::expected<Result, ApiError> Finish();

 private:
  enum class State { kPreamble, kAfterDelimiter, kHeaders, kBody, kDone };
  std::optional<ApiError> Fail(ApiError error);
  std::optional<ApiError> StartPart(std::string_view headers);
  std::optional<ApiError> Append(std::string_view bytes);
  std::optional<ApiError> EndPart();

  std::string delimiter_;  // "\r\n--" + boundary
  std::filesystem::path spool_dir_;
  MultipartLimits limits_;
  State state_ = State::kPreamble;
  std::string pending_;  // bytes not yet consumed
  std::optional<ApiError> error_;
  std::size_t text_bytes_ = 0;
  std::size_t parts_ = 0;
  std::size_t header_bytes_ = 0;
  // The part being read.
  std::string name_;
  std::optional<std::string> filename_;
  std::string text_;
  UploadedFile file_;
  int fd_ = -1;
  uint64_t file_limit_ = 0;
  Result result_;
  std::vector<std::pair<std::string, std::string>> texts_;
};

// The boundary parameter of a multipart/form-data Content-Type, or nullopt (another type, or no
// usable boundary).
std::optional<std::string> MultipartBoundary(std::string_view content_type);

// The field a part's name sets: "field+" appends to it and "+field" prepends, as in PocketBase.
std::string_view FieldOfPart(std::string_view name);

}  // namespace strata::http
