#include "query/ast.hpp"

#include "util/text.hpp"

namespace strata::query {

std::string_view OpText(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNeq:
      return "!=";
    case Op::kLike:
      return "~";
    case Op::kNotLike:
      return "!~";
    case Op::kLt:
      return "<";
    case Op::kLte:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGte:
      return ">=";
    case Op::kAnyEq:
      return "?=";
    case Op::kAnyNeq:
      return "?!=";
    case Op::kAnyLike:
      return "?~";
    case Op::kAnyNotLike:
      return "?!~";
    case Op::kAnyLt:
      return "?<";
    case Op::kAnyLte:
      return "?<=";
    case Op::kAnyGt:
      return "?>";
    case Op::kAnyGte:
      return "?>=";
  }
  return "?";
}

bool IsAnyOf(Op op) { return static_cast<uint8_t>(op) >= static_cast<uint8_t>(Op::kAnyEq); }

Op BaseOp(Op op) {
  if (!IsAnyOf(op)) return op;
  return static_cast<Op>(static_cast<uint8_t>(op) - static_cast<uint8_t>(Op::kAnyEq));
}

std::string_view FunctionName(Function f) {
  switch (f) {
    case Function::kGeoDistance:
      return "geoDistance";
    case Function::kStrftime:
      return "strftime";
  }
  return "";
}

std::pair<std::string_view, std::string_view> SplitModifier(std::string_view identifier) {
  auto colon = identifier.rfind(':');
  if (colon == std::string_view::npos) return {identifier, {}};
  auto modifier = identifier.substr(colon + 1);
  if (modifier.find('.') != std::string_view::npos) return {identifier, {}};
  return {identifier.substr(0, colon), modifier};
}

std::string ToString(const Operand& operand) {
  switch (operand.kind) {
    case Operand::Kind::kIdentifier:
    case Operand::Kind::kMacro:
    case Operand::Kind::kNumber:
      return operand.text;
    case Operand::Kind::kNull:
      return "null";
    case Operand::Kind::kTrue:
      return "true";
    case Operand::Kind::kFalse:
      return "false";
    case Operand::Kind::kText: {
      // Only the quote itself can be escaped in fexpr; pick the quote that needs fewer escapes.
      std::size_t singles = 0, doubles = 0;
      for (char c : operand.text) {
        singles += c == '\'';
        doubles += c == '"';
      }
      char quote = singles <= doubles ? '\'' : '"';
      std::string out(1, quote);
      for (char c : operand.text) {
        if (c == quote) out += '\\';
        out += c;
      }
      out += quote;
      return out;
    }
    case Operand::Kind::kFunction: {
      std::string out(FunctionName(operand.function));
      out += '(';
      for (std::size_t i = 0; i < operand.args.size(); ++i) {
        if (i) out += ", ";
        out += ToString(operand.args[i]);
      }
      out += ')';
      return out;
    }
  }
  return {};
}

namespace {

void AddTraits(const Operand& op, Traits& t) {
  switch (op.kind) {
    case Operand::Kind::kMacro:
      t.time = true;
      return;
    case Operand::Kind::kIdentifier:
      t.headers = t.headers || op.text.starts_with("@request.headers.");
      t.auth = t.auth || op.text.starts_with("@request.auth.");
      return;
    case Operand::Kind::kFunction:
      if (op.function == Function::kStrftime) {
        // strftime(format) formats the current time, as does any time value written as 'now'.
        if (op.args.size() < 2) t.time = true;
        for (const auto& a : op.args) {
          if (a.kind != Operand::Kind::kText) continue;
          if (util::Lower(a.text).find("now") != std::string::npos) t.time = true;
        }
      }
      for (const auto& a : op.args) AddTraits(a, t);
      return;
    default:
      return;
  }
}

void AddTraits(const Expr& expr, Traits& t) {
  if (expr.kind == Expr::Kind::kComparison) {
    AddTraits(expr.comparison.left, t);
    AddTraits(expr.comparison.right, t);
    return;
  }
  for (const auto& child : expr.children) AddTraits(child, t);
}

}  // namespace

Traits TraitsOf(const Expr& expr) {
  Traits t;
  AddTraits(expr, t);
  return t;
}

std::string ToString(const Expr& expr) {
  if (expr.kind == Expr::Kind::kComparison) {
    const auto& c = expr.comparison;
    std::string out = ToString(c.left);
    out += ' ';
    out += OpText(c.op);
    out += ' ';
    out += ToString(c.right);
    return out;
  }
  std::string out = "(";
  const char* join = expr.kind == Expr::Kind::kAnd ? " && " : " || ";
  for (std::size_t i = 0; i < expr.children.size(); ++i) {
    if (i) out += join;
    out += ToString(expr.children[i]);
  }
  out += ')';
  return out;
}

}  // namespace strata::query
