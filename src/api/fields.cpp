#include "api/fields.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <unordered_map>

namespace strata::api {
namespace {

namespace json = boost::json;

// ---- the text of fields= (PocketBase's tools/tokenizer) ----

constexpr std::string_view kTrimmed = " \t\n\v\f\r";

std::string_view Trim(std::string_view s, std::string_view cutset = kTrimmed) {
  const auto first = s.find_first_not_of(cutset);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(cutset) - first + 1);
}

// Splits `text` at `separators` outside quotes and (unless `ignore_parentheses`) parentheses; a
// backslash keeps the next quote or parenthesis from counting. Tokens are trimmed, empty ones
// dropped. Returns the tokens, or InvalidArgument when a quote or parenthesis is left open.
util::Result<std::vector<std::string>> Tokenize(std::string_view text, std::string_view separators,
                                                bool ignore_parentheses) {
  std::vector<std::string> tokens;
  std::string token;
  int parentheses = 0;
  char quote = 0;
  char prev = 0;
  auto flush = [&] {
    const std::string_view t = Trim(token);
    if (!t.empty()) tokens.emplace_back(t);
    token.clear();
  };
  for (const char ch : text) {
    if (prev != '\\') {
      if (!ignore_parentheses && ch == '(' && !quote) {
        ++parentheses;
      } else if (!ignore_parentheses && ch == ')' && parentheses > 0 && !quote) {
        --parentheses;
      } else if (ch == '"' || ch == '\'' || ch == '`') {
        if (quote == ch) {
          quote = 0;
        } else if (!quote) {
          quote = ch;
        }
      }
    }
    if (separators.find(ch) != std::string_view::npos && parentheses == 0 && !quote) {
      flush();
      prev = 0;
      continue;
    }
    prev = ch;
    token += ch;
  }
  if (parentheses > 0 || quote) {
    return std::unexpected(util::Status::InvalidArgument("unbalanced parenthesis or quoted expression"));
  }
  flush();
  return tokens;
}

// `s` in double quotes with escapes, for messages that echo the client's text.
std::string Quote(std::string_view s) { return fmt::format("{:?}", s); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Go's rule for '_' in number literals: only between digits, or after a base prefix.
bool UnderscoresOk(std::string_view s) {
  char saw = '^';
  std::size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = Lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = Lower(s[i]);
    if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// Go's strconv.ParseInt(s, 0, 64): decimal, 0x/0o/0b prefixes, a leading 0 for octal, '_'
// separators. nullopt when malformed or out of range.
std::optional<int64_t> ParseGoInt(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && Lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  uint64_t n = 0;
  bool underscores = false;
  for (const char ch : s) {
    const char c = Lower(ch);
    uint64_t d = 0;
    if (c == '_') {
      underscores = true;
      continue;
    }
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'z') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (n > (std::numeric_limits<uint64_t>::max() - d) / base) return std::nullopt;
    n = n * base + d;
  }
  if (underscores && !UnderscoresOk(text)) return std::nullopt;
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  if (negative) {
    if (n > kLimit) return std::nullopt;
    return n == kLimit ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(n);
  }
  if (n >= kLimit) return std::nullopt;
  return static_cast<int64_t>(n);
}

// An integer argument as PocketBase reads one: an integer literal, else a number truncated toward
// zero ("12.7" is 12); 0 when it is neither.
int64_t IntArgument(std::string_view s) {
  if (auto i = ParseGoInt(s)) return *i;
  std::string_view f = s;
  if (!f.empty() && f[0] == '+') f.remove_prefix(1);
  double d = 0;
  auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), d);
  if (ec != std::errc() || ptr != f.data() + f.size() || std::isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

// Go's strconv.ParseBool's true values; anything else, malformed included, is false.
bool TrueArgument(std::string_view s) {
  return s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True";
}

util::Result<FieldPicker::Excerpt> ParseModifier(std::string_view raw) {
  auto parts = Tokenize(raw, "(), ", true);
  if (!parts) return std::unexpected(parts.error());
  if (parts->empty()) {
    return std::unexpected(util::Status::InvalidArgument("invalid or empty modifier expression " + Quote(raw)));
  }
  const std::string& name = parts->front();
  if (name != "excerpt")
    return std::unexpected(util::Status::InvalidArgument("missing or invalid modifier " + Quote(name)));
  const std::span<const std::string> args(parts->begin() + 1, parts->end());
  if (args.empty()) {
    return std::unexpected(util::Status::InvalidArgument("max argument is required - expected (max, withEllipsis?)"));
  }
  if (args.size() > 2) {
    return std::unexpected(util::Status::InvalidArgument("too many arguments - expected (max, withEllipsis?)"));
  }
  FieldPicker::Excerpt e;
  e.max = IntArgument(args[0]);
  if (e.max <= 0) return std::unexpected(util::Status::InvalidArgument("max argument must be > 0"));
  e.ellipsis = args.size() > 1 && TrueArgument(args[1]);
  return e;
}

// ---- picking (PocketBase's tools/picker/pick.go) ----

// A field relative to the object being picked: the rest of its path and its modifier (or null).
struct Wanted {
  std::string_view path;
  const FieldPicker::Excerpt* modifier;
};

void Modify(json::value& v, const FieldPicker::Excerpt* modifier) {
  if (modifier && v.is_string()) v = ExcerptText(v.get_string(), modifier->max, modifier->ellipsis);
}

void PickValue(json::value& v, std::span<const Wanted> fields);

// Keeps the keys of `m` that a field names, in their order: the whole value for a field that is
// the key itself, the picked value for fields under it ("key.sub"), and with "*" every key that no
// field names.
void PickObject(json::object& m, std::span<const Wanted> fields) {
  const Wanted* star = nullptr;
  for (const auto& f : fields) {
    if (f.path == "*") star = &f;
  }
  json::object out(m.storage());
  out.reserve(m.size());
  std::vector<Wanted> under;
  for (auto& kv : m) {
    const std::string_view key = kv.key();
    const Wanted* exact = nullptr;
    under.clear();
    for (const auto& f : fields) {
      if (f.path == key) {
        exact = &f;
      } else if (f.path.size() > key.size() && f.path[key.size()] == '.' && f.path.starts_with(key)) {
        under.push_back({f.path.substr(key.size() + 1), f.modifier});
      }
    }
    if (exact) {
      Modify(kv.value(), exact->modifier);
    } else if (!under.empty()) {
      PickValue(kv.value(), under);
    } else if (star) {
      Modify(kv.value(), star->modifier);
    } else {
      continue;
    }
    out.emplace(key, std::move(kv.value()));
  }
  m = std::move(out);
}

void PickValue(json::value& v, std::span<const Wanted> fields) {
  if (v.is_object()) {
    PickObject(v.get_object(), fields);
  } else if (v.is_array()) {
    auto& a = v.get_array();
    // As PocketBase: only lists of objects are picked from.
    if (a.empty() || !a.front().is_object()) return;
    for (auto& item : a) {
      if (item.is_object()) PickObject(item.get_object(), fields);
    }
  }
}

// ---- excerpt ----

// HTML's ASCII whitespace (Go's regexp \s).
bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The rune at s[i] and its length in bytes; an invalid byte is one U+FFFD rune, as in Go.
std::size_t DecodeRune(std::string_view s, std::size_t i, char32_t& rune) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char b0 = b(0);
  rune = 0xFFFD;
  if (b0 < 0x80) {
    rune = b0;
    return 1;
  }
  if (b0 < 0xC2 || b0 > 0xF4) return 1;
  const std::size_t n = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (i + n > s.size()) return 1;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 == 0xE0) lo = 0xA0;
  if (b0 == 0xED) hi = 0x9F;
  if (b0 == 0xF0) lo = 0x90;
  if (b0 == 0xF4) hi = 0x8F;
  if (b(1) < lo || b(1) > hi) return 1;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 1;
  }
  char32_t cp = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(k) & 0x3F);
  rune = cp;
  return n;
}

