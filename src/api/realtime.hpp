// Realtime: record changes pushed to subscribed clients over server-sent events, as PocketBase's
// realtime API (GET/POST /api/realtime), each client seeing only what its rules allow.
//
// Committed changes go to the Bus; every instance's Realtime receives them from it and fans each
// one out to its own clients: the subscriptions it matches, the collection's listRule (for
// `collection/*`) or viewRule (for `collection/RECORD_ID`) decided in memory by the filter
// evaluator, one serialized payload per distinct view of the record. Each client has a bounded
// queue; one that cannot keep up is disconnected, and neither writers nor other clients wait on it.
// Thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "api/record_change.hpp"

namespace strata::http {
class Router;
}
namespace strata::store {
class Store;
}
namespace strata::schema {
class Catalog;
}
namespace strata::auth {
class TokenService;
}
namespace strata::realtime {
class Bus;
}

namespace strata::api {

struct RealtimeLimits {
  std::size_t max_queued_messages = 1000;          // per client, then it is disconnected
  std::size_t max_queued_bytes = 8 * 1024 * 1024;  // per client, then it is disconnected
  // Per I/O thread: events waiting to be fanned out to its clients. Past it, the thread has
  // fallen behind, and its clients are disconnected as too slow (they reconnect and catch up).
  std::size_t max_pending_events = 100000;
  // Per instance: deliveries waiting for the database worker (rules that read other rows,
  // expand). Past it, the clients whose events would wait there are disconnected as too slow.
  std::size_t max_database_backlog = 100000;
  std::size_t max_subscriptions = 1000;  // per client
  std::size_t max_topic_length = 2500;   // characters, options included
  // Per instance: each one may cost a database read per event (expanded records follow their own
  // rules, for each requester).
  std::size_t max_expand_subscriptions = 1000;
  std::size_t max_expand_subscriptions_per_client = 50;
  int idle_timeout_seconds = 300;  // with nothing sent, the server ends the stream
  // Per WebSocket connection: the messages it may send a second (and at once); each one past that
  // is refused with an error and not acted on, so that no client can flood a room.
  int64_t max_client_messages_per_second = 100;
  // Rooms named after a record: besides on each change of the record, how often every member's
  // right to see it is checked again (rules that read other records change without it).
  int room_recheck_seconds = 60;
};

class Realtime {
 public:
  // Subscribes to `bus`. The arguments must outlive this object.
  Realtime(realtime::Bus& bus, store::Store& store, schema::Catalog& catalog, const auth::TokenService& tokens,
           RealtimeLimits limits = {});
  ~Realtime();
  Realtime(const Realtime&) = delete;
  Realtime& operator=(const Realtime&) = delete;

  // Publishes committed changes to the bus (the RecordChangeSink of the records routes).
  void Publish(std::vector<RecordChange> changes);

  // Waits for the events still being decided by the database to be handed to their threads.
  // Called once, after the bus has stopped delivering.
  void Drain();

  struct Stats {
    std::size_t clients = 0;
    uint64_t delivered = 0;     // messages queued for clients since start
    uint64_t disconnected = 0;  // clients dropped for not keeping up
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend void AddRealtimeRoutes(http::Router& router, Realtime& realtime);
};

// Registers GET /api/realtime (the event stream) and POST /api/realtime (subscriptions).
void AddRealtimeRoutes(http::Router& router, Realtime& realtime);

}  // namespace strata::api
