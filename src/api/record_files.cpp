#include "api/record_files.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <limits>

#include "files/file_store.hpp"
#include "files/images.hpp"
#include "files/mime.hpp"
#include "http/limits.hpp"
#include "http/response.hpp"
#include "schema/values.hpp"
#include "util/random.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using schema::Collection;
using schema::Field;
using schema::FieldType;

constexpr std::string_view kNameAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::size_t kMaxBaseName = 100;
constexpr std::size_t kMaxExtension = 20;

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

// PocketBase's snake case, over ASCII: words split at anything but letters and digits, an
// underscore before an upper-case letter that follows a lower-case one, all lower case.
std::string SnakeCase(std::string_view text) {
  std::string out;
  bool word_open = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!IsAsciiAlnum(c)) {
      word_open = false;
      continue;
    }
    if (!word_open && !out.empty()) out += '_';
    if (word_open && IsUpper(c) && !IsUpper(text[i - 1])) out += '_';
    out += IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c;
    word_open = true;
  }
  return out;
}

std::string_view ExtensionFor(std::string_view mime) {
  static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
      {"image/jpeg", ".jpg"},      {"image/png", ".png"},   {"image/gif", ".gif"},
      {"image/webp", ".webp"},     {"image/avif", ".avif"}, {"image/svg+xml", ".svg"},
      {"application/pdf", ".pdf"}, {"text/plain", ".txt"},  {"application/zip", ".zip"},
      {"video/mp4", ".mp4"},       {"audio/mpeg", ".mp3"},  {"application/json", ".json"},
  };
  for (const auto& [type, ext] : kKnown) {
    if (type == mime) return ext;
  }
  return {};
}

// Images libvips measures: their size and BlurHash are kept, and thumbnails are made of them.
bool IsMeasuredImage(std::string_view mime) {
  return mime == "image/jpeg" || mime == "image/png" || mime == "image/gif" || mime == "image/webp";
}

boost::json::object FileError(std::string code, std::string message) {
  return {{"code", std::move(code)}, {"message", std::move(message)}};
}

int64_t MaxSize(const Field& f) { return f.IntOption("maxSize") > 0 ? f.IntOption("maxSize") : kDefaultFileMaxSize; }

}  // namespace

net::thread_pool& FilesPool() {
  static net::thread_pool pool(2);
  return pool;
}

util::Status CreateFilesTable(store::Store& store) {
  return store.WriteAndWait([](store::Tx& tx) -> util::Status {
    auto r = tx.Exec(
        "CREATE TABLE IF NOT EXISTS `_files` (`collectionId` TEXT NOT NULL, `recordId` TEXT NOT NULL, "
        "`field` TEXT NOT NULL, `name` TEXT NOT NULL, `size` INTEGER NOT NULL, `type` TEXT NOT NULL, "
        "`width` INTEGER NOT NULL DEFAULT 0, `height` INTEGER NOT NULL DEFAULT 0, "
        "`blurhash` TEXT NOT NULL DEFAULT '', `created` TEXT NOT NULL)");
    if (!r) return r.error();
    r = tx.Exec(
        "CREATE UNIQUE INDEX IF NOT EXISTS `_files_record_name` ON `_files` (`collectionId`, `recordId`, `name`)");
    return r ? util::Status::Ok() : r.error();
  });
}

std::size_t UploadBodyLimit(const Collection& c) {
  uint64_t limit = http::kDefaultBodyLimit;
  for (const Field& f : c.fields) {
    if (f.type != FieldType::kFile) continue;
    const uint64_t count = static_cast<uint64_t>(std::max<int64_t>(1, f.IntOption("maxSelect")));
    limit += static_cast<uint64_t>(MaxSize(f)) * count;
  }
  return static_cast<std::size_t>(std::min<uint64_t>(limit, std::numeric_limits<std::size_t>::max() / 2));
}

http::MultipartLimits UploadPartLimits(const Collection& c) {
  http::MultipartLimits limits;
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const Field& f : c.fields) {
    if (f.type == FieldType::kFile) sizes.emplace_back(f.name, static_cast<uint64_t>(MaxSize(f)));
  }
  limits.file_limit = [sizes = std::move(sizes)](std::string_view key) -> uint64_t {
    const std::string_view field = http::FieldOfPart(key);
    for (const auto& [name, size] : sizes) {
      if (name == field) return size;
    }
    return http::kDefaultBodyLimit;  // not a file field: refused once read, with the field's error
  };
  return limits;
}