// Unicode White_Space, which Go's strings.TrimSpace removes.
bool IsUnicodeSpace(char32_t r) {
  return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0 || r == 0x1680 ||
         (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000;
}

std::string_view TrimUnicodeSpace(std::string_view s) {
  std::size_t begin = s.size();
  std::size_t end = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t r = 0;
    const std::size_t n = DecodeRune(s, i, r);
    if (!IsUnicodeSpace(r)) {
      begin = std::min(begin, i);
      end = i + n;
    }
    i += n;
  }
  return begin >= end ? std::string_view{} : s.substr(begin, end - begin);
}

struct NamedEntity {
  std::string_view name;
  char32_t cp;
};
constexpr NamedEntity kNamedEntities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},     {"nbsp", 0xA0},
    {"shy", 0xAD},     {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026}, {"mdash", 0x2014},
    {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},  {"laquo", 0xAB},
    {"raquo", 0xBB},   {"middot", 0xB7},  {"bull", 0x2022},  {"euro", 0x20AC},  {"deg", 0xB0},      {"times", 0xD7},
};

// Decodes character references: the named ones above (with their ';') and numeric ones
// ("&#39;", "&#x27;"); anything else stays as written.
std::string DecodeEntities(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '&') {
      out += in[i];
      continue;
    }
    std::size_t j = i + 1;
    if (j < in.size() && in[j] == '#') {
      ++j;
      const bool hex = j < in.size() && (in[j] == 'x' || in[j] == 'X');
      if (hex) ++j;
      const std::size_t digits = j;
      char32_t cp = 0;
      for (; j < in.size(); ++j) {
        const char c = Lower(in[j]);
        uint32_t d = 0;
        if (c >= '0' && c <= '9') {
          d = static_cast<uint32_t>(c - '0');
        } else if (hex && c >= 'a' && c <= 'f') {
          d = static_cast<uint32_t>(c - 'a' + 10);
        } else {
          break;
        }
        cp = std::min<char32_t>(cp * (hex ? 16 : 10) + d, 0x110000);  // saturates: out of range anyway
      }
      if (j == digits) {
        out += '&';
        continue;
      }
      if (j < in.size() && in[j] == ';') ++j;
      AppendUtf8(out, cp);
      i = j - 1;
      continue;
    }
    const auto semicolon = in.find(';', j);
    bool decoded = false;
    if (semicolon != std::string_view::npos && semicolon - j <= 8) {
      const std::string_view name = in.substr(j, semicolon - j);
      for (const auto& e : kNamedEntities) {
        if (e.name == name) {
          AppendUtf8(out, e.cp);
          i = semicolon;
          decoded = true;
          break;
        }
      }
    }
    if (!decoded) out += '&';
  }
  return out;
}

