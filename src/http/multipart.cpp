#include "http/multipart.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "http/json_body.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace strata::http {
namespace {

constexpr std::size_t kMaxBoundary = 200;

ApiError BadForm(std::string_view why) {
  return ApiError::BadRequest(fmt::format("Failed to load the submitted data: {}.", why));
}

ApiError TooLarge() { return ApiError{413, "Request entity too large."}; }

// The value of parameter `key` in a header value such as `form-data; name="x"; filename="y"`.
// Quoted values may hold ';' and backslash escapes.
std::optional<std::string> HeaderParam(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ';' || header[pos] == ' ' || header[pos] == '\t')) ++pos;
    const auto eq = header.find('=', pos);
    const auto semi = header.find(';', pos);
    if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
      if (semi == std::string_view::npos) break;
      pos = semi + 1;
      continue;
    }
    const std::string name = util::Lower(util::TrimSpaces(header.substr(pos, eq - pos)));
    pos = eq + 1;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    std::string value;
    if (pos < header.size() && header[pos] == '"') {
      for (++pos; pos < header.size() && header[pos] != '"'; ++pos) {
        if (header[pos] == '\\' && pos + 1 < header.size()) ++pos;
        value += header[pos];
      }
      ++pos;
    } else {
      const auto end = header.find(';', pos);
      value = std::string(util::TrimSpaces(header.substr(pos, end == std::string_view::npos ? end : end - pos)));
      pos = end == std::string_view::npos ? header.size() : end;
    }
    if (name == key) return value;
  }
  return std::nullopt;
}

}  // namespace

SpooledFile::~SpooledFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

std::string_view FieldOfPart(std::string_view name) {
  if (name.starts_with('+')) name.remove_prefix(1);
  if (name.ends_with('+')) name.remove_suffix(1);
  return name;
}

std::optional<std::string> MultipartBoundary(std::string_view content_type) {
  if (util::Lower(util::TrimSpaces(content_type.substr(0, content_type.find(';')))) != "multipart/form-data") {
    return std::nullopt;
  }
  auto boundary = HeaderParam(content_type.substr(std::min(content_type.size(), content_type.find(';'))), "boundary");
  if (!boundary || boundary->empty() || boundary->size() > kMaxBoundary) return std::nullopt;
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, std::filesystem::path spool_dir, MultipartLimits limits)
    : delimiter_("\r\n--" + boundary), spool_dir_(std::move(spool_dir)), limits_(std::move(limits)) {
  // The first delimiter may open the body without the CRLF before it.
  pending_ = "\r\n";
}

MultipartParser::~MultipartParser() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<ApiError> MultipartParser::Fail(ApiError error) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  file_.spooled.reset();
  result_.files.clear();  // their spooled files go with them
  error_ = std::move(error);
  state_ = State::kDone;
  return error_;
}

std::optional<ApiError> MultipartParser::StartPart(std::string_view headers) {
  name_.clear();
  filename_.reset();
  text_.clear();
  while (!headers.empty()) {
    const auto eol = headers.find("\r\n");
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (util::Lower(util::TrimSpaces(line.substr(0, colon))) == "content-disposition") {
      const std::string_view value = line.substr(colon + 1);
      name_ = HeaderParam(value, "name").value_or("");
      filename_ = HeaderParam(value, "filename");
    }
  }
  if (name_.empty()) return Fail(BadForm("a multipart part has no name"));
  // An empty file input (no file chosen) is a value, as browsers and PocketBase treat it.
  if (filename_ && filename_->empty()) filename_.reset();
  if (!filename_) return std::nullopt;
  file_ = UploadedFile{name_, *filename_, 0, {}, nullptr};
  file_limit_ = limits_.file_limit ? limits_.file_limit(name_) : 0;
  if (spool_dir_.empty()) return std::nullopt;  // files are only noted
  auto path = spool_dir_ / util::RandomString(24, "abcdefghijklmnopqrstuvwxyz0123456789");
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    return Fail(ApiError::Internal(fmt::format("cannot create {}: {}", path.string(), std::strerror(errno))));
  }
  file_.spooled = std::make_shared<SpooledFile>(std::move(path));
  return std::nullopt;
}

