#include "api/realtime.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "api/auth.hpp"
#include "api/fields.hpp"
#include "api/record_resolver.hpp"
#include "api/records_routes.hpp"
#include "auth/token.hpp"
#include "http/router.hpp"
#include "http/websocket.hpp"
#include "obs/access_log.hpp"
#include "query/eval.hpp"
#include "query/parser.hpp"
#include "ratelimit/limiter.hpp"
#include "realtime/bus.hpp"
#include "schema/catalog.hpp"
#include "store/store.hpp"
#include "util/random.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using schema::Collection;
using schema::CollectionType;
using schema::Field;
using schema::FieldType;
using Piece = std::shared_ptr<const std::string>;

constexpr std::string_view kChannel = "records";
constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

Piece Text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// WebSocket messages that wait together are sent as one JSON array (at most this many, or bytes).
constexpr std::size_t kMaxBatchMessages = 256;
constexpr std::size_t kMaxRoomsPerClient = 100;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(25);
constexpr std::string_view kExpandLimitMessage =
    "This server holds as many subscriptions with \"expand\" as it allows; subscribe without it.";

Piece Json(const boost::json::object& o) { return Text(boost::json::serialize(o)); }

// Waits on `timer` until kFlushInterval has passed since `last_write`: writes to a connection
// come at most that often, so that what arrives in between goes out together.
net::awaitable<void> FlushPause(net::steady_timer& timer, std::chrono::steady_clock::time_point last_write) {
  if (const auto next = last_write + kFlushInterval; std::chrono::steady_clock::now() < next) {
    timer.expires_at(next);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

// What the exception being handled says, for the log (an ApiError is not a std::exception).
std::string CurrentFailure() {
  try {
    throw;
  } catch (const http::ApiError& e) {
    return e.message + " " + e.detail;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// One message for a client: up to two pieces sent as one, so that the shared part of an event is
// never copied. A WebSocket event is one piece shared by every subscriber with the same topic and
// view; an SSE frame is the client's own `id:` line, then such a shared piece.
struct Message {
  Piece a, b;
  std::size_t size() const { return (a ? a->size() : 0) + (b ? b->size() : 0); }
};

// A subscription: "collection/*" or "collection/RECORD_ID", optionally "?options=" + the
// URL-encoded JSON {"query":{…},"headers":{…}} that the rules and the shape of the record see.
struct Subscription {
  std::string topic;       // as the client wrote it: the event's name
  std::string collection;  // id or name
  std::string record_id;   // empty for "*"
  boost::json::object query;
  boost::json::object headers;                     // lower-case names, '-' as '_', as @request.headers
  std::string sse_prefix;                          // "event:<topic>\ndata:"
  std::string ws_prefix;                           // {"type":"event","topic":<topic>,"data":
  std::string options_key;                         // the options as text: subscribers with the same share decisions
  std::string fields;                              // the "fields" query option
  std::string expand;                              // the "expand" query option
  std::string filter;                              // the "filter" query option: only records it matches are sent
  std::shared_ptr<const query::Expr> filter_expr;  // parsed; null when it cannot be (nothing is sent)
};

// The topic of the OAuth2 sign-in handed over from /api/oauth2-redirect.
constexpr std::string_view kOAuth2Topic = "@oauth2";

std::optional<Subscription> ParseTopic(const std::string& topic) {
  Subscription s;
  s.topic = topic;
  std::string_view base = topic;
  std::string_view options;
  if (const auto q = base.find('?'); q != std::string_view::npos) {
    options = base.substr(q + 1);
    base = base.substr(0, q);
  }
  const auto slash = base.find('/');
  if (slash != std::string_view::npos) {
    s.collection = std::string(base.substr(0, slash));
    const std::string_view rest = base.substr(slash + 1);
    if (rest != "*") s.record_id = std::string(rest);
  }
  while (!options.empty()) {
    const auto amp = options.find('&');
    const std::string_view pair = options.substr(0, amp);
    options = amp == std::string_view::npos ? std::string_view{} : options.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != "options") continue;
    std::string text = http::PercentDecode(pair.substr(eq + 1));
    for (auto& ch : text) ch = ch == '+' ? ' ' : ch;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec || !parsed.is_object()) return std::nullopt;
    const auto& o = parsed.as_object();
    if (auto it = o.find("query"); it != o.end() && it->value().is_object()) {
      for (const auto& [k, v] : it->value().as_object()) {
        s.query[k] = v.is_string() ? v : boost::json::value(boost::json::serialize(v));
      }
    }
    if (auto it = o.find("headers"); it != o.end() && it->value().is_object()) {
      for (const auto& [k, v] : it->value().as_object()) {
        std::string name(k);
        for (auto& ch : name) ch = ch == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        s.headers[name] = v.is_string() ? v : boost::json::value(boost::json::serialize(v));
      }
    }
  }
  s.options_key = boost::json::serialize(s.query) + boost::json::serialize(s.headers);
  if (auto it = s.query.find("fields"); it != s.query.end() && it->value().is_string()) {
    s.fields = std::string(it->value().as_string());
    if (!s.fields.empty() && !FieldPicker::Parse(s.fields)) return std::nullopt;
  }
  if (auto it = s.query.find("expand"); it != s.query.end() && it->value().is_string()) {
    s.expand = std::string(it->value().as_string());
  }
  if (auto it = s.query.find("filter"); it != s.query.end() && it->value().is_string()) {
    s.filter = std::string(it->value().as_string());
    if (auto expr = query::Parse(s.filter)) s.filter_expr = std::make_shared<const query::Expr>(std::move(*expr));
  }
  s.sse_prefix = fmt::format("event:{}\ndata:", topic);
  s.ws_prefix =
      fmt::format("{{\"type\":\"event\",\"topic\":{},\"data\":", boost::json::serialize(boost::json::value(topic)));
  return s;
}

boost::json::value Lookup(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? boost::json::value(nullptr) : it->value();
}

// Values of filter identifiers over one record (its JSON with every field) and the subscriber's
// request, with the same meaning as the SQL the records API builds. Identifiers that need other
// rows (relations, back-relations, @collection) are refused: the caller then asks the database.
class RecordValueResolver final : public query::ValueResolver {
 public:
  RecordValueResolver(const Collection& c, const boost::json::object& record, const RequestInfo& request)
      : c_(c), record_(record), request_(request) {}

  // For a client's own filter (not a rule), as the records API reads it: hidden fields are left to
  // the database (which refuses them), an auth record's email is there only where emailVisibility
  // shows it.
  void ForClient() { client_ = true; }

  util::Result<query::ResolvedValue> Resolve(std::string_view identifier) override {
    std::string_view path = identifier;
    std::string_view modifier;
    if (const auto colon = path.rfind(':'); colon != std::string_view::npos) {
      modifier = path.substr(colon + 1);
      path = path.substr(0, colon);
    }
    if (path.starts_with("@request.")) return Request(path.substr(9), modifier);
    if (path.find('.') != std::string_view::npos || path.starts_with('@')) return Refuse(identifier);
    const Field* f = c_.FindField(path);
    if (!f || f->type == FieldType::kPassword || (c_.type == CollectionType::kAuth && f->name == "tokenKey")) {
      return Refuse(identifier);
    }
    if (client_ && f->hidden) return Refuse(identifier);
    boost::json::value v = Lookup(record_, f->name);
    if (client_ && c_.type == CollectionType::kAuth && f->name == "email") {
      const auto visible = Lookup(record_, "emailVisibility");
      if (!(visible.is_bool() && visible.as_bool())) v = nullptr;
    }
    if (modifier.empty()) return query::ResolvedValue{v, false, query::ValueSource::kColumn};
    if (modifier == "lower") {
      if (v.is_null()) return query::ResolvedValue{nullptr, false, query::ValueSource::kExpression};  // LOWER(NULL)
      std::string s = v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v);
      for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return query::ResolvedValue{boost::json::value(s), false, query::ValueSource::kExpression};
    }
    if ((modifier == "length" || modifier == "each") && f->IsArrayable()) {
      // As the database reads them (AsJsonArray, ArrayLength): a single value is one element.
      if (modifier == "length") {
        int64_t n = 0;
        if (v.is_array()) {
          n = static_cast<int64_t>(v.as_array().size());
        } else if (f->type != FieldType::kJson && !v.is_null() && !(v.is_string() && v.as_string().empty())) {
          n = 1;
        }
        return query::ResolvedValue{n, false, query::ValueSource::kExpression};
      }
      return query::ResolvedValue{v.is_array() ? v : boost::json::array{v}, true, query::ValueSource::kColumn};
    }
    return Refuse(identifier);
  }

 private:
  static std::unexpected<util::Status> Refuse(std::string_view identifier) {
    return std::unexpected(util::Status::InvalidArgument(fmt::format("{} needs the database", identifier)));
  }

  util::Result<query::ResolvedValue> Request(std::string_view path, std::string_view modifier) {
    auto value_of = [&](boost::json::value v) -> util::Result<query::ResolvedValue> {
      if (modifier == "length") {
        return query::ResolvedValue{v.is_array() ? static_cast<int64_t>(v.as_array().size()) : 0, false,
                                    query::ValueSource::kParameter};
      }
      if (modifier == "lower") {
        std::string s = v.is_string() ? std::string(v.as_string()) : std::string();
        for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return query::ResolvedValue{boost::json::value(s), false, query::ValueSource::kParameter};
      }
      if (modifier == "each") return query::ResolvedValue{std::move(v), true, query::ValueSource::kParameter};
      if (!modifier.empty()) return Refuse(path);
      return query::ResolvedValue{std::move(v), false, query::ValueSource::kParameter};
    };
    if (path == "method") return value_of(boost::json::value(request_.method));
    if (path == "context") return value_of(boost::json::value(request_.context));
    auto key_of = [&](std::string_view prefix) -> std::optional<std::string_view> {
      if (!path.starts_with(prefix)) return std::nullopt;
      return path.substr(prefix.size());
    };
    if (auto key = key_of("auth.")) {
      if (key->find('.') != std::string_view::npos) return Refuse(path);
      if (!request_.auth.is_object()) return value_of(nullptr);
      return value_of(Lookup(request_.auth.as_object(), *key));
    }
    if (auto key = key_of("query.")) return value_of(Lookup(request_.query, *key));
    if (auto key = key_of("headers.")) return value_of(Lookup(request_.headers, *key));
    if (auto key = key_of("body.")) {
      if (modifier == "isset" || modifier == "changed") {
        return query::ResolvedValue{false, false, query::ValueSource::kParameter};
      }
      return value_of(nullptr);
    }
    return Refuse(path);
  }

  const Collection& c_;
  const boost::json::object& record_;
  const RequestInfo& request_;
  bool client_ = false;
};

// The request a realtime subscriber's rules and views see: its auth record, and the query and
// headers of its subscription's options.
RequestInfo RealtimeRequest(const AuthInfo* auth, const Subscription* sub) {
  RequestInfo info;
  if (auth) info.auth = auth->record;
  info.method = "GET";
  info.context = "realtime";
  if (sub) {
    info.query = sub->query;
    info.headers = sub->headers;
  }
  return info;
}

// A parsed rule, kept per rule text (rules are few and change rarely).
std::shared_ptr<const query::Expr> ParsedRule(const std::string& text) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const query::Expr>> memo;
  std::lock_guard lock(mu);
  if (auto it = memo.find(text); it != memo.end()) return it->second;
  if (memo.size() >= 4096) memo.clear();
  auto parsed = query::Parse(text);
  std::shared_ptr<const query::Expr> expr = parsed ? std::make_shared<const query::Expr>(std::move(*parsed)) : nullptr;
  memo.emplace(text, expr);
  return expr;
}

}  // namespace

