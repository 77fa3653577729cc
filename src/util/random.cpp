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

namespace {

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kWord = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
constexpr std::size_t kMaxGenerated = 4096;
constexpr int kOpenRepeat = 8;  // the most repetitions of *, + and {n,}, past their minimum

// The characters of the class starting after '[' at `p[i]`; moves `i` past its ']'.
std::optional<std::string> ParseClass(std::string_view p, std::size_t& i) {
  std::string chars;
  if (i < p.size() && p[i] == '^') return std::nullopt;  // "anything but" has no useful alphabet
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    first = false;
    char c = p[i++];
    if (c == '\\') {
      if (i >= p.size()) return std::nullopt;
      const char e = p[i++];
      if (e == 'd') {
        chars += kDigits;
        continue;
      }
      if (e == 'w') {
        chars += kWord;
        continue;
      }
      c = e;
    }
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      const char last = p[i + 1];
      i += 2;
      if (last < c) return std::nullopt;
      for (int ch = c; ch <= last; ++ch) chars += static_cast<char>(ch);
      continue;
    }
    chars += c;
  }
  if (i >= p.size() || chars.empty()) return std::nullopt;
  ++i;  // ']'
  return chars;
}

}  // namespace

std::optional<std::string> RandomStringByPattern(std::string_view p) {
  if (p.starts_with('^')) p.remove_prefix(1);
  if (p.ends_with('$') && !p.ends_with("\\$")) p.remove_suffix(1);
  std::string out;
  std::size_t i = 0;
  while (i < p.size()) {
    // One atom: the characters it may be.
    std::string alphabet;
    const char c = p[i++];
    switch (c) {
      case '[': {
        auto chars = ParseClass(p, i);
        if (!chars) return std::nullopt;
        alphabet = std::move(*chars);
        break;
      }
      case '\\': {
        if (i >= p.size()) return std::nullopt;
        const char e = p[i++];
        alphabet = e == 'd' ? std::string(kDigits) : e == 'w' ? std::string(kWord) : std::string(1, e);
        if (std::string_view("sSDWbB").find(e) != std::string_view::npos) return std::nullopt;
        break;
      }
      case '.':
        alphabet = std::string(kWord.substr(0, 62));
        break;
      case '(':
      case ')':
      case '|':
      case '{':
      case '}':
      case '*':
      case '+':
      case '?':
      case '^':
      case '$':
        return std::nullopt;
      default:
        alphabet = std::string(1, c);
    }
    // Its quantifier.
    std::size_t min = 1, max = 1;
    if (i < p.size() && (p[i] == '?' || p[i] == '*' || p[i] == '+')) {
      min = p[i] == '+' ? 1 : 0;
      max = p[i] == '?' ? 1 : min + kOpenRepeat;
      ++i;
    } else if (i < p.size() && p[i] == '{') {
      const auto close = p.find('}', i);
      if (close == std::string_view::npos) return std::nullopt;
      const std::string_view body = p.substr(i + 1, close - i - 1);
      const auto comma = body.find(',');
      auto number = [](std::string_view s) -> std::optional<std::size_t> {
        if (s.empty() || s.size() > 5 || s.find_first_not_of(kDigits) != std::string_view::npos) return std::nullopt;
        return static_cast<std::size_t>(std::stoul(std::string(s)));
      };
      const auto lo = number(body.substr(0, comma));
      if (!lo) return std::nullopt;
      min = max = *lo;
      if (comma != std::string_view::npos) {
        const std::string_view upper = body.substr(comma + 1);
        const auto hi = upper.empty() ? std::optional<std::size_t>(*lo + kOpenRepeat) : number(upper);
        if (!hi || *hi < *lo) return std::nullopt;
        max = *hi;
      }
      i = close + 1;
    }
    const std::size_t count = min == max ? min : min + static_cast<std::size_t>(ThreadRng().Next() % (max - min + 1));
    if (out.size() + count > kMaxGenerated) return std::nullopt;
    out += RandomString(count, alphabet);
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