std::optional<ApiError> MultipartParser::Append(std::string_view bytes) {
  if (!filename_) {
    text_bytes_ += bytes.size();
    if (text_bytes_ > limits_.text_limit) return Fail(TooLarge());
    text_ += bytes;
    return std::nullopt;
  }
  file_.size += bytes.size();
  if (file_.size > file_limit_ && fd_ >= 0) {
    ApiError e = TooLarge();
    // The field's error, as its validation would give it ("field+" and "+field" name the field).
    const std::string_view field = FieldOfPart(name_);
    e.data[field] = boost::json::object{
        {"code", "validation_file_size_limit"},
        {"message",
         fmt::format("Failed to upload {:?} - the maximum allowed file size is {} bytes.", *filename_, file_limit_)}};
    return Fail(std::move(e));
  }
  if (file_.head.size() < kUploadHeadBytes) {
    file_.head.append(bytes.substr(0, kUploadHeadBytes - file_.head.size()));
  }
  if (fd_ < 0) return std::nullopt;
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ApiError::Internal(fmt::format("cannot write an upload: {}", std::strerror(errno))));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

std::optional<ApiError> MultipartParser::EndPart() {
  if (filename_) {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    result_.files.push_back(std::move(file_));
    file_ = UploadedFile{};
    return std::nullopt;
  }
  texts_.emplace_back(std::move(name_), std::move(text_));
  name_.clear();
  text_.clear();
  return std::nullopt;
}

std::optional<ApiError> MultipartParser::Feed(std::string_view bytes) {
  if (error_) return error_;
  if (state_ == State::kDone) return std::nullopt;  // the epilogue is ignored
  pending_.append(bytes);
  std::size_t pos = 0;  // consumed bytes of pending_
  for (;;) {
    std::string_view rest = std::string_view(pending_).substr(pos);
    if (state_ == State::kPreamble || state_ == State::kBody) {
      const auto found = rest.find(delimiter_);
      if (found == std::string_view::npos) {
        // All but a possible start of the delimiter belongs to the part (or the preamble).
        const std::size_t keep = std::min(rest.size(), delimiter_.size() - 1);
        if (state_ == State::kBody) {
          if (auto e = Append(rest.substr(0, rest.size() - keep))) return e;
        }
        pos += rest.size() - keep;
        break;
      }
      if (state_ == State::kBody) {
        if (auto e = Append(rest.substr(0, found))) return e;
        if (auto e = EndPart()) return e;
      }
      pos += found + delimiter_.size();
      state_ = State::kAfterDelimiter;
    } else if (state_ == State::kAfterDelimiter) {
      if (rest.size() < 2) break;
      if (rest.starts_with("--")) {
        state_ = State::kDone;
        pending_.clear();
        return std::nullopt;
      }
      // Transport padding may follow a delimiter before its CRLF: a little of it, or the body
      // could be an endless run of it held here.
      std::size_t i = 0;
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
      if (i > kMaxTransportPadding) return Fail(BadForm("malformed multipart body"));
      if (i + 2 > rest.size()) break;
      if (rest.substr(i, 2) != "\r\n") return Fail(BadForm("malformed multipart body"));
      if (++parts_ > limits_.max_parts) return Fail(TooLarge());
      pos += i + 2;
      state_ = State::kHeaders;
    } else if (state_ == State::kHeaders) {
      const auto end = rest.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (rest.size() > kMaxPartHeaderBytes) return Fail(BadForm("a multipart part header is too large"));
        if (header_bytes_ + rest.size() > limits_.header_limit) return Fail(TooLarge());
        break;
      }
      if (end > kMaxPartHeaderBytes) return Fail(BadForm("a multipart part header is too large"));
      // What a part keeps (its name, file name) comes from its headers: bounding them all bounds
      // that memory, however small the parts.
      header_bytes_ += end + 4;
      if (header_bytes_ > limits_.header_limit) return Fail(TooLarge());
      if (auto e = StartPart(rest.substr(0, end))) return e;
      pos += end + 4;
      state_ = State::kBody;
    } else {
      break;
    }
  }
  pending_.erase(0, pos);
  return std::nullopt;
}

std::expected<MultipartParser::Result, ApiError> MultipartParser::Finish() {
  if (error_) return std::unexpected(*error_);
  if (state_ != State::kDone) {
    Fail(BadForm(state_ == State::kPreamble ? "malformed multipart body" : "truncated multipart body"));
    return std::unexpected(*error_);
  }
  for (auto& [name, text] : texts_) {
    if (name == "@jsonPayload") {
      auto parsed = ParseJsonBody(text);
      if (!parsed) return std::unexpected(parsed.error());
      if (!parsed->is_object()) return std::unexpected(BadForm("@jsonPayload must be a JSON object"));
      for (auto& [k, v] : parsed->as_object()) result_.data[k] = v;
      continue;
    }
    auto it = result_.data.find(name);
    if (it == result_.data.end()) {
      result_.data[name] = text;
    } else if (it->value().is_array()) {
      it->value().as_array().emplace_back(text);
    } else {
      boost::json::array items{it->value(), boost::json::value(text)};
      it->value() = std::move(items);
    }
  }
  texts_.clear();
  return std::move(result_);
}

}  // namespace strata::http
