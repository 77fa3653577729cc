#include "util/random.hpp"

#include <cstdint>
#include <random>

namespace strata::util {
namespace {

// xoshiro256** (public-domain algorithm by Blackman and Vigna): fast and statistically sound.
class Xoshiro256 {
 public:
  Xoshiro256() {
    std::random_device rd;
    for (auto& word : s_) word = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

Xoshiro256& ThreadRng() {
  thread_local Xoshiro256 rng;
  return rng;
}

}  // namespace

std::string RandomString(std::size_t length, std::string_view alphabet) {
  std::string out(length, '\0');
  auto& rng = ThreadRng();
  const uint64_t n = alphabet.size();
  // Rejection sampling keeps the distribution uniform for alphabets that do not divide 2^64.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (auto& c : out) {
    uint64_t v;
    do {
      v = rng.Next();
    } while (v >= limit);
    c = alphabet[v % n];
  }
  return out;
}

std::string NewRequestId() { return RandomString(20, "abcdefghijklmnopqrstuvwxyz0123456789"); }

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace strata::util