namespace {

// The largest file a file field of any collection takes; 0 with no file fields.
uint64_t LargestFileSize(const schema::Snapshot& snapshot) {
  uint64_t largest = 0;
  for (const Collection& c : snapshot.collections()) {
    for (const Field& f : c.fields) {
      if (f.type == FieldType::kFile) largest = std::max(largest, static_cast<uint64_t>(MaxSize(f)));
    }
  }
  return largest;
}

}  // namespace

std::size_t BatchBodyLimit(const schema::Snapshot& snapshot) {
  return LargestFileSize(snapshot) > 0 ? std::size_t{128} << 20 : 8 * http::kDefaultBodyLimit;
}

http::MultipartLimits BatchPartLimits(const schema::Snapshot& snapshot) {
  http::MultipartLimits limits;
  limits.text_limit = 8 * http::kDefaultBodyLimit;
  const uint64_t largest = std::max<uint64_t>(LargestFileSize(snapshot), 1);
  limits.file_limit = [largest](std::string_view) { return largest; };
  return limits;
}

std::vector<http::UploadedFile> BatchItemFiles(const std::vector<http::UploadedFile>& files, std::size_t index) {
  const std::string dotted = fmt::format("requests.{}.", index);
  const std::string bracketed = fmt::format("requests[{}].", index);
  std::vector<http::UploadedFile> out;
  for (const auto& f : files) {
    for (const auto* prefix : {&dotted, &bracketed}) {
      if (f.field.starts_with(*prefix) && f.field.size() > prefix->size()) {
        out.push_back(f);
        out.back().field = f.field.substr(prefix->size());
      }
    }
  }
  return out;
}

std::string StoredFileName(std::string_view original, std::string_view mime_type) {
  std::string_view base = original;
  // Browsers on some systems send the whole path.
  if (const auto slash = base.find_last_of("/\\"); slash != std::string_view::npos) base = base.substr(slash + 1);
  std::string ext;
  if (const auto dot = base.rfind('.'); dot != std::string_view::npos && dot > 0) {
    for (char c : base.substr(dot + 1)) {
      if (IsAsciiAlnum(c)) ext += c;
    }
    base = base.substr(0, dot);
  }
  if (ext.size() > kMaxExtension) ext = ext.substr(ext.size() - kMaxExtension);
  if (!ext.empty()) {
    ext.insert(ext.begin(), '.');
  } else {
    ext = ExtensionFor(mime_type);
  }
  std::string name = SnakeCase(base);
  if (name.size() < 3) name += util::RandomString(10, kNameAlphabet);
  if (name.size() > kMaxBaseName) name.resize(kMaxBaseName);
  return fmt::format("{}_{}{}", name, util::RandomString(10, kNameAlphabet), ext);
}

std::string RecordFolder(std::string_view collection_id, std::string_view record_id) {
  return fmt::format("{}/{}", collection_id, record_id);
}

std::string FileKey(std::string_view collection_id, std::string_view record_id, std::string_view name) {
  return fmt::format("{}/{}/{}", collection_id, record_id, name);
}

std::string ThumbsFolder(std::string_view collection_id, std::string_view record_id, std::string_view name) {
  return fmt::format("{}/{}/thumbs_{}", collection_id, record_id, name);
}

std::string ThumbKey(std::string_view collection_id, std::string_view record_id, std::string_view name,
                     std::string_view thumb) {
  return fmt::format("{}/{}/thumbs_{}/{}_{}", collection_id, record_id, name, thumb, name);
}

bool HasFileFields(const Collection& c) {
  return std::any_of(c.fields.begin(), c.fields.end(), [](const Field& f) { return f.type == FieldType::kFile; });
}

