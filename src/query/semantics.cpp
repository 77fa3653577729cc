#include "query/semantics.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace strata::query::internal {
namespace {

bool IsSqliteSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char FoldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Bytes in the character at text[i], as SQLite reads UTF-8: a lead byte and the continuation bytes
// after it.
std::size_t CharLen(std::string_view text, std::size_t i) {
  if (static_cast<unsigned char>(text[i]) < 0xC0) return 1;
  std::size_t n = 1;
  while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
  return n;
}

void ApplyAffinity(Val& v, Affinity affinity) {
  if (affinity == Affinity::kNumeric && v.type == Val::Type::kText) {
    if (auto n = SqliteNumeric(v.s)) {
      auto keep = v.affinity;
      v = std::move(*n);
      v.affinity = keep;
    }
  } else if (affinity == Affinity::kText && v.is_number()) {
    auto keep = v.affinity;
    v = Val::Text(*SqliteText(v));
    v.affinity = keep;
  }
}

}  // namespace

Val Val::Real(double v) {
  if (std::isnan(v)) return Null();
  Val x;
  x.type = Type::kReal;
  x.r = v;
  return x;
}

std::string SqliteRealText(double v) {
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  std::string out = buf;
  if (out.find_first_of(".eE") == std::string::npos) {
    out += ".0";
  } else if (out.find('.') == std::string::npos) {
    out.insert(out.find_first_of("eE"), ".0");
  }
  return out;
}

std::optional<std::string> SqliteText(const Val& v) {
  switch (v.type) {
    case Val::Type::kNull:
      return std::nullopt;
    case Val::Type::kInt:
      return std::to_string(v.i);
    case Val::Type::kReal:
      return SqliteRealText(v.r);
    case Val::Type::kText:
      return v.s;
  }
  return std::nullopt;
}

