#include "api/files_routes.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

#include "api/auth.hpp"
#include "api/auth_internal.hpp"
#include "api/record_files.hpp"
#include "api/records_routes.hpp"
#include "auth/token.hpp"
#include "files/file_store.hpp"
#include "files/images.hpp"
#include "http/etag.hpp"
#include "http/range.hpp"
#include "http/router.hpp"
#include "schema/catalog.hpp"
#include "store/store.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;

// Served files run no script and load nothing, whatever they hold.
constexpr std::string_view kFileCsp = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
constexpr std::string_view kPublicCache = "public, max-age=31536000, immutable";
constexpr std::string_view kProtectedCache = "private, no-store";
// The thumbnail size every file field allows (the admin UI's), besides its own "thumbs".
constexpr std::string_view kDefaultThumb = "100x100";

bool Thumbable(std::string_view type) {
  return type == "image/jpeg" || type == "image/png" || type == "image/gif" || type == "image/webp";
}

// Types a browser may show in place; anything else is sent as an attachment.
bool Inline(std::string_view type) {
  if (type == "image/svg+xml") return false;
  return type.starts_with("image/") || type.starts_with("video/") || type.starts_with("audio/") ||
         type == "application/pdf" || type == "text/plain";
}

bool Truthy(const std::optional<std::string>& v) { return v && !v->empty() && *v != "0" && *v != "false"; }

// Whether a record id and file name from the path can name a stored file: each one segment of a
// valid store key. Anything else ("..", a decoded '/', a backslash, NUL, any byte outside the key
// alphabet) names no file, and is answered 404 before the database or the store sees it.
bool NamesAFile(std::string_view collection_id, std::string_view record_id, std::string_view name) {
  return record_id.find('/') == std::string_view::npos && name.find('/') == std::string_view::npos &&
         files::ValidKey(FileKey(collection_id, record_id, name));
}

// A key the store refuses holds no file: missing, as far as the client can tell.
bool Missing(const util::Status& status) {
  return status.code() == util::Status::Code::kNotFound || status.code() == util::Status::Code::kInvalidArgument;
}

// Makes the thumbnail `thumb_key` of `key` on the files pool. False when it cannot be made (the
// original is then served, as PocketBase does).
net::awaitable<bool> MakeThumb(files::FileStore& fs, std::string key, std::string thumb_key, files::ThumbSpec spec,
                               std::string type) {
  co_return co_await net::co_spawn(
      FilesPool(),
      [&]() -> net::awaitable<bool> {
        // Made meanwhile by another request for it.
        if (fs.Stat(thumb_key)) co_return true;
        auto original = files::FetchLocal(fs, key);
        if (!original) {
          spdlog::warn("thumbnail of {}: {}", key, original.error().ToString());
          co_return false;
        }
        auto bytes = files::MakeThumbnail(original->path(), spec, type);
        if (!bytes) {
          spdlog::warn("thumbnail of {}: {}", key, bytes.error().ToString());
          co_return false;
        }
        auto writer = fs.Create(thumb_key);
        util::Status st = writer ? (*writer)->Append(*bytes) : writer.error();
        if (st.ok()) st = (*writer)->Commit();
        if (!st.ok()) spdlog::warn("storing thumbnail {}: {}", thumb_key, st.ToString());
        co_return st.ok();
      },
      net::use_awaitable);
}

// The file a request names, once its access is checked.
struct Target {
  std::string collection_id;
  std::string record_id;
  std::string name;
  std::string type;
  bool is_protected = false;
  std::optional<files::ThumbSpec> thumb;  // a thumbnail the field allows, of an image
  std::string thumb_key;
};

Target Locate(const http::Request& req, store::Store& store, schema::Catalog& catalog,
              const auth::TokenService& tokens) {
  auto snapshot = catalog.Current();
  const schema::Collection* c = snapshot->Find(req.Param("collection"));
  if (!c) throw http::ApiError::NotFound();
  Target t;
  t.collection_id = c->id;
  t.record_id = req.Param("recordId");
  t.name = req.Param("filename");
  if (!NamesAFile(t.collection_id, t.record_id, t.name)) throw http::ApiError::NotFound();
  // The `_files` row is written in the transaction that references the file, so the table names
  // exactly the files records hold.
  auto rs =
      store.Query("SELECT `field`, `type` FROM `_files` WHERE `collectionId` = ? AND `recordId` = ? AND `name` = ?",
                  {t.collection_id, t.record_id, t.name});
  if (!rs) throw http::ApiError::Internal(rs.error().ToString());
  if (rs->rows.empty()) throw http::ApiError::NotFound();
  const schema::Field* field = c->FindField(std::get<std::string>(rs->rows[0][0]));
  if (!field || field->type != schema::FieldType::kFile) throw http::ApiError::NotFound();
  t.type = std::get<std::string>(rs->rows[0][1]);
  t.is_protected = field->BoolOption("protected");
  if (t.is_protected) {
    auto who = AuthenticateToken(req.QueryParam("token").value_or(""), "file", snapshot, store, tokens);
    if (!CanViewRecord(req, snapshot, *c, t.record_id, std::move(who), store)) {
      throw http::ApiError::Forbidden("Insufficient permissions to access the file resource.");
    }
  }
  if (auto thumb = req.QueryParam("thumb"); thumb && !thumb->empty() && Thumbable(t.type)) {
    const auto sizes = field->StringListOption("thumbs");
    if (*thumb == kDefaultThumb || std::find(sizes.begin(), sizes.end(), *thumb) != sizes.end()) {
      t.thumb = files::ParseThumb(*thumb);
      if (t.thumb) t.thumb_key = ThumbKey(t.collection_id, t.record_id, t.name, *thumb);
      // Too long a key for the store: the original is served.
      if (t.thumb && !files::ValidKey(t.thumb_key)) t.thumb.reset();
    }
  }
  return t;
}

