// Bus: how an instance tells every instance (itself included) about a committed change. Messages
// are text on named channels; subscribers receive each message published after they subscribed,
// in publish order per publisher. The in-process bus serves one instance; a Redis bus (pub/sub)
// follows with the distributed tier behind the same interface. Thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace strata::realtime {

class Bus {
 public:
  using Handler = std::function<void(const std::string& payload)>;
  virtual ~Bus() = default;
  // Queues `payload` for the subscribers of `channel` and returns at once: a publisher (the
  // store's writer) never waits on delivery.
  virtual void Publish(std::string_view channel, std::string payload) = 0;
  // Calls `handler` for every message on `channel`, on the bus's delivery thread, one at a time.
  // Subscribe before the first Publish that should reach it; there is no unsubscribe (subscribers
  // live as long as the bus).
  virtual void Subscribe(std::string channel, Handler handler) = 0;
  // Messages queued and not delivered yet.
  virtual std::size_t backlog() const = 0;
};

// The bus of one process: a queue and one delivery thread. Stops (after delivering what is
// queued) when destroyed.
std::unique_ptr<Bus> MakeInProcessBus();

}  // namespace strata::realtime