std::vector<StagedFile> StageUploads(const Collection& c, const std::vector<http::UploadedFile>& uploads,
                                     boost::json::object& body, boost::json::object& errors) {
  std::vector<StagedFile> staged;
  for (const auto& upload : uploads) {
    // The key names the field and how the upload joins its value.
    std::string_view key = upload.field;
    const std::string_view field_name = http::FieldOfPart(key);
    const Field* f = c.FindField(std::string(field_name));
    if (!f || f->type != FieldType::kFile) {
      errors[std::string(field_name)] = FileError("validation_invalid_file", "The field does not accept files.");
      continue;
    }
    if (errors.contains(f->name)) continue;
    if (!upload.spooled) {
      errors[f->name] = FileError("validation_invalid_file", "The upload was not received.");
      continue;
    }
    if (upload.size > static_cast<uint64_t>(MaxSize(*f))) {
      errors[f->name] = FileError("validation_file_size_limit",
                                  fmt::format("Failed to upload {:?} - the maximum allowed file size is {} bytes.",
                                              upload.filename, MaxSize(*f)));
      continue;
    }
    std::string type = files::DetectMimeType(upload.head);
    const auto allowed = f->StringListOption("mimeTypes");
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
      errors[f->name] =
          FileError("validation_invalid_mime_type",
                    fmt::format("{:?} mime type must be one of: {}.", upload.filename, fmt::join(allowed, ", ")));
      continue;
    }
    StagedFile file{f->name, StoredFileName(upload.filename, type), std::move(type), upload.size, upload.spooled};
    // Next to the names sent as text under the same key.
    auto [it, added] = body.emplace(key, boost::json::array());
    if (!it->value().is_array()) {
      boost::json::array items;
      if (!(it->value().is_string() && it->value().as_string().empty()) && !it->value().is_null()) {
        items.push_back(it->value());
      }
      it->value() = std::move(items);
    }
    it->value().as_array().emplace_back(file.name);
    staged.push_back(std::move(file));
  }
  return staged;
}

std::vector<std::string> FileNames(const boost::json::value& value) {
  std::vector<std::string> out;
  if (value.is_string()) {
    if (!value.as_string().empty()) out.emplace_back(value.as_string());
  } else if (value.is_array()) {
    for (const auto& v : value.as_array()) {
      if (v.is_string() && !v.as_string().empty()) out.emplace_back(v.as_string());
    }
  }
  return out;
}

void DropUnused(std::vector<StagedFile>& staged, const boost::json::object& values) {
  std::erase_if(staged, [&](const StagedFile& file) {
    auto it = values.find(file.field);
    if (it == values.end()) return true;
    const auto names = FileNames(it->value());
    return std::find(names.begin(), names.end(), file.name) == names.end();
  });
}

net::awaitable<void> WriteUploads(files::FileStore& store, const Collection& c, std::string record_id,
                                  std::vector<StagedFile>& staged) {
  if (staged.empty()) co_return;
  const std::string collection_id = c.id;
  auto outcome = co_await net::co_spawn(
      FilesPool(),
      [&]() -> net::awaitable<std::optional<http::ApiError>> {
        std::vector<std::string> written;
        auto undo = [&] {
          for (const auto& key : written) (void)store.Delete(key);
        };
        for (auto& file : staged) {
          if (IsMeasuredImage(file.type)) {
            auto facts = files::MeasureImage(file.spooled->path());
            if (!facts) {
              undo();
              co_return http::ApiError{400,
                                       "Failed to upload the files.",
                                       {{file.field, FileError("validation_invalid_image",
                                                               fmt::format("Failed to upload {:?} - {}.", file.name,
                                                                           facts.error().message()))}},
                                       {}};
            }
            file.width = facts->size.width;
            file.height = facts->size.height;
            file.blurhash = std::move(facts->blurhash);
          }
          const std::string key = FileKey(collection_id, record_id, file.name);
          if (auto st = store.Adopt(key, file.spooled->path()); !st.ok()) {
            undo();
            co_return http::ApiError::Internal(fmt::format("storing {}: {}", key, st.ToString()));
          }
          written.push_back(key);
        }
        co_return std::nullopt;
      },
      net::use_awaitable);
  if (outcome) throw *outcome;
}