// ---- clients ----

using Subscriptions = std::vector<std::shared_ptr<const Subscription>>;
struct Shard;

struct Client {
  enum class Kind { kEventStream, kWebSocket };
  Client(std::string id_, net::any_io_executor ex, Kind k)
      : id(std::move(id_)), kind(k), sse_id(Text(fmt::format("id:{}\n", id))), executor(ex), wake(ex) {}

  const std::string id;
  const Kind kind;
  const Piece sse_id;  // "id:<client>\n", the start of each of its event-stream frames
  const net::any_io_executor executor;
  net::steady_timer wake;  // touched on `executor` only

  // Where the client is registered: guarded by the registry's lock and the shard's.
  Shard* shard = nullptr;
  std::size_t slot = 0;  // its index in the shard's clients

  std::mutex mu;  // guards everything below
  // Replaced whole, never changed in place: fan-out reads a copy without holding the lock.
  std::shared_ptr<const Subscriptions> subscriptions;
  std::size_t expand_subscriptions = 0;  // of them, those with "expand" (counted per instance)
  bool unregistered = false;             // gone: its subscriptions no longer count
  std::size_t held = 0;                  // events for it on the database worker, in order
  std::shared_ptr<const AuthInfo> auth;  // bound by the first authorized request
  std::deque<Message> queue;
  std::size_t queued_bytes = 0;
  bool waiting = false;   // the writer sleeps on `wake`
  bool notified = false;  // a wake-up is posted
  bool closed = false;
  uint16_t close_code = 0;  // WebSocket: the close frame to send, when closed
  std::string close_reason;
  std::vector<std::string> rooms;  // WebSocket: the rooms joined
  std::string address;             // the client's address when it connected (event streams)
};

// Someone in a room, as presence shows them.
boost::json::object MemberJson(const Client& c, const std::shared_ptr<const AuthInfo>& auth) {
  boost::json::object m{{"clientId", c.id}};
  if (auth) {
    m["auth"] = boost::json::object{{"id", auth->record_id}, {"collectionName", auth->collection->name}};
  } else {
    m["auth"] = nullptr;
  }
  return m;
}

// The clients whose connections one I/O thread serves. Each event is fanned out to them by one task
// on that thread, so that their writers are woken without a wake-up posted per client.
struct Shard {
  explicit Shard(net::any_io_executor ex) : executor(std::move(ex)) {}
  const net::any_io_executor executor;
  std::mutex mu;  // guards clients: taken on the thread, and elsewhere only to register and unregister
  std::vector<std::shared_ptr<Client>> clients;
  std::atomic<std::size_t> size{0};     // clients.size(), read without the lock
  std::atomic<std::size_t> pending{0};  // events posted to the thread and not yet fanned out
  std::atomic<bool> behind{false};      // an event was not posted: its clients are to be dropped
};

// A committed change, as every shard sees it.
struct Event {
  std::string action;
  std::string record_id;
  boost::json::object record;
  std::shared_ptr<const schema::Snapshot> snapshot;
  const Collection* collection = nullptr;
};

struct Realtime::Impl {
  Impl(realtime::Bus& b, store::Store& s, schema::Catalog& c, const auth::TokenService& t, RealtimeLimits l)
      : bus(b), store(s), catalog(c), tokens(t), limits(l) {}

  // Hands a published change to every shard's thread.
  void Deliver(const std::string& payload);
  // A client, with what it had when an event needed the database to reach it.
  struct Held {
    std::shared_ptr<Client> client;
    std::shared_ptr<const Subscriptions> subscriptions;
    std::shared_ptr<const AuthInfo> auth;
  };
  // The fan-out of `event` to `shard`'s clients, on the shard's thread. What only the database
  // can decide (rules that read other rows, expanded records) goes to the database worker, so
  // that no query holds up the thread's connections.
  void DeliverTo(Shard& shard, const std::shared_ptr<const Event>& event);
  // On the database worker: the event for the clients `held`, then queued on the shard's thread.
  void DeliverHeld(Shard& shard, const std::shared_ptr<const Event>& event, std::vector<Held> held);
  // Queues `m` for `client`; false (and the client closed) when that would pass its queue's limit.
  bool Push(const std::shared_ptr<Client>& client, Message m);
  // Push with the client's lock held; sets `wake` when its writer must be woken (Wake, once the
  // lock is released).
  bool PushLocked(Client& client, Message m, bool& wake);
  // PushLocked of each of `messages`, until one fails; how many were queued.
  uint64_t PushAllLocked(Client& client, std::vector<Message>& messages, bool& wake);
  void Wake(const std::shared_ptr<Client>& client);
  // Replaces `client`'s subscriptions, its lock held; false when the instance's limit of
  // subscriptions with "expand" would be passed.
  bool SetSubscriptionsLocked(Client& client, std::shared_ptr<const Subscriptions> subs);
  // Closes `client` (a WebSocket's close frame carries `code` and `reason`).
  void CloseClient(const std::shared_ptr<Client>& client, uint16_t code, std::string reason);
  // Rooms: members by client id.
  void Join(const std::shared_ptr<Client>& client, const std::string& room, boost::json::array& members);
  void Leave(const std::shared_ptr<Client>& client, const std::string& room);
  void Relay(const std::shared_ptr<Client>& from, const std::string& room, const Piece& message);
  // A room named "collection/RECORD_ID" (the collection by id or by name in any case) is known by
  // the collection's name; any other name is left as it is.
  std::string CanonicalRoom(const std::string& room) const;
  // A room named after a record is open to those the record's view rule lets see it; any other
  // name to every authorized connection.
  bool MayJoin(const std::string& room, const AuthInfo* auth);
  // Takes `client` out of `room` on its own thread (where it joins and leaves), telling it why; the
  // others see it leave.
  void Evict(const std::shared_ptr<Client>& client, const std::string& room, std::string reason);
  // Queues `room` for RecheckRoom on the database worker; a room queued already is checked once.
  void QueueRecheck(const std::string& room, bool deleted);
  // On the database worker: the members of `room` that may no longer see its record leave it (all
  // of them when the record is gone).
  void RecheckRoom(const std::string& room, bool deleted);
  // On the database worker, every limits.room_recheck_seconds: RecheckRoom of each record's room.
  void ScheduleRecheck();
  // Called on the client's executor. Unregister may be called more than once.
  void Register(const std::shared_ptr<Client>& client);
  void Unregister(const std::shared_ptr<Client>& client);
  std::shared_ptr<Client> Find(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = clients.find(id);
    return it == clients.end() ? nullptr : it->second;
  }

