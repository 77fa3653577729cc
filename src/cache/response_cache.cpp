#include "cache/response_cache.hpp"

#include <xxhash.h>

#include <functional>

namespace strata::cache {

ResponseCache::ResponseCache(store::Store& store, std::size_t max_bytes)
    : store_(store), max_bytes_(max_bytes), shards_(std::make_unique<Shard[]>(kShards)) {}

uint64_t ResponseCache::HashOf(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

void ResponseCache::Erase(Shard& shard, std::list<Entry>::iterator it) {
  shard.bytes -= it->bytes;
  shard.index.erase(it->hash);
  shard.lru.erase(it);
}

std::optional<CachedResponse> ResponseCache::Get(std::string_view key) {
  if (!enabled()) return std::nullopt;
  const uint64_t hash = HashOf(key);
  Shard& shard = ShardOf(hash);
  std::lock_guard lock(shard.mu);
  auto found = shard.index.find(hash);
  if (found == shard.index.end() || found->second->key != key) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  auto it = found->second;
  if (store_.ChangedSince(it->tables, it->mark)) {
    Erase(shard, it);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->response;
}

void ResponseCache::Put(std::string key, CachedResponse response, std::vector<std::string> tables, uint64_t mark) {
  if (!enabled()) return;
  const std::size_t shard_budget = max_bytes_ / kShards;
  Entry entry{
      .key = std::move(key), .response = std::move(response), .tables = std::move(tables), .mark = mark, .bytes = 0};
  if (!entry.response.body) return;
  // The body's capacity: the memory it holds, which may be more than its text.
  entry.bytes = entry.key.size() + entry.response.body->capacity() + entry.response.etag.size() + sizeof(Entry) +
                entry.tables.size() * 32;
  if (entry.bytes > shard_budget / 8) return;
  // Already out of date: a write landed while it was being built.
  if (store_.ChangedSince(entry.tables, entry.mark)) return;
  entry.hash = HashOf(entry.key);
  Shard& shard = ShardOf(entry.hash);
  std::lock_guard lock(shard.mu);
  if (auto found = shard.index.find(entry.hash); found != shard.index.end()) Erase(shard, found->second);
  shard.bytes += entry.bytes;
  shard.lru.push_front(std::move(entry));
  shard.index.emplace(shard.lru.front().hash, shard.lru.begin());
  while (shard.bytes > shard_budget && !shard.lru.empty()) Erase(shard, std::prev(shard.lru.end()));
}

void ResponseCache::SetGzip(std::string_view key, std::string_view etag, std::shared_ptr<const std::string> gzip) {
  if (!enabled() || !gzip) return;
  const uint64_t hash = HashOf(key);
  Shard& shard = ShardOf(hash);
  std::lock_guard lock(shard.mu);
  auto found = shard.index.find(hash);
  if (found == shard.index.end() || found->second->key != key || found->second->response.etag != etag ||
      found->second->response.gzip) {
    return;
  }
  found->second->bytes += gzip->size();
  shard.bytes += gzip->size();
  found->second->response.gzip = std::move(gzip);
}

ResponseCache::Stats ResponseCache::stats() const {
  Stats s{.hits = hits_.load(std::memory_order_relaxed), .misses = misses_.load(std::memory_order_relaxed)};
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    s.entries += shards_[i].lru.size();
    s.bytes += shards_[i].bytes;
  }
  return s;
}

}  // namespace strata::cache
