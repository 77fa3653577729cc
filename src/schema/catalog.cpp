#include "schema/catalog.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <future>

#include "schema/ddl.hpp"
#include "util/text.hpp"

namespace strata::schema {
namespace {

constexpr const char* kCreateTables[] = {
    "CREATE TABLE IF NOT EXISTS `_collections` (`id` TEXT PRIMARY KEY NOT NULL, "
    "`name` TEXT NOT NULL UNIQUE COLLATE NOCASE, `type` TEXT NOT NULL, `system` BOOLEAN DEFAULT FALSE NOT NULL, "
    "`data` JSON NOT NULL, `created` TEXT NOT NULL, `updated` TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS `_params` (`id` TEXT PRIMARY KEY NOT NULL, `value` JSON)",
    "INSERT OR IGNORE INTO `_params` (`id`, `value`) VALUES ('collections_version', 0)",
};
constexpr std::string_view kVersionQuery = "SELECT `value` FROM `_params` WHERE `id` = 'collections_version'";
constexpr std::string_view kBumpVersion =
    "UPDATE `_params` SET `value` = `value` + 1 WHERE `id` = 'collections_version'";

int64_t AsInt(const util::SqlValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}

util::Result<Collection> FromStored(const std::string& data) {
  boost::system::error_code ec;
  auto value = boost::json::parse(data, ec);
  if (ec || !value.is_object()) return std::unexpected(util::Status::Internal("corrupt collection definition"));
  const auto& obj = value.as_object();
  auto parsed = CollectionFromJson(obj, nullptr);
  if (!parsed.errors.empty()) {
    return std::unexpected(
        util::Status::Internal("corrupt collection definition: " + boost::json::serialize(parsed.errors)));
  }
  if (auto it = obj.find("created"); it != obj.end() && it->value().is_string()) {
    parsed.collection.created = std::string(it->value().as_string());
  }
  if (auto it = obj.find("updated"); it != obj.end() && it->value().is_string()) {
    parsed.collection.updated = std::string(it->value().as_string());
  }
  return std::move(parsed.collection);
}

util::Result<std::vector<Collection>> LoadAll(store::Tx& tx) {
  auto rs = tx.Query("SELECT `data` FROM `_collections` ORDER BY `created`, rowid");
  if (!rs) return std::unexpected(rs.error());
  std::vector<Collection> out;
  for (const auto& row : rs->rows) {
    auto c = FromStored(std::get<std::string>(row[0]));
    if (!c) return std::unexpected(c.error());
    out.push_back(std::move(*c));
  }
  return out;
}

Collection* FindIn(std::vector<Collection>& all, std::string_view id_or_name) {
  for (auto& c : all) {
    if (c.id == id_or_name) return &c;
  }
  const auto lower = util::Lower(id_or_name);
  for (auto& c : all) {
    if (util::Lower(c.name) == lower) return &c;
  }
  return nullptr;
}

std::vector<const Collection*> Others(const std::vector<Collection>& all, const std::string& except_id) {
  std::vector<const Collection*> out;
  for (const auto& c : all) {
    if (c.id != except_id) out.push_back(&c);
  }
  return out;
}

util::Status Persist(store::Tx& tx, const Collection& c, bool insert) {
  const std::string data = boost::json::serialize(CollectionToJson(c));
  util::Result<int64_t> r;
  if (insert) {
    r = tx.Exec(
        "INSERT INTO `_collections` (`id`, `name`, `type`, `system`, `data`, `created`, `updated`) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {c.id, c.name, std::string(CollectionTypeName(c.type)), c.system, data, c.created, c.updated});
  } else {
    r = tx.Exec("UPDATE `_collections` SET `name` = ?, `system` = ?, `data` = ?, `updated` = ? WHERE `id` = ?",
                {c.name, c.system, data, c.updated, c.id});
  }
  return r ? util::Status::Ok() : r.error();
}

// Runs the migration; an error from the database (a bad view query, data that violates a new
// unique index) becomes a validation error of the collection.
util::Status Migrate(store::Tx& tx, const Collection* before, Collection* after, boost::json::object& errors) {
  for (const auto& sql : MigrationSql(before, after)) {
    if (auto r = tx.Exec(sql); !r) {
      const bool view = after && after->type == CollectionType::kView;
      const char* key =
          view ? "viewQuery" : (r.error().code() == util::Status::Code::kConstraint ? "indexes" : "fields");
      errors[key] = boost::json::object{
          {"code", view ? "validation_invalid_view_query" : "validation_migration_failed"},
          {"message", (view ? "Invalid query - " : "Cannot apply the change - ") + r.error().message()}};
      return util::Status::InvalidArgument("migration failed");
    }
  }
  if (after && after->type == CollectionType::kView) {
    // A view's fields are its query's columns; it must have an id.
    auto rs = tx.Query(fmt::format("SELECT * FROM `{}` LIMIT 0", after->name));
    if (!rs) {
      errors["viewQuery"] = boost::json::object{{"code", "validation_invalid_view_query"},
                                                {"message", "Invalid query - " + rs.error().message()}};
      return util::Status::InvalidArgument("invalid view query");
    }
    // A column that reads a collection's field unchanged is that field (its type and options, a
    // relation still a relation); a computed one is json, as in PocketBase.
    auto origins = tx.ColumnOrigins(fmt::format("SELECT * FROM `{}`", after->name));
    if (!origins) return origins.error();
    auto all = LoadAll(tx);
    if (!all) return all.error();
    auto origin_field = [&](std::size_t i) -> const Field* {
      if (i >= origins->size() || (*origins)[i].table.empty()) return nullptr;
      const auto& o = (*origins)[i];
      for (const Collection& c : *all) {
        if (c.type == CollectionType::kView || util::Lower(c.name) != util::Lower(o.table)) continue;
        return c.FindField(o.column);
      }
      return nullptr;
    };
    std::vector<Field> fields;
    bool has_id = false;
    for (std::size_t i = 0; i < rs->columns.size(); ++i) {
      const std::string& col = rs->columns[i];
      const Field* existing = after->FindField(col);
      Field f;
      if (const Field* source = origin_field(i); source && col != "id") {
        f = *source;
        f.system = false;
        f.id = existing && existing->type == source->type ? existing->id : std::string();
        // Secrets stay hidden in a view of them.
        if (f.type == FieldType::kPassword || source->name == "tokenKey") f.hidden = true;
      } else if (existing) {
        f = *existing;
      } else {
        f.type = FieldType::kJson;
      }
      f.name = col;
      if (col == "id") {
        has_id = true;
        f.type = FieldType::kText;
        f.system = true;
        f.required = true;
      }
      if (f.id.empty()) f.id = std::string(FieldTypeName(f.type)) + NewId().substr(0, 10);
      fields.push_back(std::move(f));
    }
    if (!has_id) {
      errors["viewQuery"] = boost::json::object{{"code", "validation_invalid_view_query"},
                                                {"message", "Invalid query - the query must select an id column."}};
      return util::Status::InvalidArgument("invalid view query");
    }
    after->fields = std::move(fields);
  }
  return util::Status::Ok();
}

Collection SuperusersCollection() {
  Collection c = NewCollection(CollectionType::kAuth, std::string(kSuperusersCollection));
  c.id = "pbc_3142635823";
  c.system = true;
  c.options["authRule"] = "";
  c.options["authToken"] = boost::json::object{{"duration", 86400}};
  for (const char* name : {"created", "updated"}) {
    Field f;
    f.id = std::string("autodate") + (name[0] == 'c' ? "2990389176" : "3332085495");
    f.name = name;
    f.type = FieldType::kAutodate;
    f.system = true;
    f.options = {{"onCreate", true}, {"onUpdate", name[0] == 'u'}};
    c.fields.push_back(std::move(f));
  }
  // Re-derive the index names from the final id.
  c.indexes = {fmt::format("CREATE UNIQUE INDEX `idx_tokenKey_{}` ON `{}` (`tokenKey`)", c.id, c.name),
               fmt::format("CREATE UNIQUE INDEX `idx_email_{}` ON `{}` (`email`) WHERE `email` != ''", c.id, c.name)};
  c.created = c.updated = NowDateTime();
  return c;
}

}  // namespace

struct Catalog::Pending {
  ChangeResult result;
};

Snapshot::Snapshot(std::vector<Collection> collections, int64_t version)
    : collections_(std::move(collections)), version_(version) {
  for (std::size_t i = 0; i < collections_.size(); ++i) {
    by_id_.emplace(collections_[i].id, i);
    by_name_.emplace(util::Lower(collections_[i].name), i);
  }
}

const Collection* Snapshot::Find(std::string_view id_or_name) const {
  if (auto it = by_id_.find(id_or_name); it != by_id_.end()) return &collections_[it->second];
  // Names are matched case-insensitively; most requests name it as it was written.
  if (auto it = by_name_.find(id_or_name); it != by_name_.end()) return &collections_[it->second];
  if (auto it = by_name_.find(util::Lower(id_or_name)); it != by_name_.end()) return &collections_[it->second];
  return nullptr;
}

util::Result<std::unique_ptr<Catalog>> Catalog::Open(store::Store& store, RuleChecker check_rule) {
  auto st = store.WriteAndWait([](store::Tx& tx) -> util::Status {
    for (const char* sql : kCreateTables) {
      if (auto r = tx.Exec(sql); !r) return r.error();
    }
    auto all = LoadAll(tx);
    if (!all) return all.error();
    if (FindIn(*all, kSuperusersCollection)) return util::Status::Ok();
    Collection su = SuperusersCollection();
    boost::json::object errors;
    if (auto m = Migrate(tx, nullptr, &su, errors); !m.ok()) {
      return util::Status::Internal("cannot create _superusers: " + boost::json::serialize(errors));
    }
    if (auto p = Persist(tx, su, true); !p.ok()) return p;
    auto r = tx.Exec(kBumpVersion);
    return r ? util::Status::Ok() : r.error();
  });
  if (!st.ok()) return std::unexpected(st);
  auto catalog = std::unique_ptr<Catalog>(new Catalog(store, std::move(check_rule)));
  if (auto r = catalog->Reload(); !r.ok()) return std::unexpected(r);
  return catalog;
}

util::Status Catalog::Reload() {
  auto version = store_.Query(kVersionQuery);
  if (!version) return version.error();
  auto rs = store_.Query("SELECT `data` FROM `_collections` ORDER BY `created`, rowid");
  if (!rs) return rs.error();
  std::vector<Collection> all;
  for (const auto& row : rs->rows) {
    auto c = FromStored(std::get<std::string>(row[0]));
    if (!c) return c.error();
    all.push_back(std::move(*c));
  }
  const int64_t v = version->rows.empty() ? 0 : AsInt(version->rows[0][0]);
  current_.store(std::make_shared<const Snapshot>(std::move(all), v));
  last_check_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  return util::Status::Ok();
}

std::shared_ptr<const Snapshot> Catalog::Current() {
  const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  int64_t last = last_check_ns_.load(std::memory_order_relaxed);
  if (now - last >= std::chrono::nanoseconds(kCatalogRefreshInterval).count() &&
      last_check_ns_.compare_exchange_strong(last, now)) {
    // One thread checks; the others keep using the current snapshot meanwhile.
    auto version = store_.Query(kVersionQuery);
    auto snap = current_.load();
    if (version && !version->rows.empty() && AsInt(version->rows[0][0]) != snap->version()) {
      if (auto st = Reload(); !st.ok()) spdlog::error("reloading collections: {}", st.ToString());
    }
  }
  return current_.load();
}

void Catalog::Publish(const ChangeResult& result) {
  if (!result.status.ok()) return;
  if (auto st = Reload(); !st.ok()) spdlog::error("reloading collections: {}", st.ToString());
}

store::WriteDone Catalog::Finish(std::shared_ptr<Pending> pending, ChangeDone done) {
  return [this, pending = std::move(pending), done = std::move(done)](util::Status st) {
    pending->result.status = std::move(st);
    if (!pending->result.status.ok()) pending->result.collection.reset();
    Publish(pending->result);
    done(std::move(pending->result));
  };
}

void Catalog::Save(std::optional<std::string> id_or_name, boost::json::object body, ChangeDone done) {
  auto pending = std::make_shared<Pending>();
  store_.Write(
      [this, pending, id_or_name = std::move(id_or_name), body = std::move(body)](store::Tx& tx) -> util::Status {
        auto all = LoadAll(tx);
        if (!all) return all.error();
        const Collection* before = nullptr;
        if (id_or_name) {
          before = FindIn(*all, *id_or_name);
          if (!before) return util::Status::NotFound("collection not found");
        }
        auto parsed = CollectionFromJson(body, before);
        auto& result = pending->result;
        result.errors = std::move(parsed.errors);
        if (!result.errors.empty()) return util::Status::InvalidArgument("invalid collection");
        Collection c = std::move(parsed.collection);
        result.errors = Validate(c, before, Others(*all, before ? before->id : ""), check_rule_);
        if (!result.errors.empty()) return util::Status::InvalidArgument("invalid collection");
        if (auto st = Migrate(tx, before, &c, result.errors); !st.ok()) return st;
        if (auto st = Persist(tx, c, before == nullptr); !st.ok()) return st;
        if (auto r = tx.Exec(kBumpVersion); !r) return r.error();
        result.collection = std::move(c);
        return util::Status::Ok();
      },
      Finish(pending, std::move(done)));
}

void Catalog::Create(boost::json::object body, ChangeDone done) {
  Save(std::nullopt, std::move(body), std::move(done));
}

void Catalog::Update(std::string id_or_name, boost::json::object body, ChangeDone done) {
  Save(std::move(id_or_name), std::move(body), std::move(done));
}

void Catalog::Delete(std::string id_or_name, ChangeDone done) {
  auto pending = std::make_shared<Pending>();
  store_.Write(
      [pending, id_or_name = std::move(id_or_name)](store::Tx& tx) -> util::Status {
        auto all = LoadAll(tx);
        if (!all) return all.error();
        const Collection* c = FindIn(*all, id_or_name);
        if (!c) return util::Status::NotFound("collection not found");
        if (c->system) return util::Status::InvalidArgument("System collections cannot be deleted.");
        for (const auto& other : *all) {
          if (other.id == c->id) continue;
          for (const auto& f : other.fields) {
            if (f.type == FieldType::kRelation && f.StringOption("collectionId") == c->id) {
              return util::Status::InvalidArgument(
                  fmt::format("The collection is referenced by the relation field {:?} of {:?}.", f.name, other.name));
            }
          }
        }
        boost::json::object errors;
        if (auto st = Migrate(tx, c, nullptr, errors); !st.ok()) return st;
        if (auto r = tx.Exec("DELETE FROM `_collections` WHERE `id` = ?", {c->id}); !r) return r.error();
        if (auto r = tx.Exec(kBumpVersion); !r) return r.error();
        pending->result.collection = *c;
        return util::Status::Ok();
      },
      [this, pending, done = std::move(done)](util::Status st) {
        // The deleted definition stays in the result: the caller may want to name it.
        pending->result.status = std::move(st);
        Publish(pending->result);
        done(std::move(pending->result));
      });
}

void Catalog::Import(boost::json::array collections, bool delete_missing, ChangeDone done) {
  auto pending = std::make_shared<Pending>();
  store_.Write(
      [this, pending, collections = std::move(collections), delete_missing](store::Tx& tx) -> util::Status {
        auto loaded = LoadAll(tx);
        if (!loaded) return loaded.error();
        const std::vector<Collection> before_all = std::move(*loaded);
        auto& result = pending->result;

        // Parse every item first, so that relations may point at collections later in the list.
        std::vector<Collection> after_all;
        std::vector<const Collection*> befores;
        boost::json::object item_errors;
        for (std::size_t i = 0; i < collections.size(); ++i) {
          if (!collections[i].is_object()) {
            item_errors[std::to_string(i)] =
                boost::json::object{{"code", "validation_invalid_value"}, {"message", "Must be a collection object."}};
            continue;
          }
          const auto& body = collections[i].as_object();
          const Collection* before = nullptr;
          for (const char* key : {"id", "name"}) {
            auto it = body.find(key);
            if (!before && it != body.end() && it->value().is_string()) {
              for (const auto& b : before_all) {
                if ((key[0] == 'i' && b.id == it->value().as_string()) ||
                    (key[0] == 'n' && util::Lower(b.name) == util::Lower(it->value().as_string()))) {
                  before = &b;
                }
              }
            }
          }
          auto parsed = CollectionFromJson(body, before);
          if (!parsed.errors.empty()) item_errors[std::to_string(i)] = std::move(parsed.errors);
          after_all.push_back(std::move(parsed.collection));
          befores.push_back(before);
        }
        // Collections not in the list: kept, or deleted with delete_missing (never system ones).
        std::vector<const Collection*> removed;
        for (const auto& b : before_all) {
          bool listed = false;
          for (const auto* used : befores) listed = listed || used == &b;
          if (listed) continue;
          if (delete_missing && !b.system) {
            removed.push_back(&b);
          } else {
            after_all.push_back(b);
            befores.push_back(&b);
          }
        }
        if (item_errors.empty()) {
          for (std::size_t i = 0; i < after_all.size(); ++i) {
            auto errors = Validate(after_all[i], befores[i], Others(after_all, after_all[i].id), check_rule_);
            if (!errors.empty()) item_errors[std::to_string(i)] = std::move(errors);
          }
        }
        if (!item_errors.empty()) {
          result.errors["collections"] = std::move(item_errors);
          return util::Status::InvalidArgument("invalid collections");
        }
        for (const auto* r : removed) {
          boost::json::object errors;
          if (auto st = Migrate(tx, r, nullptr, errors); !st.ok()) return st;
          if (auto q = tx.Exec("DELETE FROM `_collections` WHERE `id` = ?", {r->id}); !q) return q.error();
        }
        for (std::size_t i = 0; i < after_all.size(); ++i) {
          boost::json::object errors;
          if (auto st = Migrate(tx, befores[i], &after_all[i], errors); !st.ok()) {
            result.errors["collections"] = boost::json::object{{std::to_string(i), std::move(errors)}};
            return st;
          }
          if (auto st = Persist(tx, after_all[i], befores[i] == nullptr); !st.ok()) return st;
        }
        if (auto r = tx.Exec(kBumpVersion); !r) return r.error();
        return util::Status::Ok();
      },
      Finish(pending, std::move(done)));
}

ChangeResult Wait(const std::function<void(ChangeDone)>& start) {
  std::promise<ChangeResult> promise;
  auto future = promise.get_future();
  start([&promise](ChangeResult r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace strata::schema