  realtime::Bus& bus;
  store::Store& store;
  schema::Catalog& catalog;
  const auth::TokenService& tokens;
  RealtimeLimits limits;

  mutable std::mutex mu;  // guards clients, shards and rooms; taken before a shard's or client's lock
  std::unordered_map<std::string, std::shared_ptr<Client>> clients;
  std::vector<std::unique_ptr<Shard>> shards;  // one per I/O thread, only ever added
  std::unordered_map<std::string, std::unordered_map<std::string, std::weak_ptr<Client>>> rooms;
  std::atomic<std::size_t> expand_subscriptions{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> disconnected{0};
  std::atomic<std::size_t> database_backlog{0};  // deliveries posted to the database worker, not yet made
  // One thread: the events it holds reach each shard in the order they came.
  net::thread_pool database_worker{1};
  net::steady_timer recheck_timer{database_worker.get_executor()};  // used on the database worker
  std::atomic<bool> stopping{false};
  // Rooms waiting for RecheckRoom, each with whether its record was deleted (guarded by mu).
  std::unordered_map<std::string, bool> rechecks;
  // Updates and deletes of records seen so far: a join decided before one of them is checked again.
  std::atomic<uint64_t> record_changes{0};

  ~Impl() {
    // The worker's tasks use the members below it: it stops before they go.
    stopping = true;
    database_worker.stop();
    database_worker.join();
  }
};

namespace {

// The event stream of one client: PB_CONNECT, then its events, until it goes, falls behind, or
// stays idle past the limit.
class EventStream final : public http::ResponseStream {
 public:
  EventStream(Realtime::Impl& impl, std::shared_ptr<Client> client)
      : impl_(impl), client_(std::move(client)), flush_(client_->executor) {}
  ~EventStream() override { impl_.Unregister(client_); }

  net::awaitable<bool> Next(std::vector<Piece>& out) override {
    Client& c = *client_;
    co_await FlushPause(flush_, last_write_);
    for (;;) {
      {
        std::lock_guard lock(c.mu);
        if (c.closed) co_return false;
        if (!c.queue.empty()) {
          // Everything queued goes out in one write.
          for (auto& m : c.queue) {
            for (auto* p : {&m.a, &m.b}) {
              if (*p) out.push_back(std::move(*p));
            }
          }
          c.queue.clear();
          c.queued_bytes = 0;
          last_write_ = std::chrono::steady_clock::now();
          co_return true;
        }
        c.waiting = true;
        c.notified = false;
      }
      c.wake.expires_after(std::chrono::seconds(impl_.limits.idle_timeout_seconds));
      auto [ec] = co_await c.wake.async_wait(net::as_tuple(net::use_awaitable));
      std::lock_guard lock(c.mu);
      c.waiting = false;
      if (!ec && c.queue.empty()) co_return false;  // idle: the client reconnects
    }
  }

  void Cancel() override {
    {
      std::lock_guard lock(client_->mu);
      client_->closed = true;
    }
    client_->wake.cancel();
    flush_.cancel();
  }

