#include "query/parser.hpp"

#include <charconv>
#include <cstdio>
#include <string>

#include "query/limits.hpp"
#include "util/text.hpp"

namespace strata::query {
namespace {

struct Token {
  enum class Kind { kEof, kIdentifier, kCall, kNumber, kText, kSign, kAnd, kOr, kLParen, kRParen, kComma };
  Kind kind = Kind::kEof;
  std::string text;       // identifier or function name, unescaped text, number literal, raw sign
  Op op = Op::kEq;        // kSign
  std::size_t begin = 0;  // byte offset
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierStart(char c) { return IsLetter(c) || c == '@' || c == '_' || c == '#'; }
bool IsIdentifierChar(char c) { return IsLetter(c) || IsDigit(c) || c == '_' || c == '.' || c == ':'; }
bool IsSignChar(char c) { return c == '=' || c == '?' || c == '!' || c == '>' || c == '<' || c == '~'; }

bool ParseSign(std::string_view s, Op* op) {
  static constexpr Op kOps[] = {Op::kEq,    Op::kNeq,    Op::kLike,  Op::kNotLike, Op::kLt,      Op::kLte,
                                Op::kGt,    Op::kGte,    Op::kAnyEq, Op::kAnyNeq,  Op::kAnyLike, Op::kAnyNotLike,
                                Op::kAnyLt, Op::kAnyLte, Op::kAnyGt, Op::kAnyGte};
  for (Op candidate : kOps) {
    if (OpText(candidate) == s) {
      *op = candidate;
      return true;
    }
  }
  return false;
}

bool IsMacro(std::string_view name) {
  static constexpr std::string_view kMacros[] = {
      "@now",       "@second",   "@minute",     "@hour",     "@weekday",    "@day",      "@month",     "@year",
      "@yesterday", "@tomorrow", "@todayStart", "@todayEnd", "@monthStart", "@monthEnd", "@yearStart", "@yearEnd"};
  for (auto m : kMacros) {
    if (m == name) return true;
  }
  return false;
}

// A short, printable rendering of user text for error messages (never raw control bytes).
std::string Quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view input) : in_(input) {}

  util::Result<Expr> Run() {
    if (auto s = Advance(); !s.ok()) return std::unexpected(s);
    if (tok_.kind == Token::Kind::kEof) return Fail(tok_.begin, "empty filter");
    auto expr = ParseOr(0);
    if (!expr) return expr;
    if (tok_.kind != Token::Kind::kEof) {
      if (tok_.kind == Token::Kind::kRParen) return Fail(tok_.begin, "unexpected ')' without a matching '('");
      return Fail(tok_.begin, "expected && or ||, got " + Describe(tok_));
    }
    return expr;
  }

 private:
  // ---- errors and positions ----

  std::size_t CharPos(std::size_t byte) {
    if (byte < pos_cache_byte_) pos_cache_byte_ = pos_cache_chars_ = 0;
    for (; pos_cache_byte_ < byte && pos_cache_byte_ < in_.size(); ++pos_cache_byte_) {
      if ((static_cast<unsigned char>(in_[pos_cache_byte_]) & 0xC0) != 0x80) ++pos_cache_chars_;
    }
    return pos_cache_chars_ + 1 + (byte > in_.size() ? byte - in_.size() : 0);
  }

