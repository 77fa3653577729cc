// The files of records: naming and checking the uploads of a create or update, storing them with
// their image facts (size, BlurHash), the `_files` table that describes every stored file, and
// removing files once a committed write no longer references them (never before).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/multipart.hpp"
#include "schema/catalog.hpp"
#include "schema/collection.hpp"
#include "store/store.hpp"
#include "util/status.hpp"

namespace strata::files {
class FileStore;
}

namespace strata::api {

// PocketBase's maxSize of a file field that sets none, in bytes.
inline constexpr int64_t kDefaultFileMaxSize = 5 << 20;
inline constexpr std::string_view kFilesTable = "_files";

// Creates the `_files` table (one row per stored file: its record, field, name, size, type,
// pixel size and BlurHash).
util::Status CreateFilesTable(store::Store& store);

// The body limit of a record create or update in `c`: every file field at its maxSize times its
// maxSelect, plus the default limit for the other data.
std::size_t UploadBodyLimit(const schema::Collection& c);
// The limits of each part of such a body: a file field's maxSize for its files.
http::MultipartLimits UploadPartLimits(const schema::Collection& c);

// POST /api/batch in multipart/form-data, as PocketBase: the requests in "@jsonPayload" and the
// files of request N under "requests.N.FIELD" (or "requests[N].FIELD"), sent before the JSON that
// names their collections. The body may be 128 MiB when a collection has file fields (8 MiB
// otherwise); a part as large as the largest file field of any collection, each file then checked
// against its own field.
std::size_t BatchBodyLimit(const schema::Snapshot& snapshot);
http::MultipartLimits BatchPartLimits(const schema::Snapshot& snapshot);
// The files of request `index` of a batch, named by their field.
std::vector<http::UploadedFile> BatchItemFiles(const std::vector<http::UploadedFile>& files, std::size_t index);

// The stored name of an upload, as PocketBase makes it: the client's name in snake case (at most
// 100 characters), "_", 10 random [a-z0-9] and the extension (only letters and digits; from the
// content's type when the name has none).
std::string StoredFileName(std::string_view original, std::string_view mime_type);

// Keys in the file store: a record's folder, a file, and a file's thumbnails.
std::string RecordFolder(std::string_view collection_id, std::string_view record_id);
std::string FileKey(std::string_view collection_id, std::string_view record_id, std::string_view name);
std::string ThumbKey(std::string_view collection_id, std::string_view record_id, std::string_view name,
                     std::string_view thumb);
std::string ThumbsFolder(std::string_view collection_id, std::string_view record_id, std::string_view name);

// An upload on its way to the store.
struct StagedFile {
  std::string field;
  std::string name;  // as stored
  std::string type;  // from the content's magic bytes
  uint64_t size = 0;
  std::shared_ptr<const http::SpooledFile> spooled;
  int width = 0, height = 0;  // images
  std::string blurhash;       // images
};

// Names the uploads of a request and adds their names to `body` under the keys they came with
// ("field" replaces, "field+" appends, "+field" prepends), next to any names sent as text, so that
// the ordinary value rules apply to them. Checks each upload against its field (maxSize,
// mimeTypes) and adds PocketBase's errors to `errors`; an upload for no file field is an error.
std::vector<StagedFile> StageUploads(const schema::Collection& c, const std::vector<http::UploadedFile>& uploads,
                                     boost::json::object& body, boost::json::object& errors);

// The file names a file field's value lists.
std::vector<std::string> FileNames(const boost::json::value& value);

// Keeps only the staged files that `values` (a record's final field values) reference.
void DropUnused(std::vector<StagedFile>& staged, const boost::json::object& values);

// Measures the staged images (pixel limit, BlurHash) and moves every staged file into `store`
// under the record's folder, off the I/O thread. Throws a 400 ApiError with the field's error when
// an image is over the pixel limit; on any failure nothing it wrote is left behind.
boost::asio::awaitable<void> WriteUploads(files::FileStore& store, const schema::Collection& c, std::string record_id,
                                          std::vector<StagedFile>& staged);

// Inside a write transaction: adds the `_files` rows of `staged` and removes the rows of the names
// `before` (the old values; null on create) had and `after` no longer has. The store keys of those
// files go to `obsolete`, to be removed once the transaction commits.
util::Status SyncFileRows(store::Tx& tx, const schema::Collection& c, std::string_view record_id,
                          const std::vector<StagedFile>& staged, const boost::json::object* before,
                          const boost::json::object& after, std::vector<std::string>& obsolete);

// Inside a write transaction: removes the `_files` rows of a deleted record.
util::Status DeleteFileRows(store::Tx& tx, std::string_view collection_id, std::string_view record_id);

// Removes files and their thumbnails (`keys` as FileKey gives them) and whole record folders, on
// a background thread; failures are logged.
void RemoveLater(files::FileStore& store, std::vector<std::string> keys, std::vector<std::string> folders = {});

// Removes the `_files` rows and the files of collections that no longer exist in `snapshot`
// (deleted, or dropped by an import), in the background.
void RemoveFilesOfDeletedCollections(store::Store& store, const schema::Snapshot& snapshot, files::FileStore& files);

// Whether `c` has a file field.
bool HasFileFields(const schema::Collection& c);

// The BlurHashes of the images of records `ids` of `c`: record id → {"<file name>": "<BlurHash>"}.
// Records show it as "@blurhash" (a key no field can have).
inline constexpr std::string_view kBlurHashKey = "@blurhash";
std::unordered_map<std::string, boost::json::object> BlurHashes(store::Store& store, const schema::Collection& c,
                                                                const std::vector<std::string>& ids);

// The threads that do blocking file work (image decoding, writes with fsync, removals).
boost::asio::thread_pool& FilesPool();

}  // namespace strata::api