 private:
  Realtime::Impl& impl_;
  std::shared_ptr<Client> client_;
  net::steady_timer flush_;  // on the client's executor
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace

bool Realtime::Impl::PushLocked(Client& client, Message m, bool& wake) {
  if (client.closed) return false;
  const std::size_t bytes = m.size();
  if (client.queue.size() + 1 > limits.max_queued_messages || client.queued_bytes + bytes > limits.max_queued_bytes) {
    // It cannot keep up: it goes, rather than anyone waiting for it.
    spdlog::info("realtime client {} disconnected: it fell {} messages behind", client.id, client.queue.size());
    client.closed = true;
    client.close_code = http::kCloseTryAgainLater;
    client.close_reason = fmt::format("too slow: {} messages not read", client.queue.size());
    client.queue.clear();
    client.queued_bytes = 0;
    disconnected.fetch_add(1, std::memory_order_relaxed);
    // Its writer sends the close frame after the write in progress, which the write timeout bounds.
    wake = client.waiting && !client.notified;
    client.notified = client.notified || wake;
    return false;
  }
  client.queue.push_back(std::move(m));
  client.queued_bytes += bytes;
  if (client.waiting && !client.notified) {
    client.notified = true;
    wake = true;
  }
  return true;
}

uint64_t Realtime::Impl::PushAllLocked(Client& client, std::vector<Message>& messages, bool& wake) {
  uint64_t queued = 0;
  for (auto& m : messages) {
    if (!PushLocked(client, std::move(m), wake)) break;
    ++queued;
  }
  return queued;
}

void Realtime::Impl::Wake(const std::shared_ptr<Client>& target) {
  // The client's own thread wakes its writer (timers are not thread-safe).
  net::post(target->executor, [target] { target->wake.cancel(); });
}

bool Realtime::Impl::Push(const std::shared_ptr<Client>& target, Message m) {
  bool wake = false;
  bool ok = false;
  {
    std::lock_guard lock(target->mu);
    ok = PushLocked(*target, std::move(m), wake);
  }
  if (ok) delivered.fetch_add(1, std::memory_order_relaxed);
  if (wake) Wake(target);
  return ok;
}

bool Realtime::Impl::SetSubscriptionsLocked(Client& client, std::shared_ptr<const Subscriptions> subs) {
  const auto expanding = static_cast<std::size_t>(
      std::count_if(subs->begin(), subs->end(), [](const auto& s) { return !s->expand.empty(); }));
  if (expanding > limits.max_expand_subscriptions_per_client) return false;
  if (client.unregistered) {
    // A request that found the client just before it went: nothing is counted for it any more.
    client.subscriptions = std::move(subs);
    return true;
  }
  if (expanding > client.expand_subscriptions) {
    const std::size_t more = expanding - client.expand_subscriptions;
    if (expand_subscriptions.fetch_add(more) + more > limits.max_expand_subscriptions) {
      expand_subscriptions.fetch_sub(more);
      return false;
    }
  } else {
    expand_subscriptions.fetch_sub(client.expand_subscriptions - expanding);
  }
  client.expand_subscriptions = expanding;
  client.subscriptions = std::move(subs);
  return true;
}

void Realtime::Impl::Register(const std::shared_ptr<Client>& client) {
  std::lock_guard lock(mu);
  clients.emplace(client->id, client);
  Shard* shard = nullptr;
  for (const auto& s : shards) {
    if (s->executor == client->executor) shard = s.get();
  }
  if (!shard) shard = shards.emplace_back(std::make_unique<Shard>(client->executor)).get();
  std::lock_guard shard_lock(shard->mu);
  client->shard = shard;
  client->slot = shard->clients.size();
  shard->clients.push_back(client);
  shard->size.store(shard->clients.size(), std::memory_order_relaxed);
}

void Realtime::Impl::CloseClient(const std::shared_ptr<Client>& target, uint16_t code, std::string reason) {
  bool wake = false;
  {
    std::lock_guard lock(target->mu);
    if (target->closed) return;
    target->closed = true;
    target->close_code = code;
    target->close_reason = std::move(reason);
    wake = target->waiting && !target->notified;
    target->notified = target->notified || wake;
  }
  if (wake) Wake(target);
}

void Realtime::Impl::Unregister(const std::shared_ptr<Client>& client) {
  std::vector<std::string> rooms_left;
  {
    std::lock_guard lock(client->mu);
    rooms_left = client->rooms;
    expand_subscriptions.fetch_sub(client->expand_subscriptions);
    client->expand_subscriptions = 0;
    client->unregistered = true;
  }
  for (const auto& room : rooms_left) Leave(client, room);
  std::lock_guard lock(mu);
  clients.erase(client->id);
  if (Shard* shard = client->shard) {
    std::lock_guard shard_lock(shard->mu);
    auto& list = shard->clients;
    if (client->slot + 1 < list.size()) {
      list[client->slot] = std::move(list.back());
      list[client->slot]->slot = client->slot;
    }
    list.pop_back();
    shard->size.store(list.size(), std::memory_order_relaxed);
    client->shard = nullptr;
  }
}

void Realtime::Impl::Join(const std::shared_ptr<Client>& client, const std::string& room, boost::json::array& members) {
  std::shared_ptr<const AuthInfo> auth;
  {
    std::lock_guard lock(client->mu);
    if (std::find(client->rooms.begin(), client->rooms.end(), room) == client->rooms.end()) {
      client->rooms.push_back(room);
    }
    auth = client->auth;
  }
  const Piece joined = Json(boost::json::object{
      {"type", "presence"}, {"room", room}, {"action", "join"}, {"member", MemberJson(*client, auth)}});
  std::vector<std::shared_ptr<Client>> others;
  {
    std::lock_guard lock(mu);
    auto& r = rooms[room];
    for (const auto& [id, weak] : r) {
      if (auto other = weak.lock(); other && id != client->id) others.push_back(std::move(other));
    }
    r[client->id] = client;
  }
  members.push_back(MemberJson(*client, auth));
  for (const auto& other : others) {
    std::shared_ptr<const AuthInfo> other_auth;
    {
      std::lock_guard lock(other->mu);
      other_auth = other->auth;
    }
    members.push_back(MemberJson(*other, other_auth));
    Push(other, {joined, nullptr});
  }
}

void Realtime::Impl::Leave(const std::shared_ptr<Client>& client, const std::string& room) {
  std::shared_ptr<const AuthInfo> auth;
  {
    std::lock_guard lock(client->mu);
    std::erase(client->rooms, room);
    auth = client->auth;
  }
  std::vector<std::shared_ptr<Client>> others;
  {
    std::lock_guard lock(mu);
    auto it = rooms.find(room);
    if (it == rooms.end() || !it->second.erase(client->id)) return;
    for (const auto& [id, weak] : it->second) {
      if (auto other = weak.lock()) others.push_back(std::move(other));
    }
    if (it->second.empty()) rooms.erase(it);
  }
  const Piece left = Json(boost::json::object{
      {"type", "presence"}, {"room", room}, {"action", "leave"}, {"member", MemberJson(*client, auth)}});
  for (const auto& other : others) Push(other, {left, nullptr});
}

void Realtime::Impl::Relay(const std::shared_ptr<Client>& from, const std::string& room, const Piece& message) {
  std::vector<std::shared_ptr<Client>> others;
  {
    std::lock_guard lock(mu);
    auto it = rooms.find(room);
    if (it == rooms.end()) return;
    for (const auto& [id, weak] : it->second) {
      if (id == from->id) continue;
      if (auto other = weak.lock()) others.push_back(std::move(other));
    }
  }
  for (const auto& other : others) Push(other, {message, nullptr});
}

std::string Realtime::Impl::CanonicalRoom(const std::string& room) const {
  const auto slash = room.find('/');
  if (slash == std::string::npos) return room;
  const auto snapshot = catalog.Current();
  const Collection* c = snapshot->Find(std::string_view(room).substr(0, slash));
  return c ? c->name + room.substr(slash) : room;
}

bool Realtime::Impl::MayJoin(const std::string& room, const AuthInfo* auth) {
  const auto slash = room.find('/');
  if (slash == std::string::npos) return true;
  const auto snapshot = catalog.Current();
  const Collection* c = snapshot->Find(room.substr(0, slash));
  if (!c) return true;  // not a collection's name: an ordinary room
  const RequestInfo info = RealtimeRequest(auth, nullptr);
  return RecordPassesRule(store, snapshot, *c, room.substr(slash + 1),
                          auth ? std::optional<AuthInfo>(*auth) : std::nullopt, c->view_rule, info);
}

void Realtime::Impl::Evict(const std::shared_ptr<Client>& client, const std::string& room, std::string reason) {
  net::post(client->executor, [this, client, room, reason = std::move(reason)] {
    bool member = false;
    {
      std::lock_guard lock(client->mu);
      member = std::find(client->rooms.begin(), client->rooms.end(), room) != client->rooms.end();
    }
    if (!member) return;
    Leave(client, room);
    Push(client, {Json({{"type", "left"}, {"room", room}, {"reason", reason}}), nullptr});
  });
}

void Realtime::Impl::QueueRecheck(const std::string& room, bool deleted) {
  {
    std::lock_guard lock(mu);
    const bool idle = rechecks.empty();
    auto [it, added] = rechecks.emplace(room, deleted);
    if (!added) it->second = it->second || deleted;
    if (!idle) return;  // the task already posted checks it
  }
  net::post(database_worker, [this] {
    for (;;) {
      std::unordered_map<std::string, bool> due;
      {
        std::lock_guard lock(mu);
        due.swap(rechecks);
      }
      if (due.empty() || stopping) return;
      for (const auto& [room, deleted] : due) {
        if (stopping) return;
        try {
          RecheckRoom(room, deleted);
        } catch (...) {
          spdlog::warn("realtime room {}: {}", room, CurrentFailure());
        }
      }
    }
  });
}

void Realtime::Impl::RecheckRoom(const std::string& room, bool deleted) {
  std::vector<std::shared_ptr<Client>> members;
  {
    std::lock_guard lock(mu);
    auto it = rooms.find(room);
    if (it == rooms.end()) return;
    for (const auto& [id, weak] : it->second) {
      if (auto member = weak.lock()) members.push_back(std::move(member));
    }
  }
  // Members signed in as the same record get the same answer: asked once.
  std::unordered_map<std::string, bool> decided;
  for (const auto& member : members) {
    std::shared_ptr<const AuthInfo> auth;
    {
      std::lock_guard lock(member->mu);
      auth = member->auth;
    }
    if (deleted) {
      Evict(member, room, "The record was deleted.");
      continue;
    }
    if (!auth) {
      Evict(member, room, "Rooms are for authorized connections.");
      continue;
    }
    const std::string who = auth->collection->id + "/" + auth->record_id;
    auto it = decided.find(who);
    if (it == decided.end()) {
      bool allowed = true;  // when the database cannot tell, the member stays until the next check
      try {
        allowed = MayJoin(room, auth.get());
      } catch (...) {
        spdlog::warn("realtime room {}: {}", room, CurrentFailure());
      }
      it = decided.emplace(who, allowed).first;
    }
    if (!it->second) Evict(member, room, "You are no longer allowed in this room.");
  }
}

void Realtime::Impl::ScheduleRecheck() {
  recheck_timer.expires_after(std::chrono::seconds(limits.room_recheck_seconds));
  recheck_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping) return;
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu);
      for (const auto& [name, members] : rooms) {
        if (name.find('/') != std::string::npos) names.push_back(name);
      }
    }
    for (const auto& name : names) {
      if (stopping) return;
      try {
        RecheckRoom(name, false);
      } catch (...) {
        spdlog::warn("realtime room {}: {}", name, CurrentFailure());
      }
    }
    ScheduleRecheck();
  });
}

void Realtime::Impl::Deliver(const std::string& payload) {
  // Only the threads with clients are woken; with none at all, the change is not even read.
  std::vector<Shard*> targets;
  {
    std::lock_guard lock(mu);
    for (const auto& s : shards) {
      if (s->size.load(std::memory_order_relaxed) > 0) {
        targets.push_back(s.get());
      } else {
        s->behind = false;  // the clients it was behind for are gone
      }
    }
  }
  if (targets.empty()) return;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(payload, ec);
  if (ec || !parsed.is_object()) return;
  auto& change = parsed.as_object();
  auto event = std::make_shared<Event>();
  event->action = std::string(change.at("action").as_string());
  const std::string collection_id(change.at("collectionId").as_string());
  event->snapshot = catalog.Current();
  event->collection = event->snapshot->Find(collection_id);
  if (!event->collection || event->collection->id != collection_id) return;
  event->record = std::move(change.at("record").as_object());
  event->record_id = std::string(event->record.at("id").as_string());
  // A record's room keeps only those who may still see the record.
  if (event->action != "create") {
    record_changes.fetch_add(1, std::memory_order_acq_rel);
    std::string room = event->collection->name + "/" + event->record_id;
    bool present = false;
    {
      std::lock_guard lock(mu);
      present = rooms.contains(room);
    }
    if (present) QueueRecheck(room, event->action == "delete");
  }
  // Each shard's thread fans the event out to its own clients; events reach a shard in order.
  for (Shard* shard : targets) {
    if (shard->pending.load(std::memory_order_relaxed) >= limits.max_pending_events) {
      // The thread is that far behind: rather than hold events without end, the next fan-out it
      // runs disconnects its clients (those events already queued find them closed).
      shard->behind = true;
      continue;
    }
    shard->pending.fetch_add(1, std::memory_order_relaxed);
    net::post(shard->executor, [this, shard, event] {
      try {
        DeliverTo(*shard, event);
      } catch (...) {
        spdlog::warn("realtime delivery: {}", CurrentFailure());
      }
    });
  }
}

namespace {

// The decisions and views of one event, each made once per distinct requester, options and view.
class Fanout {
 public:
  Fanout(Realtime::Impl& impl, const Event& event)
      : impl_(impl),
        event_(event),
        c_(*event.collection),
        list_independent_(Independent(c_.list_rule)),
        view_independent_(Independent(c_.view_rule)) {}