std::optional<Val> SqliteNumeric(std::string_view text) {
  std::size_t b = 0, e = text.size();
  while (b < e && IsSqliteSpace(text[b])) ++b;
  while (e > b && IsSqliteSpace(text[e - 1])) --e;
  std::string_view t = text.substr(b, e - b);
  if (t.empty()) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
  if (t[0] == '+' || t[0] == '-') {
    negative = t[0] == '-';
    ++i;
  }
  std::size_t digits = 0;
  bool integer = true;
  std::size_t start = i;
  while (i < t.size() && IsDigit(t[i])) ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    integer = false;
    ++i;
    while (i < t.size() && IsDigit(t[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    integer = false;
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < t.size() && IsDigit(t[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  std::string_view body = t.substr(start);
  if (integer) {
    std::string with_sign = negative ? "-" + std::string(body) : std::string(body);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(with_sign.data(), with_sign.data() + with_sign.size(), value);
    if (ec == std::errc() && end == with_sign.data() + with_sign.size()) return Val::Int(value);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) {
    value = std::strtod(std::string(body).c_str(), nullptr);  // ±HUGE_VAL or the underflowed value
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return Val::Real(negative ? -value : value);
}

std::string GoFloatText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return SqliteRealText(v);
  return std::string(buf, end);
}

std::optional<int> SqliteCompare(Val a, Val b) {
  Affinity affinity;
  if (a.affinity != Affinity::kNone && b.affinity != Affinity::kNone) {
    affinity =
        (a.affinity == Affinity::kNumeric || b.affinity == Affinity::kNumeric) ? Affinity::kNumeric : Affinity::kNone;
  } else {
    affinity = a.affinity != Affinity::kNone ? a.affinity : b.affinity;
  }
  ApplyAffinity(a, affinity);
  ApplyAffinity(b, affinity);
  if (a.is_null() || b.is_null()) return std::nullopt;
  if (a.is_number() && b.is_number()) {
    if (a.type == Val::Type::kInt && b.type == Val::Type::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    double x = a.AsDouble(), y = b.AsDouble();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_number()) return -1;  // numbers sort before text
  if (b.is_number()) return 1;
  std::size_t n = std::min(a.s.size(), b.s.size());
  int c = n ? std::memcmp(a.s.data(), b.s.data(), n) : 0;
  if (c != 0) return c < 0 ? -1 : 1;
  return a.s.size() < b.s.size() ? -1 : (a.s.size() > b.s.size() ? 1 : 0);
}

bool SqliteIs(const Val& a, const Val& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  return SqliteCompare(a, b) == 0;
}

bool HasDanglingEscape(std::string_view pattern) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (i + 1 == pattern.size()) return true;
      i += CharLen(pattern, i + 1);
    }
  }
  return false;
}

bool SqliteLike(std::string_view text, std::string_view pattern) {
  // SQLite reads both as C strings: nothing after a NUL takes part.
  text = text.substr(0, std::min(text.size(), text.find('\0')));
  pattern = pattern.substr(0, std::min(pattern.size(), pattern.find('\0')));
  if (HasDanglingEscape(pattern)) return false;
  std::size_t ti = 0, pi = 0;
  std::size_t star_pi = std::string_view::npos, star_ti = 0;
  while (ti < text.size()) {
    if (pi < pattern.size()) {
      char c = pattern[pi];
      if (c == '%') {
        while (pi < pattern.size() && pattern[pi] == '%') ++pi;
        star_pi = pi;
        star_ti = ti;
        continue;
      }
      if (c == '_') {
        pi += CharLen(pattern, pi);
        ti += CharLen(text, ti);
        continue;
      }
      std::size_t lit = pi;
      if (c == '\\') lit = pi + 1;
      std::size_t plen = CharLen(pattern, lit);
      std::size_t tlen = CharLen(text, ti);
      bool same = plen == tlen && (plen == 1 ? FoldAscii(pattern[lit]) == FoldAscii(text[ti])
                                             : pattern.compare(lit, plen, text, ti, tlen) == 0);
      if (same) {
        pi = lit + plen;
        ti += tlen;
        continue;
      }
    }
    if (star_pi == std::string_view::npos) return false;
    star_ti += CharLen(text, star_ti);
    ti = star_ti;
    pi = star_pi;
  }
  while (pi < pattern.size() && pattern[pi] == '%') ++pi;
  return pi == pattern.size();
}

namespace {

bool ContainsUnescaped(std::string_view s, char ch) {
  char prev = 0;
  for (char c : s) {
    if (c == ch && prev != '\\') return true;
    prev = (c == '\\' && prev == '\\') ? 0 : c;
  }
  return false;
}

// PocketBase's escapeUnescapedChars, byte for byte (the special characters are ASCII, so working on
// bytes is the same as working on runes). It walks from the end, as the original does, and so
// inherits its behaviour for runs of special characters.
std::string EscapeUnescaped(std::string_view s) {
  auto special = [](char c) { return c == '\\' || c == '%' || c == '_'; };
  std::string reversed;
  reversed.reserve(s.size() * 2);
  bool match = false;
  for (std::size_t k = s.size(); k-- > 0;) {
    char c = s[k];
    if (match) {
      if (c != '\\') reversed += '\\';
      match = false;
    } else if (special(c)) {
      match = true;
    }
    reversed += c;
    if (k == 0 && match) reversed += '\\';
  }
  return std::string(reversed.rbegin(), reversed.rend());
}

}  // namespace

std::string WrapLikeValue(std::string_view value) {
  if (ContainsUnescaped(value, '%')) return std::string(value);
  return "%" + EscapeUnescaped(value) + "%";
}

bool IsEmptyOperand(Shape shape, NullFallback nf) {
  return shape == Shape::kNull || (shape == Shape::kEmptyValue && nf == NullFallback::kAuto);
}

EqForm PlanEquality(Shape left, NullFallback left_nf, Shape right, NullFallback right_nf) {
  if (left_nf == NullFallback::kDisabled || right_nf == NullFallback::kDisabled) return EqForm::kIs;
  bool left_empty = IsEmptyOperand(left, left_nf);
  bool right_empty = IsEmptyOperand(right, right_nf);
  if (left_empty && right_empty) return EqForm::kBothEmpty;
  auto known_non_empty = [](Shape s, NullFallback nf) {
    return nf != NullFallback::kEnforced && (s == Shape::kBool || s == Shape::kValue);
  };
  if (known_non_empty(left, left_nf) || known_non_empty(right, right_nf)) return EqForm::kDirect;
  if (left_empty) return EqForm::kLeftEmpty;
  if (right_empty) return EqForm::kRightEmpty;
  return EqForm::kCoalesce;
}

}  // namespace strata::query::internal