util::Status SyncFileRows(store::Tx& tx, const Collection& c, std::string_view record_id,
                          const std::vector<StagedFile>& staged, const boost::json::object* before,
                          const boost::json::object& after, std::vector<std::string>& obsolete) {
  const std::string now = schema::NowDateTime();
  for (const auto& file : staged) {
    auto r = tx.Exec(
        "INSERT INTO `_files` (`collectionId`, `recordId`, `field`, `name`, `size`, `type`, `width`, `height`, "
        "`blurhash`, `created`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {c.id, std::string(record_id), file.field, file.name, static_cast<int64_t>(file.size), file.type,
         static_cast<int64_t>(file.width), static_cast<int64_t>(file.height), file.blurhash, now});
    if (!r) return r.error();
  }
  if (!before) return util::Status::Ok();
  for (const Field& f : c.fields) {
    if (f.type != FieldType::kFile) continue;
    auto old_it = before->find(f.name);
    if (old_it == before->end()) continue;
    auto new_it = after.find(f.name);
    const auto kept = new_it == after.end() ? std::vector<std::string>() : FileNames(new_it->value());
    for (const auto& name : FileNames(old_it->value())) {
      if (std::find(kept.begin(), kept.end(), name) != kept.end()) continue;
      auto r = tx.Exec("DELETE FROM `_files` WHERE `collectionId` = ? AND `recordId` = ? AND `name` = ?",
                       {c.id, std::string(record_id), name});
      if (!r) return r.error();
      obsolete.push_back(FileKey(c.id, record_id, name));
    }
  }
  return util::Status::Ok();
}

util::Status DeleteFileRows(store::Tx& tx, std::string_view collection_id, std::string_view record_id) {
  auto r = tx.Exec("DELETE FROM `_files` WHERE `collectionId` = ? AND `recordId` = ?",
                   {std::string(collection_id), std::string(record_id)});
  return r ? util::Status::Ok() : r.error();
}

void RemoveLater(files::FileStore& store, std::vector<std::string> keys, std::vector<std::string> folders) {
  if (keys.empty() && folders.empty()) return;
  net::post(FilesPool(), [&store, keys = std::move(keys), folders = std::move(folders)] {
    for (const auto& key : keys) {
      if (auto st = store.Delete(key); !st.ok()) spdlog::warn("removing file {}: {}", key, st.ToString());
      // Its thumbnails: "<collection>/<record>/thumbs_<name>".
      const auto slash = key.rfind('/');
      const std::string thumbs = key.substr(0, slash + 1) + "thumbs_" + key.substr(slash + 1);
      if (auto st = store.DeleteAll(thumbs); !st.ok()) spdlog::warn("removing {}: {}", thumbs, st.ToString());
    }
    for (const auto& folder : folders) {
      if (auto st = store.DeleteAll(folder); !st.ok()) spdlog::warn("removing {}: {}", folder, st.ToString());
    }
  });
}

void RemoveFilesOfDeletedCollections(store::Store& store, const schema::Snapshot& snapshot, files::FileStore& files) {
  auto rs = store.Query("SELECT DISTINCT `collectionId` FROM `_files`");
  if (!rs) {
    spdlog::warn("listing the collections of stored files: {}", rs.error().ToString());
    return;
  }
  auto gone = std::make_shared<std::vector<std::string>>();
  for (const auto& row : rs->rows) {
    const auto& id = std::get<std::string>(row[0]);
    const Collection* c = snapshot.Find(id);
    if (!c || c->id != id) gone->push_back(id);
  }
  if (gone->empty()) return;
  store.Write(
      [gone](store::Tx& tx) -> util::Status {
        for (const auto& id : *gone) {
          if (auto r = tx.Exec("DELETE FROM `_files` WHERE `collectionId` = ?", {id}); !r) return r.error();
        }
        return util::Status::Ok();
      },
      [gone, &files](util::Status st) {
        if (!st.ok()) {
          spdlog::warn("forgetting the files of deleted collections: {}", st.ToString());
          return;
        }
        RemoveLater(files, {}, *gone);
      });
}

std::unordered_map<std::string, boost::json::object> BlurHashes(store::Store& store, const Collection& c,
                                                                const std::vector<std::string>& ids) {
  std::unordered_map<std::string, boost::json::object> out;
  if (ids.empty() || !HasFileFields(c)) return out;
  std::string marks;
  util::SqlParams params{c.id};
  for (const auto& id : ids) {
    marks += marks.empty() ? "?" : ", ?";
    params.emplace_back(id);
  }
  auto rs = store.Query(fmt::format("SELECT `recordId`, `name`, `blurhash` FROM `_files` WHERE `collectionId` = ? "
                                    "AND `recordId` IN ({}) AND `blurhash` != ''",
                                    marks),
                        params);
  if (!rs) throw http::ApiError::Internal(rs.error().ToString());
  for (auto& row : rs->rows) {
    out[std::get<std::string>(row[0])][std::get<std::string>(row[1])] = std::get<std::string>(row[2]);
  }
  return out;
}

}  // namespace strata::api