  // The messages for `client`'s subscriptions that match the event, in `out`; false when only
  // the database can tell and `may_query` is false.
  bool Collect(const Client& client, const Subscriptions& subs, const AuthInfo* auth, bool may_query,
               std::vector<Message>& out) {
    out.clear();
    for (const auto& sp : subs) {
      const Subscription& sub = *sp;
      if ((sub.collection != c_.name && sub.collection != c_.id) ||
          (!sub.record_id.empty() && sub.record_id != event_.record_id)) {
        continue;
      }
      const auto allowed = Decide(sub, auth, may_query);
      if (!allowed) return false;
      if (!*allowed) continue;
      const bool ws = client.kind == Client::Kind::kWebSocket;
      // Most subscribers ask for what the one before asked: its frame, without building keys.
      const bool superuser = auth && auth->superuser;
      const bool plain = sub.expand.empty() && c_.type != CollectionType::kAuth;
      if (plain && last_.frame && last_.ws == ws && last_.superuser == superuser && last_.topic == sub.topic &&
          last_.fields == sub.fields) {
        Add(client, ws, last_.frame, out);
        continue;
      }
      const auto payload = ViewOf(sub, auth, may_query);
      if (!payload) return false;
      if (!*payload) continue;
      frame_key_.assign(1, ws ? 'w' : 's');
      frame_key_.append(sub.topic).append("\n").append(view_key_);
      auto f = framed_.find(frame_key_);
      if (f == framed_.end()) {
        const std::string& head = ws ? sub.ws_prefix : sub.sse_prefix;
        std::string text;
        text.reserve(head.size() + (**payload)->size() + 2);
        text.append(head).append(***payload).append(ws ? "}" : "\n\n");
        f = framed_.emplace(frame_key_, Text(std::move(text))).first;
      }
      if (plain) {
        // Without "expand", on a collection other than auth, the view depends on these alone.
        last_.ws = ws;
        last_.superuser = superuser;
        last_.topic = sub.topic;
        last_.fields = sub.fields;
        last_.frame = f->second;
      }
      Add(client, ws, f->second, out);
    }
    return true;
  }

 private:
  static void Add(const Client& client, bool ws, const Piece& frame, std::vector<Message>& out) {
    if (ws) {
      out.push_back({frame, nullptr});
    } else {
      out.push_back({client.sse_id, frame});
    }
  }

  // A rule that reads nothing of the request decides the same for every requester but superusers.
  static bool Independent(const std::optional<std::string>& rule) {
    return !rule || rule->find("@request") == std::string::npos;
  }

  std::optional<bool> Decide(const Subscription& sub, const AuthInfo* auth, bool may_query) {
    if (auth && auth->superuser && sub.filter.empty()) return true;
    const bool list = sub.record_id.empty();
    if ((list ? list_independent_ : view_independent_) && sub.filter.empty()) {
      auto& shared = shared_decision_[list ? 0 : 1];
      if (!shared) shared = Allowed(sub, nullptr, may_query);
      return shared;
    }
    decision_key_.clear();
    decision_key_ += list ? 'L' : 'V';
    if (auth) decision_key_.append(auth->collection->id).append("/").append(auth->record_id);
    decision_key_ += '|';
    decision_key_ += sub.options_key;
    if (auto d = decisions_.find(decision_key_); d != decisions_.end()) return d->second;
    auto d = Allowed(sub, auth, may_query);
    if (d) decisions_.emplace(decision_key_, *d);
    return d;
  }

  // Whether `sub`'s subscriber may see the record: the in-memory evaluator, or the database for a
  // rule that reads other rows (nullopt when `may_query` is false).
  std::optional<bool> Allowed(const Subscription& sub, const AuthInfo* auth, bool may_query) {
    auto allowed = RuleAllows(sub, auth, may_query);
    if (!allowed || !*allowed || sub.filter.empty()) return allowed;
    return FilterAllows(sub, auth, may_query);
  }

  // Whether the record matches the subscription's own filter (PocketBase's "filter" option), read as
  // the records API reads a list's filter: @collection and @request are for superusers, hidden
  // fields and related records follow the same limits. A filter that cannot be read lets nothing
  // through.
  std::optional<bool> FilterAllows(const Subscription& sub, const AuthInfo* auth, bool may_query) {
    const bool superuser = auth && auth->superuser;
    if (!superuser && SuperuserOnlyField(sub.filter)) return false;
    if (!sub.filter_expr) return false;
    const RequestInfo info = RealtimeRequest(auth, &sub);
    RecordValueResolver resolver(c_, event_.record, info);
    if (!superuser) resolver.ForClient();
    if (auto outcome = query::Evaluate(*sub.filter_expr, resolver)) return *outcome;
    if (!may_query) return std::nullopt;
    const auto requester = auth ? std::optional<AuthInfo>(*auth) : std::nullopt;
    if (event_.action == "delete") {
      return DeletedRecordPassesFilter(impl_.store, event_.snapshot, c_, event_.record, requester, sub.filter, info);
    }
    return RecordPassesFilter(impl_.store, event_.snapshot, c_, event_.record_id, requester, sub.filter, info);
  }

  // Whether the subscriber's rule lets it see the record (superusers always).
  std::optional<bool> RuleAllows(const Subscription& sub, const AuthInfo* auth, bool may_query) {
    if (auth && auth->superuser) return true;
    const auto& rule = sub.record_id.empty() ? c_.list_rule : c_.view_rule;
    if (!rule) return false;
    if (rule->empty()) return true;
    const RequestInfo info = RealtimeRequest(auth, &sub);
    auto expr = ParsedRule(*rule);
    if (!expr) return false;
    RecordValueResolver resolver(c_, event_.record, info);
    auto outcome = query::Evaluate(*expr, resolver);
    if (outcome) return *outcome;
    // The rule reads other rows: the database decides (for a delete, over the row as it was).
    if (!may_query) return std::nullopt;
    if (event_.action == "delete") {
      return DeletedRecordPassesRule(impl_.store, event_.snapshot, c_, event_.record,
                                     auth ? std::optional<AuthInfo>(*auth) : std::nullopt, rule, info);
    }
    return RecordPassesRule(impl_.store, event_.snapshot, c_, event_.record_id,
                            auth ? std::optional<AuthInfo>(*auth) : std::nullopt, rule, info);
  }

  // The serialized event `sub`'s subscriber sees, made once per distinct view (`view_key_`);
  // nullptr when the record is gone, nullopt when only the database can make it (expanded records)
  // and `may_query` is false.
  std::optional<const Piece*> ViewOf(const Subscription& sub, const AuthInfo* auth, bool may_query) {
    const auto& record = event_.record;
    const bool superuser = auth && auth->superuser;
    bool show_email = superuser;
    if (c_.type == CollectionType::kAuth && !show_email) {
      const auto visible = record.find("emailVisibility");
      show_email = (visible != record.end() && visible->value().is_bool() && visible->value().as_bool()) ||
                   (auth && auth->collection->id == c_.id && auth->record_id == event_.record_id);
    }
    const bool expand = !sub.expand.empty() && event_.action != "delete";
    view_key_.assign(1, static_cast<char>('0' + (superuser ? 1 : 0) + (show_email ? 2 : 0)));
    view_key_ += sub.fields;
    if (expand) {
      // Expanded records follow their own rules: one view per requester and options.
      view_key_.append("|").append(sub.options_key).append("|");
      if (auth) view_key_.append(auth->collection->id).append("/").append(auth->record_id);
    }
    if (auto p = payloads_.find(view_key_); p != payloads_.end()) return &p->second;
    auto serialized = [&](boost::json::value shown) {
      return Text(boost::json::serialize(boost::json::object{{"action", event_.action}, {"record", std::move(shown)}}));
    };
    if (expand) {
      if (!may_query) return std::nullopt;
      auto shown = PresentRecord(impl_.store, event_.snapshot, c_, event_.record_id,
                                 auth ? std::optional<AuthInfo>(*auth) : std::nullopt, RealtimeRequest(auth, &sub));
      if (!shown) return nullptr;
      return &payloads_.emplace(view_key_, serialized(std::move(*shown))).first->second;
    }
    boost::json::object shown;
    for (const auto& [k, v] : record) {
      const Field* f = c_.FindField(k);
      if (f && f->hidden && !superuser) continue;
      if (c_.type == CollectionType::kAuth && k == "email" && !show_email) continue;
      shown[k] = v;
    }
    boost::json::value shaped = std::move(shown);
    if (!sub.fields.empty()) {
      if (auto picker = FieldPicker::Parse(sub.fields)) {
        boost::json::value wrapped = boost::json::array{shaped};
        picker->Apply(wrapped);
        shaped = wrapped.as_array().at(0);
      }
    }
    return &payloads_.emplace(view_key_, serialized(std::move(shaped))).first->second;
  }