  util::Status Error(std::size_t byte, std::string_view message) {
    return util::Status::InvalidArgument("invalid filter at position " + std::to_string(CharPos(byte)) + ": " +
                                         std::string(message));
  }
  std::unexpected<util::Status> Fail(std::size_t byte, std::string_view message) {
    return std::unexpected(Error(byte, message));
  }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kEof:
        return "the end of the filter";
      case Token::Kind::kAnd:
        return "\"&&\"";
      case Token::Kind::kOr:
        return "\"||\"";
      case Token::Kind::kLParen:
        return "\"(\"";
      case Token::Kind::kRParen:
        return "\")\"";
      case Token::Kind::kComma:
        return "\",\"";
      case Token::Kind::kCall:
        return "function " + Quote(t.text);
      case Token::Kind::kText:
        return "text " + Quote(t.text);
      case Token::Kind::kSign:
        return "operator " + Quote(t.text);
      default:
        return Quote(t.text);
    }
  }

  // ---- lexer ----

  // Reads the next token into tok_, skipping whitespace and `//` comments.
  util::Status Advance() {
    for (;;) {
      while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
      if (pos_ + 1 < in_.size() && in_[pos_] == '/' && in_[pos_ + 1] == '/') {
        while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
        continue;
      }
      break;
    }
    tok_ = Token{};
    tok_.begin = pos_;
    if (pos_ >= in_.size()) return util::Status::Ok();
    char c = in_[pos_];
    if (IsIdentifierStart(c)) return LexIdentifier();
    if (c == '-' || IsDigit(c)) return LexNumber();
    if (c == '\'' || c == '"') return LexText();
    if (IsSignChar(c)) {
      std::size_t start = pos_;
      while (pos_ < in_.size() && IsSignChar(in_[pos_])) ++pos_;
      tok_.kind = Token::Kind::kSign;
      tok_.text = std::string(in_.substr(start, pos_ - start));
      if (!ParseSign(tok_.text, &tok_.op)) return Error(start, "invalid operator " + Quote(tok_.text));
      return util::Status::Ok();
    }
    if (c == '&' || c == '|') {
      std::size_t start = pos_;
      while (pos_ < in_.size() && (in_[pos_] == '&' || in_[pos_] == '|')) ++pos_;
      auto text = in_.substr(start, pos_ - start);
      if (text == "&&") {
        tok_.kind = Token::Kind::kAnd;
      } else if (text == "||") {
        tok_.kind = Token::Kind::kOr;
      } else {
        return Error(start, "invalid join operator " + Quote(text) + " (expected && or ||)");
      }
      return util::Status::Ok();
    }
    ++pos_;
    switch (c) {
      case '(':
        tok_.kind = Token::Kind::kLParen;
        return util::Status::Ok();
      case ')':
        tok_.kind = Token::Kind::kRParen;
        return util::Status::Ok();
      case ',':
        tok_.kind = Token::Kind::kComma;
        return util::Status::Ok();
      case '/':
        return Error(tok_.begin, "invalid comment (comments start with //)");
      default:
        break;
    }
    if (static_cast<unsigned char>(c) >= 0x80 || static_cast<unsigned char>(c) < 0x20) {
      return Error(tok_.begin, "unexpected character");
    }
    return Error(tok_.begin, "unexpected character " + Quote(std::string_view(&c, 1)));
  }

  util::Status LexIdentifier() {
    std::size_t start = pos_++;
    while (pos_ < in_.size() && IsIdentifierChar(in_[pos_])) ++pos_;
    auto text = in_.substr(start, pos_ - start);
    char last = text.back();
    if (last == '.' || last == ':' || (text.size() == 1 && !IsLetter(text[0]))) {
      return Error(start, "invalid identifier " + Quote(text));
    }
    tok_.text = std::string(text);
    if (pos_ < in_.size() && in_[pos_] == '(') {
      ++pos_;
      tok_.kind = Token::Kind::kCall;
    } else {
      tok_.kind = Token::Kind::kIdentifier;
    }
    return util::Status::Ok();
  }

  util::Status LexNumber() {
    std::size_t start = pos_;
    bool dot = false;
    if (in_[pos_] == '-') ++pos_;
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (IsDigit(c)) {
        ++pos_;
      } else if (c == '.' && !dot) {
        dot = true;
        ++pos_;
      } else {
        break;
      }
    }
    auto text = in_.substr(start, pos_ - start);
    if (text == "-" || text.front() == '.' || text.back() == '.') {
      return Error(start, "invalid number " + Quote(text));
    }
    tok_.kind = Token::Kind::kNumber;
    tok_.text = std::string(text);
    return util::Status::Ok();
  }

  // fexpr's quoting: a quote preceded by a backslash does not end the text, and `\<quote>` is the
  // only escape (other backslashes stay as they are).
  util::Status LexText() {
    std::size_t start = pos_;
    char quote = in_[pos_++];
    std::string text;
    char prev = 0;
    for (;;) {
      if (pos_ >= in_.size()) return Error(start, "unterminated quoted text");
      char c = in_[pos_++];
      if (c == quote && prev != '\\') break;
      if (c == quote) {
        text.back() = quote;  // drop the escaping backslash
      } else {
        text += c;
      }
      prev = c;
    }
    tok_.kind = Token::Kind::kText;
    tok_.text = std::move(text);
    return util::Status::Ok();
  }

  // ---- grammar ----

  util::Result<Expr> ParseOr(std::size_t depth) {
    auto first = ParseAnd(depth);
    if (!first || tok_.kind != Token::Kind::kOr) return first;
    Expr out;
    out.kind = Expr::Kind::kOr;
    out.children.push_back(std::move(*first));
    while (tok_.kind == Token::Kind::kOr) {
      if (auto s = Advance(); !s.ok()) return std::unexpected(s);
      auto next = ParseAnd(depth);
      if (!next) return next;
      out.children.push_back(std::move(*next));
    }
    return out;
  }

  util::Result<Expr> ParseAnd(std::size_t depth) {
    auto first = ParsePrimary(depth);
    if (!first || tok_.kind != Token::Kind::kAnd) return first;
    Expr out;
    out.kind = Expr::Kind::kAnd;
    out.children.push_back(std::move(*first));
    while (tok_.kind == Token::Kind::kAnd) {
      if (auto s = Advance(); !s.ok()) return std::unexpected(s);
      auto next = ParsePrimary(depth);
      if (!next) return next;
      out.children.push_back(std::move(*next));
    }
    return out;
  }

  util::Result<Expr> ParsePrimary(std::size_t depth) {
    if (tok_.kind == Token::Kind::kLParen) {
      std::size_t open = tok_.begin;
      if (depth + 1 > kMaxNestingDepth) {
        return Fail(open, "too deeply nested parentheses (at most " + std::to_string(kMaxNestingDepth) + ")");
      }
      if (auto s = Advance(); !s.ok()) return std::unexpected(s);
      if (tok_.kind == Token::Kind::kRParen) return Fail(open, "empty parentheses");
      auto inner = ParseOr(depth + 1);
      if (!inner) return inner;
      if (tok_.kind != Token::Kind::kRParen) {
        if (tok_.kind == Token::Kind::kEof) return Fail(open, "missing closing parenthesis for this '('");
        return Fail(tok_.begin, "expected && or || or ')', got " + Describe(tok_));
      }
      if (auto s = Advance(); !s.ok()) return std::unexpected(s);
      return inner;
    }
    Expr out;
    out.kind = Expr::Kind::kComparison;
    if (++comparisons_ > kMaxExpressions) {
      return Fail(tok_.begin, "too many expressions (at most " + std::to_string(kMaxExpressions) + ")");
    }
    auto left = ParseOperand("left operand", 0);
    if (!left) return std::unexpected(left.error());
    out.comparison.left = std::move(*left);
    if (tok_.kind != Token::Kind::kSign) return Fail(tok_.begin, "expected an operator, got " + Describe(tok_));
    out.comparison.op = tok_.op;
    if (auto s = Advance(); !s.ok()) return std::unexpected(s);
    auto right = ParseOperand("right operand", 0);
    if (!right) return std::unexpected(right.error());
    out.comparison.right = std::move(*right);
    return out;
  }

  // Reads one operand at tok_ (an identifier, text, number or function call) and advances past it.
  util::Result<Operand> ParseOperand(std::string_view what, std::size_t function_depth) {
    Operand op;
    op.pos = static_cast<uint32_t>(CharPos(tok_.begin));
    switch (tok_.kind) {
      case Token::Kind::kIdentifier:
        op.text = std::move(tok_.text);
        if (util::EqualsIgnoreCase(op.text, "null")) {
          op.kind = Operand::Kind::kNull;
        } else if (util::EqualsIgnoreCase(op.text, "true")) {
          op.kind = Operand::Kind::kTrue;
        } else if (util::EqualsIgnoreCase(op.text, "false")) {
          op.kind = Operand::Kind::kFalse;
        } else if (IsMacro(op.text)) {
          op.kind = Operand::Kind::kMacro;
        } else {
          op.kind = Operand::Kind::kIdentifier;
        }
        break;
      case Token::Kind::kText:
        op.kind = Operand::Kind::kText;
        op.text = std::move(tok_.text);
        break;
      case Token::Kind::kNumber: {
        op.kind = Operand::Kind::kNumber;
        op.text = std::move(tok_.text);
        std::string_view digits = op.text;
        bool negative = !digits.empty() && digits.front() == '-';
        if (negative) digits.remove_prefix(1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), op.number);
        if (ec == std::errc::result_out_of_range) {
          // Underflow reads as zero; overflow is refused rather than bound as infinity.
          if (digits.find_first_of("123456789") < digits.find('.')) {
            return Fail(tok_.begin, "number out of range " + Quote(op.text));
          }
          op.number = 0;
        } else if (ec != std::errc() || end != digits.data() + digits.size()) {
          return Fail(tok_.begin, "invalid number " + Quote(op.text));
        }
        if (negative) op.number = -op.number;
        break;
      }
      case Token::Kind::kCall:
        return ParseCall(function_depth + 1);
      default:
        return Fail(tok_.begin,
                    "expected " + std::string(what) + " (identifier, text, number or function), got " + Describe(tok_));
    }
    if (auto s = Advance(); !s.ok()) return std::unexpected(s);
    return op;
  }

  util::Result<Operand> ParseCall(std::size_t depth) {
    Operand call;
    call.kind = Operand::Kind::kFunction;
    call.pos = static_cast<uint32_t>(CharPos(tok_.begin));
    std::size_t begin = tok_.begin;
    std::string name = std::move(tok_.text);
    if (name == "geoDistance") {
      call.function = Function::kGeoDistance;
    } else if (name == "strftime") {
      call.function = Function::kStrftime;
    } else {
      return Fail(begin, "unknown function " + Quote(name));
    }
    if (depth > kMaxFunctionDepth) {
      return Fail(begin, "too deeply nested function calls (at most " + std::to_string(kMaxFunctionDepth) + ")");
    }
    if (auto s = Advance(); !s.ok()) return std::unexpected(s);
    while (tok_.kind != Token::Kind::kRParen) {
      if (tok_.kind == Token::Kind::kEof) return Fail(begin, "missing ')' of function " + Quote(name));
      if (call.args.size() == kMaxFunctionArgs) {
        return Fail(tok_.begin, "too many function arguments (at most " + std::to_string(kMaxFunctionArgs) + ")");
      }
      auto arg = ParseOperand("function argument", depth);
      if (!arg) return arg;
      call.args.push_back(std::move(*arg));
      if (tok_.kind == Token::Kind::kComma) {
        if (auto s = Advance(); !s.ok()) return std::unexpected(s);
      } else if (tok_.kind != Token::Kind::kRParen) {
        return Fail(tok_.begin, "expected ',' or ')' in function " + Quote(name) + ", got " + Describe(tok_));
      }
    }
    if (auto s = CheckCall(call, begin); !s.ok()) return std::unexpected(s);
    if (auto s = Advance(); !s.ok()) return std::unexpected(s);
    return call;
  }

  // The argument rules of PocketBase's token functions.
  util::Status CheckCall(const Operand& call, std::size_t begin) {
    using K = Operand::Kind;
    auto is_identifier = [](const Operand& a) {
      return a.kind == K::kIdentifier || a.kind == K::kMacro || a.kind == K::kNull || a.kind == K::kTrue ||
             a.kind == K::kFalse;
    };
    const auto& args = call.args;
    auto arg_error = [&](std::size_t i, std::string_view message) {
      return util::Status::InvalidArgument("invalid filter at position " + std::to_string(args[i].pos) + ": " +
                                           std::string(message));
    };
    if (call.function == Function::kGeoDistance) {
      if (args.size() != 4) {
        return Error(begin,
                     "geoDistance expects 4 arguments (lonA, latA, lonB, latB), got " + std::to_string(args.size()));
      }
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (!is_identifier(args[i]) && args[i].kind != K::kNumber) {
          return arg_error(i, "geoDistance arguments must be identifiers or numbers");
        }
      }
      return util::Status::Ok();
    }
    if (args.empty()) return Error(begin, "strftime expects a format argument");
    if (args[0].kind != K::kText) return arg_error(0, "strftime's first argument must be a format text");
    if (args.size() > 1 && args[1].kind != K::kText && args[1].kind != K::kNumber && !is_identifier(args[1])) {
      return arg_error(1, "strftime's time-value must be a text, number or identifier");
    }
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i].kind != K::kText) return arg_error(i, "strftime modifiers must be texts");
    }
    return util::Status::Ok();
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  Token tok_;
  std::size_t comparisons_ = 0;
  std::size_t pos_cache_byte_ = 0;
  std::size_t pos_cache_chars_ = 0;
};

}  // namespace

util::Result<Expr> Parse(std::string_view filter) {
  if (filter.size() > kMaxFilterLength) {
    // Counted in bytes first (cheap); multi-byte text is measured in characters below.
    std::size_t chars = 0;
    for (unsigned char c : filter) chars += (c & 0xC0) != 0x80;
    if (chars > kMaxFilterLength) {
      return std::unexpected(util::Status::InvalidArgument("invalid filter: longer than " +
                                                           std::to_string(kMaxFilterLength) + " characters"));
    }
  }
  return Parser(filter).Run();
}

Traits TraitsOf(std::string_view filter) {
  if (filter.empty()) return {};
  auto expr = Parse(filter);
  if (!expr) return {.time = true, .headers = true, .auth = true};
  return TraitsOf(*expr);
}

}  // namespace strata::query
