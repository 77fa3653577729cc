// ResponseCache: answers of read endpoints kept in memory until the data they were built from
// changes. Each entry remembers the tables its reads touched and the store's change mark from
// before the first read (store::ReadTracker); it is served only while no commit has changed one
// of those tables since, so an answer is never older than a write acknowledged before the
// request. Bounded by bytes, least recently used out first. Thread-safe; sharded so that I/O
// threads rarely meet on a lock. A cache shared by several instances (invalidated over the bus)
// will follow with the distributed tier.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

namespace strata::cache {

inline constexpr std::size_t kDefaultCacheBytes = std::size_t{64} << 20;

struct CachedResponse {
  std::shared_ptr<const std::string> body;  // shared with the answers that serve it, never copied
  std::string etag;
  std::shared_ptr<const std::string> gzip = nullptr;  // the body gzip-compressed, once a client asked
};

class ResponseCache {
 public:
  // `max_bytes`: keys and bodies together; 0 turns the cache off.
  ResponseCache(store::Store& store, std::size_t max_bytes = kDefaultCacheBytes);

  // The answer kept for `key`, if nothing it read has changed since it was built.
  std::optional<CachedResponse> Get(std::string_view key);

  // Keeps an answer built from reads that began at `mark` and touched `tables`. Ignored when one
  // of them has already changed, or when it alone would take over an eighth of a shard.
  void Put(std::string key, CachedResponse response, std::vector<std::string> tables, uint64_t mark);

  // Keeps the gzip form of the answer under `key` whose tag is `etag` (if it is still there).
  void SetGzip(std::string_view key, std::string_view etag, std::shared_ptr<const std::string> gzip);

  bool enabled() const { return max_bytes_ > 0; }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    CachedResponse response;
    std::vector<std::string> tables;
    uint64_t mark = 0;
    std::size_t bytes = 0;
    uint64_t hash = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // most recently used first
    // By a 64-bit hash of the key (the entry's key is compared on a hit; a colliding key replaces
    // the entry).
    std::unordered_map<uint64_t, std::list<Entry>::iterator> index;
    std::size_t bytes = 0;
  };
  static constexpr std::size_t kShards = 16;

  static uint64_t HashOf(std::string_view key);
  Shard& ShardOf(uint64_t hash) { return shards_[hash % kShards]; }
  static void Erase(Shard& shard, std::list<Entry>::iterator it);

  store::Store& store_;
  const std::size_t max_bytes_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace strata::cache