  Realtime::Impl& impl_;
  const Event& event_;
  const Collection& c_;
  const bool list_independent_;
  const bool view_independent_;
  std::optional<bool> shared_decision_[2];           // list, view: for rules independent of the requester
  std::unordered_map<std::string, bool> decisions_;  // per requester and options
  std::unordered_map<std::string, Piece> payloads_;  // per view of the record
  std::unordered_map<std::string, Piece> framed_;    // whole messages, per topic and view
  std::string decision_key_;
  std::string view_key_;
  std::string frame_key_;
  struct {
    bool ws = false;
    bool superuser = false;
    std::string topic;
    std::string fields;
    Piece frame;  // null until a frame is made
  } last_;        // the frame made or found last, and what it was for
};

}  // namespace

void Realtime::Impl::DeliverTo(Shard& shard, const std::shared_ptr<const Event>& event) {
  const Collection& c = *event->collection;
  const std::string& action = event->action;
  const std::string& record_id = event->record_id;
  const bool auth_change = c.type == CollectionType::kAuth && action != "create";
  Fanout fanout(*this, *event);
  std::vector<Message> messages;
  std::vector<Held> held;
  // Clients whose auth record was deleted, with their rooms: rooms are for authorized connections.
  std::vector<std::pair<std::shared_ptr<Client>, std::vector<std::string>>> unauthorized;
  uint64_t queued = 0;
  bool failed = false;
  shard.pending.fetch_sub(1, std::memory_order_relaxed);

  // The shard's lock is only ever contended by registrations from other threads.
  std::lock_guard shard_lock(shard.mu);
  if (shard.behind.exchange(false)) {
    spdlog::warn("realtime: an I/O thread fell {} events behind; its {} clients are disconnected",
                 limits.max_pending_events, shard.clients.size());
    for (const auto& client : shard.clients) {
      bool dropped = false;
      {
        std::lock_guard lock(client->mu);
        dropped = !client->closed;
      }
      if (dropped) {
        CloseClient(client, http::kCloseTryAgainLater, "too slow: the server fell behind");
        disconnected.fetch_add(1, std::memory_order_relaxed);
      }
    }
    return;
  }
  for (const auto& client : shard.clients) {
    bool wake = false;
    // A failure for one subscriber (options its rules cannot take) costs that subscriber the
    // event, not the clients after it.
    try {
      std::lock_guard lock(client->mu);
      if (client->closed) continue;
      if (auth_change && client->auth && client->auth->collection->id == c.id && client->auth->record_id == record_id) {
        // The client's own record changed: its rules see the new values; deleted, it is a guest.
        if (action == "delete") {
          client->auth = nullptr;
          if (!client->rooms.empty()) unauthorized.push_back({client, client->rooms});
        } else {
          auto updated = std::make_shared<AuthInfo>(*client->auth);
          boost::json::object own;
          for (const auto& [k, v] : event->record) {
            const Field* f = c.FindField(k);
            if (!(f && f->hidden)) own[k] = v;
          }
          updated->record = std::move(own);
          client->auth = std::move(updated);
        }
      }
      if (!client->subscriptions) continue;
      // Most events are decided in memory, here. The others go to the database worker, and so do
      // the client's next events until they are back: its events stay in order.
      if (client->held == 0 && fanout.Collect(*client, *client->subscriptions, client->auth.get(), false, messages)) {
        queued += PushAllLocked(*client, messages, wake);
      } else {
        ++client->held;
        held.push_back({client, client->subscriptions, client->auth});
      }
    } catch (...) {
      if (!failed) spdlog::warn("realtime delivery to {}: {}", client->id, CurrentFailure());
      failed = true;
    }
    // This is the client's thread: its writer is woken here, not through a posted task.
    if (wake) client->wake.cancel();
  }
  delivered.fetch_add(queued, std::memory_order_relaxed);
  // Rooms are for authorized connections (each eviction is posted to the client's thread).
  for (const auto& [client, names] : unauthorized) {
    for (const auto& room : names) Evict(client, room, "Rooms are for authorized connections.");
  }
  if (held.empty()) return;
  const std::size_t n = held.size();
  if (database_backlog.fetch_add(n, std::memory_order_relaxed) + n > limits.max_database_backlog) {
    // The worker is that far behind: rather than hold events without end, the clients that would
    // wait for it go (each one's later events would wait behind this one).
    database_backlog.fetch_sub(n, std::memory_order_relaxed);
    spdlog::warn("realtime: the database worker fell {} deliveries behind; {} clients are disconnected",
                 limits.max_database_backlog, n);
    for (const auto& h : held) CloseClient(h.client, http::kCloseTryAgainLater, "too slow: the database fell behind");
    disconnected.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  net::post(database_worker, [this, &shard, event, n, held = std::move(held)]() mutable {
    try {
      DeliverHeld(shard, event, std::move(held));
    } catch (...) {
      spdlog::warn("realtime delivery: {}", CurrentFailure());
    }
    database_backlog.fetch_sub(n, std::memory_order_relaxed);
  });
}

void Realtime::Impl::DeliverHeld(Shard& shard, const std::shared_ptr<const Event>& event, std::vector<Held> held) {
  Fanout fanout(*this, *event);
  struct Ready {
    std::shared_ptr<Client> client;
    std::vector<Message> messages;
  };
  std::vector<Ready> ready;
  ready.reserve(held.size());
  bool failed = false;
  for (auto& h : held) {
    Ready r{std::move(h.client), {}};
    try {
      fanout.Collect(*r.client, *h.subscriptions, h.auth.get(), true, r.messages);
    } catch (...) {
      if (!failed) spdlog::warn("realtime delivery to {}: {}", r.client->id, CurrentFailure());
      failed = true;
      r.messages.clear();
    }
    ready.push_back(std::move(r));
  }
  // Back on the clients' thread, in the order the events came.
  net::post(shard.executor, [this, ready = std::move(ready)]() mutable {
    uint64_t queued = 0;
    for (auto& r : ready) {
      bool wake = false;
      {
        std::lock_guard lock(r.client->mu);
        --r.client->held;
        queued += PushAllLocked(*r.client, r.messages, wake);
      }
      if (wake) r.client->wake.cancel();
    }
    delivered.fetch_add(queued, std::memory_order_relaxed);
  });
}

Realtime::Realtime(realtime::Bus& bus, store::Store& store, schema::Catalog& catalog, const auth::TokenService& tokens,
                   RealtimeLimits limits)
    : impl_(std::make_unique<Impl>(bus, store, catalog, tokens, limits)) {
  Impl* impl = impl_.get();
  bus.Subscribe(std::string(kChannel), [impl](const std::string& payload) {
    // A failure with one event (a database error, options a subscriber made up) never stops the
    // delivery of the next.
    try {
      impl->Deliver(payload);
    } catch (...) {
      spdlog::warn("realtime delivery: {}", CurrentFailure());
    }
  });
  net::post(impl->database_worker, [impl] { impl->ScheduleRecheck(); });
}

Realtime::~Realtime() = default;

void Realtime::Drain() {
  Impl* impl = impl_.get();
  impl->stopping = true;
  net::post(impl->database_worker, [impl] { impl->recheck_timer.cancel(); });
  impl->database_worker.join();
}

void Realtime::Publish(std::vector<RecordChange> changes) {
  for (const auto& change : changes) {
    std::string event = "{\"action\":\"";
    event.reserve(64 + change.collection_id.size() + change.record.size());
    obs::AppendJsonEscaped(event, change.action);
    event += "\",\"collectionId\":\"";
    obs::AppendJsonEscaped(event, change.collection_id);
    event += "\",\"record\":";
    event += change.record;
    event += '}';
    impl_->bus.Publish(kChannel, std::move(event));
  }
}

Realtime::Stats Realtime::stats() const {
  Stats s;
  {
    std::lock_guard lock(impl_->mu);
    s.clients = impl_->clients.size();
  }
  s.delivered = impl_->delivered.load();
  s.disconnected = impl_->disconnected.load();
  return s;
}

namespace {

// A WebSocket client (docs/realtime.md): record events on the same topics as the event stream,
// and rooms with presence and relayed messages. A reader coroutine handles what the client sends;
// this coroutine alone writes (and closes), from the client's queue.
class RealtimeSocket final : public http::WebSocketSession {
 public:
  explicit RealtimeSocket(Realtime::Impl& impl) : impl_(impl) {}
  // A session that did not run to its end (the server stopped first) leaves nothing registered.
  ~RealtimeSocket() override {
    if (client_) impl_.Unregister(client_);
  }

  net::awaitable<void> Run(http::WebSocket& ws) override {
    if (cancelled_) {
      // The server began stopping during the handshake.
      co_await ws.Close(http::kCloseGoingAway, "the server is stopping");
      co_return;
    }
    client_ = std::make_shared<Client>(util::RandomString(40, kIdAlphabet), ws.executor(), Client::Kind::kWebSocket);
    impl_.Register(client_);
    Reply({{"type", "connected"}, {"clientId", client_->id}});
    struct Watch {
      bool done = false;
      net::steady_timer finished;
      explicit Watch(const net::any_io_executor& ex) : finished(ex, std::chrono::steady_clock::time_point::max()) {}
    };
    auto watch = std::make_shared<Watch>(ws.executor());
    net::co_spawn(
        ws.executor(),
        [this, &ws, watch]() -> net::awaitable<void> {
          try {
            while (auto text = co_await ws.Read()) {
              if (!Handle(*text)) break;
            }
          } catch (...) {
            spdlog::warn("realtime connection {}: {}", client_->id, CurrentFailure());
            impl_.CloseClient(client_, http::kClosePolicy, "the message could not be handled");
          }
          impl_.CloseClient(client_, http::kCloseNormal, "");
          watch->done = true;
          watch->finished.cancel();
        },
        net::detached);

    Client& c = *client_;
    std::vector<Piece> pieces;
    std::vector<Message> batch;
    net::steady_timer flush(ws.executor());
    auto last_write = std::chrono::steady_clock::time_point{};
    bool behind = false;  // the last write was a full batch, and more waited
    for (;;) {
      // A client with full batches waiting gets them back to back.
      if (!behind) co_await FlushPause(flush, last_write);
      batch.clear();
      bool closed = false;
      uint16_t code = 0;
      std::string reason;
      {
        std::lock_guard lock(c.mu);
        if (!c.queue.empty()) {
          // What waits goes out together: one message, or a JSON array of them.
          std::size_t bytes = 0;
          while (!c.queue.empty() && batch.size() < kMaxBatchMessages && bytes < kMaxBatchBytes) {
            bytes += c.queue.front().size();
            batch.push_back(std::move(c.queue.front()));
            c.queue.pop_front();
          }
          c.queued_bytes -= bytes;
          behind = !c.queue.empty();
        } else if (c.closed) {
          closed = true;
          code = c.close_code;
          reason = c.close_reason;
        } else {
          c.waiting = true;
          c.notified = false;
        }
      }
      if (closed) {
        if (code != 0) co_await ws.Close(code, reason);
        break;
      }
      if (!batch.empty()) {
        pieces.clear();
        if (batch.size() == 1) {
          for (auto* p : {&batch[0].a, &batch[0].b}) {
            if (*p) pieces.push_back(std::move(*p));
          }
        } else {
          // Copied into one buffer: cheaper to send than hundreds of small pieces.
          std::size_t bytes = batch.size() + 1;  // the brackets and commas
          for (const auto& m : batch) bytes += m.size();
          std::string joined;
          joined.reserve(bytes);
          joined += '[';
          for (std::size_t i = 0; i < batch.size(); ++i) {
            if (i > 0) joined += ',';
            for (auto* p : {&batch[i].a, &batch[i].b}) {
              if (*p) joined += **p;
            }
          }
          joined += ']';
          pieces.push_back(std::make_shared<const std::string>(std::move(joined)));
        }
        if (!co_await ws.Write(pieces)) break;
        last_write = std::chrono::steady_clock::now();
        continue;
      }
      c.wake.expires_at(std::chrono::steady_clock::time_point::max());
      co_await c.wake.async_wait(net::as_tuple(net::use_awaitable));
      std::lock_guard lock(c.mu);
      c.waiting = false;
    }
    impl_.CloseClient(client_, 0, "");
    // The reader ends once the connection does; it must be gone before the session is.
    while (!watch->done) {
      co_await ws.Close(http::kCloseNormal, "");
      co_await watch->finished.async_wait(net::as_tuple(net::use_awaitable));
    }
    impl_.Unregister(client_);
  }

  void Cancel() override {
    cancelled_ = true;
    if (client_) impl_.CloseClient(client_, http::kCloseGoingAway, "the server is stopping");
  }

 private:
  void Reply(boost::json::object o) { impl_.Push(client_, {Json(o), nullptr}); }

  void Error(const boost::json::object& request, std::string message) {
    boost::json::object o{{"type", "error"}, {"message", std::move(message)}};
    if (auto id = request.find("id"); id != request.end()) o["id"] = id->value();
    Reply(std::move(o));
  }

  // Handles one message; false when the connection is to be closed (the reason is queued).
  bool Handle(const std::string& text) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec) {
      impl_.CloseClient(client_, http::kCloseInvalidPayload, "invalid JSON");
      return false;
    }
    if (!parsed.is_object() || !parsed.as_object().contains("type") || !parsed.as_object().at("type").is_string()) {
      impl_.CloseClient(client_, http::kClosePolicy, "a message is a JSON object with a \"type\"");
      return false;
    }
    const auto& m = parsed.as_object();
    if (!ratelimit::Gcra(message_tat_, {impl_.limits.max_client_messages_per_second, std::chrono::seconds(1)},
                         ratelimit::Clock::now())
             .allowed) {
      Error(m, fmt::format("Too many messages: at most {} a second.", impl_.limits.max_client_messages_per_second));
      return true;
    }
    const std::string type(m.at("type").as_string());
    auto with_id = [&](boost::json::object o) {
      if (auto id = m.find("id"); id != m.end()) o["id"] = id->value();
      return o;
    };
    auto text_of = [&](const char* key) -> std::string {
      auto it = m.find(key);
      return it != m.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
    };
    if (type == "ping") {
      Reply(with_id({{"type", "pong"}}));
    } else if (type == "auth") {
      auto auth = AuthenticateToken(text_of("token"), "auth", impl_.catalog.Current(), impl_.store, impl_.tokens);
      if (!auth) {
        Error(m, "The token is invalid or expired.");
        return true;
      }
      const boost::json::object record{
          {"id", auth->record_id}, {"collectionId", auth->collection->id}, {"collectionName", auth->collection->name}};
      bool other = false;
      {
        std::lock_guard lock(client_->mu);
        other = client_->auth &&
                (client_->auth->record_id != auth->record_id || client_->auth->collection->id != auth->collection->id);
        if (!other) client_->auth = std::make_shared<const AuthInfo>(std::move(*auth));
      }
      if (other) {
        Error(m, "The connection is already authorized as another record.");
      } else {
        Reply(with_id({{"type", "authorized"}, {"record", record}}));
      }
    } else if (type == "subscribe" || type == "unsubscribe") {
      std::vector<std::string> topics;
      if (auto it = m.find("topics"); it != m.end() && it->value().is_array()) {
        for (const auto& t : it->value().as_array()) {
          if (t.is_string()) topics.emplace_back(t.as_string());
        }
      }
      boost::json::array done;
      std::string error;
      {
        std::lock_guard lock(client_->mu);
        // Changed on a copy: fan-out may be reading the current list.
        auto subs = client_->subscriptions ? *client_->subscriptions : Subscriptions{};
        if (type == "unsubscribe") {
          if (!m.contains("topics")) {
            for (const auto& s : subs) done.emplace_back(s->topic);
            subs.clear();
          }
          for (const auto& t : topics) {
            if (std::erase_if(subs, [&](const auto& s) { return s->topic == t; })) done.emplace_back(t);
          }
        } else {
          for (const auto& t : topics) {
            if (t.size() > impl_.limits.max_topic_length) {
              error = "A topic is too long.";
              break;
            }
            auto s = ParseTopic(t);
            if (!s) {
              error = "Invalid subscription options.";
              break;
            }
            if (std::none_of(subs.begin(), subs.end(), [&](const auto& x) { return x->topic == t; })) {
              if (subs.size() >= impl_.limits.max_subscriptions) {
                error = "Too many subscriptions.";
                break;
              }
              subs.push_back(std::make_shared<const Subscription>(std::move(*s)));
            }
            done.emplace_back(t);
          }
        }
        if (error.empty() &&
            !impl_.SetSubscriptionsLocked(*client_, std::make_shared<const Subscriptions>(std::move(subs)))) {
          error = kExpandLimitMessage;
        }
      }
      if (!error.empty()) {
        Error(m, std::move(error));
      } else {
        Reply(with_id({{"type", type == "subscribe" ? "subscribed" : "unsubscribed"}, {"topics", std::move(done)}}));
      }
    } else if (type == "join" || type == "leave" || type == "send") {
      const std::string named = text_of("room");
      if (named.empty() || named.size() > 255) {
        Error(m, "A room name of 1 to 255 characters is required.");
        return true;
      }
      const std::string room = impl_.CanonicalRoom(named);
      std::shared_ptr<const AuthInfo> auth;
      bool member = false;
      std::size_t rooms_joined = 0;
      {
        std::lock_guard lock(client_->mu);
        auth = client_->auth;
        member = std::find(client_->rooms.begin(), client_->rooms.end(), room) != client_->rooms.end();
        rooms_joined = client_->rooms.size();
      }
      if (type == "leave") {
        impl_.Leave(client_, room);
        Reply(with_id({{"type", "left"}, {"room", room}}));
      } else if (type == "send") {
        if (!member) {
          Error(m, "Join the room before sending to it.");
          return true;
        }
        if (!auth) {
          // Its auth record is gone; it leaves its rooms as soon as the worker gets to it.
          Error(m, "Rooms are for authorized connections: send an auth message first.");
          return true;
        }
        auto data = m.find("data");
        impl_.Relay(client_, room,
                    Json({{"type", "message"},
                          {"room", room},
                          {"from", MemberJson(*client_, auth)},
                          {"data", data == m.end() ? boost::json::value(nullptr) : data->value()}}));
      } else if (!auth) {
        Error(m, "Rooms are for authorized connections: send an auth message first.");
      } else if (!member && rooms_joined >= kMaxRoomsPerClient) {
        Error(m, fmt::format("A connection can be in at most {} rooms.", kMaxRoomsPerClient));
      } else {
        const uint64_t changes = impl_.record_changes.load(std::memory_order_acquire);
        if (!impl_.MayJoin(room, auth.get())) {
          Error(m, "You are not allowed to join this room.");
          return true;
        }
        boost::json::array members;
        impl_.Join(client_, room, members);
        Reply(with_id({{"type", "joined"}, {"room", room}, {"members", std::move(members)}}));
        // A change between the check and the join may have taken the right away: checked again.
        if (room.find('/') != std::string::npos && impl_.record_changes.load(std::memory_order_acquire) != changes) {
          impl_.QueueRecheck(room, false);
        }
      }
    } else {
      impl_.CloseClient(client_, http::kClosePolicy, fmt::format("unknown message type {:?}", type.substr(0, 64)));
      return false;
    }
    return true;
  }

  Realtime::Impl& impl_;
  std::shared_ptr<Client> client_;
  ratelimit::Clock::time_point message_tat_{};  // the client's messages, by the generic cell rate algorithm
  bool cancelled_ = false;                      // Cancel and Run are called on the connection's executor
};

}  // namespace

