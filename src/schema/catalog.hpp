// Catalog: the collections of a database, persisted in its `_collections` table, with their
// tables kept in step. Readers take an immutable Snapshot without locking; changes are validated,
// migrated and saved in one write transaction, then published. Changes made by another process
// on the same database (the command line while a server runs) are picked up within
// kCatalogRefreshInterval. Thread-safe.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/collection.hpp"
#include "schema/validate.hpp"
#include "store/store.hpp"
#include "util/status.hpp"
#include "util/text.hpp"

namespace strata::schema {

inline constexpr std::chrono::milliseconds kCatalogRefreshInterval{1000};
inline constexpr std::string_view kSuperusersCollection = "_superusers";
// The table that holds the collection definitions (lower case, as the store names tables).
inline constexpr std::string_view kCollectionsTable = "_collections";

// The collections at one point in time. Immutable; shared between threads.
class Snapshot {
 public:
  explicit Snapshot(std::vector<Collection> collections, int64_t version);

  const std::vector<Collection>& collections() const { return collections_; }
  int64_t version() const { return version_; }
  // By id, or by name case-insensitively; nullptr when absent.
  const Collection* Find(std::string_view id_or_name) const;

 private:
  using Index = std::unordered_map<std::string, std::size_t, util::StringHash, std::equal_to<>>;

  std::vector<Collection> collections_;
  int64_t version_;
  Index by_id_;
  Index by_name_;  // lower-case names
};

// The outcome of a change: the saved collection, or the validation errors (PocketBase's data map),
// or a failure of the database.
struct ChangeResult {
  util::Status status;         // Ok; InvalidArgument with `errors`; NotFound; or the store's error
  boost::json::object errors;  // validation errors, for InvalidArgument
  std::optional<Collection> collection;
};
using ChangeDone = std::function<void(ChangeResult)>;

class Catalog {
 public:
  // Creates the catalog tables and the `_superusers` collection if missing, and loads the
  // collections. Returns the catalog, or the store's error.
  static util::Result<std::unique_ptr<Catalog>> Open(store::Store& store, RuleChecker check_rule = {});

  // The current collections; refreshes from the database at most once per kCatalogRefreshInterval.
  std::shared_ptr<const Snapshot> Current();

  // Creates a collection from its JSON form (the collections API body).
  void Create(boost::json::object body, ChangeDone done);
  // Updates the collection `id_or_name` with the keys present in `body`.
  void Update(std::string id_or_name, boost::json::object body, ChangeDone done);
  // Deletes the collection `id_or_name` and its table. Fails for system collections and for
  // collections that others reference through a relation field.
  void Delete(std::string id_or_name, ChangeDone done);
  // Replaces the whole schema with `collections` (an import): creates and updates them, and with
  // `delete_missing` deletes non-system collections absent from the list. All or nothing.
  void Import(boost::json::array collections, bool delete_missing, ChangeDone done);

  // Re-reads the collections from the database now.
  util::Status Reload();

 private:
  struct Pending;  // a change's result, shared between its write and its completion

  Catalog(store::Store& store, RuleChecker check_rule) : store_(store), check_rule_(std::move(check_rule)) {}
  // Creates (no id_or_name) or updates a collection.
  void Save(std::optional<std::string> id_or_name, boost::json::object body, ChangeDone done);
  // The completion of a change: record the outcome, publish the new snapshot, report.
  store::WriteDone Finish(std::shared_ptr<Pending> pending, ChangeDone done);
  void Publish(const ChangeResult& result);

  store::Store& store_;
  RuleChecker check_rule_;
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::atomic<int64_t> last_check_ns_{0};
};

// Waits for a change's outcome: for the command line and tests, never for I/O threads.
ChangeResult Wait(const std::function<void(ChangeDone)>& start);

}  // namespace strata::schema
