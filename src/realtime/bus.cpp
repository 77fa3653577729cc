#include "realtime/bus.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace strata::realtime {
namespace {

class InProcessBus final : public Bus {
 public:
  InProcessBus() : thread_([this] { Run(); }) {}
  ~InProcessBus() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void Publish(std::string_view channel, std::string payload) override {
    {
      std::lock_guard lock(mu_);
      queue_.emplace_back(std::string(channel), std::move(payload));
    }
    cv_.notify_one();
  }

  void Subscribe(std::string channel, Handler handler) override {
    std::lock_guard lock(mu_);
    handlers_[std::move(channel)].push_back(std::move(handler));
  }

  std::size_t backlog() const override {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, everything delivered
      auto [channel, payload] = std::move(queue_.front());
      queue_.pop_front();
      auto it = handlers_.find(channel);
      if (it == handlers_.end()) continue;
      // Handlers are only ever added: a copy lets them run without the lock.
      const std::vector<Handler> handlers = it->second;
      lock.unlock();
      for (const auto& h : handlers) h(payload);
      lock.lock();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  std::map<std::string, std::vector<Handler>> handlers_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace

std::unique_ptr<Bus> MakeInProcessBus() { return std::make_unique<InProcessBus>(); }

}  // namespace strata::realtime