template <std::size_t N>
bool In(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Elements whose content shows no text, skipped whole.
constexpr std::string_view kSkippedElements[] = {
    "head",    "style",  "script",   "iframe", "embed", "applet",   "object", "svg",    "img",
    "picture", "dialog", "template", "button", "form",  "textarea", "input",  "select", "option",
};
// Elements that do not break the text; a space goes around every other element.
constexpr std::string_view kInlineElements[] = {
    "a", "abbr",  "acronym", "b",     "bdo",  "br",     "big",    "button", "cite", "code", "em",
    "i", "label", "q",       "small", "span", "strong", "strike", "sub",    "sup",  "time",
};
// Elements whose content is text up to their end tag, not markup.
constexpr std::string_view kRawTextElements[] = {"script", "style",   "iframe",   "textarea", "title",
                                                 "xmp",    "noembed", "noframes", "noscript"};
// Raw text elements whose character references are decoded.
constexpr std::string_view kEscapableRawTextElements[] = {"textarea", "title"};
constexpr std::string_view kVoidElements[] = {"area",  "base",  "basefont", "bgsound", "br",    "col",
                                              "embed", "frame", "hr",       "img",     "input", "keygen",
                                              "link",  "meta",  "param",    "source",  "track", "wbr"};
// Elements that a browser puts in the (skipped) head when they come before any content.
constexpr std::string_view kHeadElements[] = {"base",  "basefont", "bgsound", "link",  "meta",
                                              "title", "noscript", "script",  "style", "template"};

// A lenient reader of HTML's tokens (text, tags, comments) that writes the text a reader sees,
// with the rules of PocketBase's excerpt modifier, until the text passes `limit` bytes.
class TextScanner {
 public:
  TextScanner(std::string_view html, std::size_t limit) : in_(html), limit_(limit) {}

  std::string Run() {
    // Every parse implies the <html> element, which is a block.
    out_ = " ";
    while (pos_ < in_.size() && out_.size() <= limit_) Step();
    return std::move(out_);
  }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }

  // Whether in_[i] starts markup; otherwise a '<' is text.
  bool MarkupAt(std::size_t i) const {
    if (in_[i] != '<' || i + 1 >= in_.size()) return false;
    const char next = in_[i + 1];
    if (IsAsciiAlpha(next) || next == '!' || next == '?') return true;
    return next == '/' && i + 2 < in_.size();
  }

  void Step() {
    if (!MarkupAt(pos_)) {
      std::size_t end = pos_ + 1;
      while (end < in_.size() && !MarkupAt(end)) ++end;
      Text(in_.substr(pos_, end - pos_), true);
      pos_ = end;
      return;
    }
    const std::string_view rest = in_.substr(pos_);
    if (rest.starts_with("<!--")) {
      // "<!-->" and "<!--->" are complete (empty) comments.
      const auto end = in_.find("-->", pos_ + 2);
      pos_ = end == std::string_view::npos ? in_.size() : end + 3;
    } else if (rest[1] == '!' || rest[1] == '?') {
      SkipPast('>');
    } else if (rest[1] == '/') {
      if (rest[2] == '>') {
        pos_ += 3;
      } else if (IsAsciiAlpha(rest[2])) {
        pos_ += 2;
        const std::string name = ReadName();
        bool self_closing = false;
        if (SkipAttributes(self_closing)) EndTag(name);
      } else {
        SkipPast('>');
      }
    } else {
      pos_ += 1;
      const std::string name = ReadName();
      bool self_closing = false;
      if (SkipAttributes(self_closing)) StartTag(name, self_closing);
    }
  }

  void SkipPast(char c) {
    const auto end = in_.find(c, pos_);
    pos_ = end == std::string_view::npos ? in_.size() : end + 1;
  }

  std::string ReadName() {
    std::string name;
    while (!AtEnd() && !IsHtmlSpace(in_[pos_]) && in_[pos_] != '/' && in_[pos_] != '>') name += Lower(in_[pos_++]);
    return name;
  }

  // Moves past the attributes and the tag's '>'. Returns false when the input ends first (the tag
  // is then dropped, as browsers do).
  bool SkipAttributes(bool& self_closing) {
    while (true) {
      while (!AtEnd() && IsHtmlSpace(in_[pos_])) ++pos_;
      if (AtEnd()) return false;
      const char c = in_[pos_];
      if (c == '>') {
        ++pos_;
        return true;
      }
      if (c == '/') {
        ++pos_;
        if (!AtEnd() && in_[pos_] == '>') {
          ++pos_;
          self_closing = true;
          return true;
        }
        continue;
      }
      ++pos_;  // the name's first character may be anything, '=' included
      while (!AtEnd() && !IsHtmlSpace(in_[pos_]) && in_[pos_] != '/' && in_[pos_] != '>' && in_[pos_] != '=') ++pos_;
      while (!AtEnd() && IsHtmlSpace(in_[pos_])) ++pos_;
      if (AtEnd() || in_[pos_] != '=') continue;
      ++pos_;
      while (!AtEnd() && IsHtmlSpace(in_[pos_])) ++pos_;
      if (AtEnd()) return false;
      if (in_[pos_] == '"' || in_[pos_] == '\'') {
        const auto end = in_.find(in_[pos_], pos_ + 1);
        if (end == std::string_view::npos) {
          pos_ = in_.size();
          return false;
        }
        pos_ = end + 1;
      } else {
        while (!AtEnd() && !IsHtmlSpace(in_[pos_]) && in_[pos_] != '>') ++pos_;
      }
    }
  }

  // The content of a raw text element up to its end tag, which is consumed too; the rest of the
  // input when there is none.
  std::string_view RawText(std::string_view name) {
    const std::size_t begin = pos_;
    for (auto at = in_.find("</", pos_); at != std::string_view::npos; at = in_.find("</", at + 2)) {
      const std::size_t after = at + 2 + name.size();
      if (after > in_.size()) break;
      bool same = true;
      for (std::size_t k = 0; k < name.size() && same; ++k) same = Lower(in_[at + 2 + k]) == name[k];
      if (!same || (after < in_.size() && !IsHtmlSpace(in_[after]) && in_[after] != '/' && in_[after] != '>')) continue;
      pos_ = after;
      bool self_closing = false;
      if (!SkipAttributes(self_closing)) pos_ = in_.size();
      return in_.substr(begin, at - begin);
    }
    pos_ = in_.size();
    return in_.substr(begin);
  }

  void StartTag(const std::string& name, bool self_closing) {
    if (!skip_.empty()) {
      if (skip_ == "head" && name == "body") {
        skip_.clear();
        in_body_ = true;
        Space();
        return;
      }
      // A new <option> closes the one before it rather than nesting.
      if (name == skip_ && name != "option" && !(self_closing && name == "svg")) ++skip_depth_;
      if (In(kRawTextElements, name)) RawText(name);
      return;
    }
    if (name == "head" && in_body_) return;  // browsers ignore a late <head>
    const bool in_head = !in_body_ && In(kHeadElements, name);
    if (!in_head && name != "html" && name != "head") in_body_ = true;
    if (in_head || In(kSkippedElements, name)) {
      if (In(kRawTextElements, name)) {
        RawText(name);
      } else if (!In(kVoidElements, name) && !(self_closing && name == "svg")) {
        skip_ = name;
        skip_depth_ = 1;
      }
      return;
    }
    const bool block = !In(kInlineElements, name);
    if (block) Space();
    if (name == "plaintext") {
      Text(in_.substr(pos_), false);
      pos_ = in_.size();
    } else if (In(kRawTextElements, name)) {
      Text(RawText(name), In(kEscapableRawTextElements, name));
      if (block) Space();
    }
  }

  void EndTag(const std::string& name) {
    if (!skip_.empty()) {
      if (name == skip_ && --skip_depth_ == 0) skip_.clear();
      return;
    }
    if (In(kSkippedElements, name)) return;  // an end tag without its element
    if (!In(kInlineElements, name)) Space();
  }

  void Space() {
    if (out_.empty() || out_.back() != ' ') out_ += ' ';
  }

  // Appends text with whitespace runs collapsed to one space, and none after a space.
  void Text(std::string_view raw, bool decode) {
    if (!skip_.empty()) return;
    const std::string decoded = decode ? DecodeEntities(raw) : std::string(raw);
    bool space = !out_.empty() && out_.back() == ' ';
    for (const char c : decoded) {
      if (IsHtmlSpace(c)) {
        if (!space) out_ += ' ';
        space = true;
      } else {
        out_ += c;
        space = false;
        in_body_ = true;
      }
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t limit_;
  std::string out_;
  bool in_body_ = false;  // content has begun: head elements now stay where they are
  std::string skip_;      // the element whose content is being skipped; empty: none
  int skip_depth_ = 0;    // open elements named skip_
};

}  // namespace

util::Result<FieldPicker> FieldPicker::Parse(std::string_view fields) {
  auto tokens = Tokenize(fields, ",", false);
  if (!tokens) return std::unexpected(tokens.error());
  FieldPicker picker;
  std::unordered_map<std::string, std::size_t> index;
  for (const std::string& token : *tokens) {
    const auto colon = token.find(':');
    Field f{token.substr(0, colon), std::nullopt};
    if (colon != std::string::npos) {
      auto modifier = ParseModifier(std::string_view(token).substr(colon + 1));
      if (!modifier) return std::unexpected(modifier.error());
      f.modifier = *modifier;
    }
    auto [it, inserted] = index.try_emplace(f.path, picker.fields_.size());
    if (inserted) {
      picker.fields_.push_back(std::move(f));
    } else {
      picker.fields_[it->second] = std::move(f);
    }
  }
  return picker;
}

void FieldPicker::Apply(boost::json::value& v) const {
  if (fields_.empty()) return;
  std::vector<Wanted> wanted;
  wanted.reserve(fields_.size());
  for (const auto& f : fields_) wanted.push_back({f.path, f.modifier ? &*f.modifier : nullptr});
  PickValue(v, wanted);
}

std::string ExcerptText(std::string_view html, int64_t max, bool ellipsis) {
  if (max < 0) max = 0;
  const auto max_bytes = static_cast<std::size_t>(
      std::min<uint64_t>(static_cast<uint64_t>(max), std::numeric_limits<std::size_t>::max() - 2));
  // Reading stops two bytes past the limit: the spaces around the text are trimmed below.
  const std::string text = TextScanner(html, max_bytes + 2).Run();
  std::string_view trimmed = TrimUnicodeSpace(text);
  if (trimmed.size() <= max_bytes) return std::string(trimmed);
  std::string cut;
  std::size_t runes = 0;
  std::size_t i = 0;
  for (; i < trimmed.size() && runes < max_bytes; ++runes) {
    char32_t r = 0;
    const std::size_t n = DecodeRune(trimmed, i, r);
    if (r == 0xFFFD && n == 1) {
      AppendUtf8(cut, r);
    } else {
      cut.append(trimmed.substr(i, n));
    }
    i += n;
  }
  if (i >= trimmed.size()) return std::string(trimmed);  // no more than max runes
  std::string out(TrimUnicodeSpace(cut));
  if (ellipsis) out += "...";
  return out;
}

}  // namespace strata::api