void AddRealtimeRoutes(http::Router& router, Realtime& realtime) {
  Realtime::Impl& impl = *realtime.impl_;
  router.Add(http::Verb::kGet, "/api/realtime", [&impl](http::Request& req) -> net::awaitable<http::Response> {
    const auto executor = co_await net::this_coro::executor;
    auto client = std::make_shared<Client>(util::RandomString(40, kIdAlphabet), executor, Client::Kind::kEventStream);
    client->address = std::string(req.remote_address());
    client->queue.push_back(
        {Text(fmt::format("id:{}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{}\"}}\n\n", client->id, client->id)),
         nullptr});
    impl.Register(client);
    http::Response res;
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-store");
    res.headers.emplace_back("X-Accel-Buffering", "no");  // proxies pass events on at once
    res.stream = std::make_shared<EventStream>(impl, std::move(client));
    co_return res;
  });

  // GET|POST /api/oauth2-redirect, as PocketBase: the OAuth2 provider sends the browser back here,
  // and the state it carries is the id of the realtime client (subscribed to "@oauth2") that
  // started the sign-in; the code goes to that client, which completes it with auth-with-oauth2
  // (the SDK's authWithOAuth2({provider}) flow). Only a client that connected from the same
  // address gets it.
  auto oauth2_redirect = [&impl](http::Request& req) -> net::awaitable<http::Response> {
    auto field = [&req](const char* name) -> std::string {
      if (req.verb() != http::Verb::kPost) return req.QueryParam(name).value_or("");
      const auto& body = req.json();
      if (!body.is_object()) return {};
      auto it = body.as_object().find(name);
      return it != body.as_object().end() && it->value().is_string() ? std::string(it->value().as_string())
                                                                     : std::string();
    };
    const std::string state = field("state");
    const std::string code = field("code");
    const std::string error = field("error");
    const auto failed = [] {
      return http::Response{200,
                            "text/plain; charset=utf-8",
                            "Failed to authenticate. You can close this window and go back to the app to try again.",
                            {}};
    };
    auto client = state.empty() || state.size() > 255 ? nullptr : impl.Find(state);
    bool subscribed = false;
    if (client) {
      std::lock_guard lock(client->mu);
      subscribed = !client->closed && client->subscriptions &&
                   std::any_of(client->subscriptions->begin(), client->subscriptions->end(),
                               [](const auto& sub) { return sub->topic == kOAuth2Topic; });
      if (subscribed) {
        // Used once.
        auto subs = *client->subscriptions;
        std::erase_if(subs, [](const auto& sub) { return sub->topic == kOAuth2Topic; });
        impl.SetSubscriptionsLocked(*client, std::make_shared<const Subscriptions>(std::move(subs)));
      }
    }
    if (!subscribed || (!client->address.empty() && client->address != req.remote_address())) co_return failed();
    boost::json::object data{{"state", state}, {"code", code}};
    if (!error.empty()) data["error"] = error;
    if (client->kind == Client::Kind::kWebSocket) {
      impl.Push(client, {Json({{"type", "event"}, {"topic", kOAuth2Topic}, {"data", std::move(data)}}), nullptr});
    } else {
      impl.Push(
          client,
          {Text(fmt::format("id:{}\nevent:{}\ndata:{}\n\n", client->id, kOAuth2Topic, boost::json::serialize(data))),
           nullptr});
    }
    if (!error.empty() || code.empty()) co_return failed();
    co_return http::Response{
        200, "text/html; charset=utf-8", "Auth completed. You can close this window and go back to the app.", {}};
  };
  router.Add(http::Verb::kGet, "/api/oauth2-redirect", oauth2_redirect);
  router.Add(http::Verb::kPost, "/api/oauth2-redirect", oauth2_redirect, {.json_body = true});

  router.Add(http::Verb::kGet, "/api/ws", [&impl](http::Request&) -> net::awaitable<http::Response> {
    http::Response res;
    res.status = 101;
    res.websocket = std::make_shared<RealtimeSocket>(impl);
    co_return res;
  });

  router.Add(
      http::Verb::kPost, "/api/realtime",
      [&impl](http::Request& req) -> net::awaitable<http::Response> {
        const auto& body = req.json();
        if (!body.is_object()) throw http::ApiError::BadRequest("Failed to read the submitted data.");
        const auto& o = body.as_object();
        std::string client_id;
        if (auto it = o.find("clientId"); it != o.end() && it->value().is_string()) {
          client_id = std::string(it->value().as_string());
        }
        boost::json::object errors;
        if (client_id.empty() || client_id.size() > 255) {
          errors["clientId"] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
        }
        std::vector<std::string> topics;
        if (auto it = o.find("subscriptions"); it != o.end() && it->value().is_array()) {
          for (const auto& t : it->value().as_array()) {
            if (!t.is_string()) continue;
            if (t.as_string().size() > impl.limits.max_topic_length) {
              errors["subscriptions"] = boost::json::object{
                  {"code", "validation_length_too_long"},
                  {"message",
                   fmt::format("A subscription can have at most {} characters.", impl.limits.max_topic_length)}};
            }
            topics.emplace_back(t.as_string());
          }
        }
        if (topics.size() > impl.limits.max_subscriptions) {
          errors["subscriptions"] = boost::json::object{
              {"code", "validation_length_too_long"},
              {"message", fmt::format("At most {} subscriptions are allowed.", impl.limits.max_subscriptions)}};
        }
        if (!errors.empty()) throw http::ApiError{400, "Failed to load the submitted data.", std::move(errors), {}};
        auto client = impl.Find(client_id);
        if (!client) throw http::ApiError::NotFound("Missing or invalid client id.");

        auto auth = Authenticate(req, impl.catalog.Current(), impl.store, impl.tokens);
        Subscriptions subs;
        for (const auto& t : topics) {
          auto s = ParseTopic(t);
          if (!s) {
            throw http::ApiError{400,
                                 "Failed to load the submitted data.",
                                 {{"subscriptions", boost::json::object{{"code", "validation_invalid_options"},
                                                                        {"message", "Invalid subscription options."}}}},
                                 {}};
          }
          subs.push_back(std::make_shared<const Subscription>(std::move(*s)));
        }
        {
          std::lock_guard lock(client->mu);
          // The first authorized request binds the client's auth; a later one must be the same.
          if (client->auth && (!auth || auth->record_id != client->auth->record_id ||
                               auth->collection->id != client->auth->collection->id)) {
            throw http::ApiError::Forbidden("The current and the previous request authorization don't match.");
          }
          if (!impl.SetSubscriptionsLocked(*client, std::make_shared<const Subscriptions>(std::move(subs)))) {
            throw http::ApiError{
                400,
                "Failed to load the submitted data.",
                {{"subscriptions", boost::json::object{{"code", "validation_expand_limit"},
                                                       {"message", std::string(kExpandLimitMessage)}}}},
                {}};
          }
          if (!client->auth && auth) client->auth = std::make_shared<const AuthInfo>(std::move(*auth));
        }
        co_return http::Response{204, "", "", {}};
      },
      {.json_body = true});
}

}  // namespace strata::api