// The response for the stored file `key`: whole, a range of it, or 304.
http::Response Serve(const http::Request& req, files::FileStore& fs, const Target& t, const std::string& key) {
  auto opened = fs.Open(key);
  if (!opened) {
    if (Missing(opened.error())) throw http::ApiError::NotFound();
    throw http::ApiError::Internal(opened.error().ToString());
  }
  std::shared_ptr<files::FileReader> reader = std::move(*opened);
  http::Response res;
  if (reader->native_handle() < 0) {
    // A remote store: the client fetches the file from it directly.
    auto url = fs.PresignedUrl(key, std::chrono::minutes(5));
    if (!url) throw http::ApiError::Internal("the file store gives neither a file nor a URL");
    res.status = 302;
    res.content_type.clear();
    res.headers.emplace_back("Location", *url);
    res.headers.emplace_back("Cache-Control", "private, no-store");
    return res;
  }
  const auto& info = reader->info();
  const auto since_epoch = info.modified.time_since_epoch();
  const int64_t mtime_s = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  const int64_t mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
  const std::string etag = fmt::format("\"{:x}-{:x}\"", info.size, mtime_ns);
  const bool attachment = Truthy(req.QueryParam("download")) || !Inline(t.type);
  res.headers.emplace_back("ETag", etag);
  res.headers.emplace_back("Last-Modified", http::FormatHttpDate(mtime_s));
  res.headers.emplace_back("Cache-Control", t.is_protected ? kProtectedCache : kPublicCache);
  res.headers.emplace_back("Accept-Ranges", "bytes");
  res.headers.emplace_back("Content-Security-Policy", kFileCsp);
  res.headers.emplace_back("Content-Disposition",
                           fmt::format("{}; filename=\"{}\"", attachment ? "attachment" : "inline", t.name));

  // Conditional requests: If-None-Match first; If-Modified-Since only without it.
  bool not_modified = false;
  if (auto inm = req.Header("If-None-Match")) {
    not_modified = http::IfNoneMatch(*inm, etag);
  } else if (auto ims = req.Header("If-Modified-Since")) {
    const auto when = http::ParseHttpDate(*ims);
    not_modified = when && *when >= mtime_s;
  }
  if (not_modified) {
    res.status = 304;
    res.content_type.clear();
    return res;
  }

  uint64_t first = 0, length = info.size;
  if (auto range = req.Header("Range")) {
    // If-Range: the range only while the client's copy is still this one. A date validates only
    // when it is exactly the Last-Modified sent (RFC 9110 §13.1.5): any other date, earlier or
    // later, may be of another version, which gets the whole file.
    bool current = true;
    if (auto if_range = req.Header("If-Range")) {
      const auto when = http::ParseHttpDate(*if_range);
      current = when ? *when == mtime_s : *if_range == etag;
    }
    const auto r = current ? http::ParseRange(*range, info.size) : http::ByteRange{};
    if (r.kind == http::ByteRange::Kind::kUnsatisfiable) {
      http::ApiError refused{416, "The requested range is not satisfiable."};
      refused.headers.emplace_back("Content-Range", fmt::format("bytes */{}", info.size));
      throw refused;
    }
    if (r.kind == http::ByteRange::Kind::kPartial) {
      res.status = 206;
      first = r.first;
      length = r.length();
      res.headers.emplace_back("Content-Range", fmt::format("bytes {}-{}/{}", r.first, r.last, info.size));
    }
  }
  res.content_type = t.type;
  const int fd = reader->native_handle();
  res.file = std::make_shared<http::FileBody>(http::FileBody{fd, first, length, std::move(reader)});
  return res;
}

}  // namespace

void AddFileRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                   files::FileStore& fs) {
  router.Add(http::Verb::kGet, "/api/files/{collection}/{recordId}/{filename}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               const Target t = Locate(req, store, catalog, tokens);
               std::string key = FileKey(t.collection_id, t.record_id, t.name);
               if (t.thumb) {
                 bool have = fs.Stat(t.thumb_key).has_value();
                 if (!have) have = co_await MakeThumb(fs, key, t.thumb_key, *t.thumb, t.type);
                 if (have) key = t.thumb_key;
               }
               co_return Serve(req, fs, t, key);
             },
             {.tags = "file"});

  router.Add(http::Verb::kPost, "/api/files/token",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               auto who = Authenticate(req, catalog.Current(), store, tokens);
               if (!who) throw http::ApiError{401, "Missing auth context.", {}, {}};
               auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE `id` = ?", who->collection->name),
                                     {who->record_id});
               if (!rs) throw http::ApiError::Internal(rs.error().ToString());
               if (rs->rows.empty()) throw http::ApiError{401, "Missing auth context.", {}, {}};
               const std::string token =
                   tokens.Sign({.record_id = who->record_id,
                                .collection_id = who->collection->id,
                                .type = "file",
                                .key_fingerprint = auth::TokenKeyFingerprint(internal::TokenKeyOf(*rs, rs->rows[0]))},
                               internal::OptionDuration(*who->collection, "fileToken", 180));
               co_return http::Response::Json(200, boost::json::serialize(boost::json::object{{"token", token}}));
             },
             {.tags = "fileToken"});
}

}  // namespace strata::api
