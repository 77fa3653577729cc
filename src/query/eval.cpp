#include "query/eval.hpp"

#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "query/datetime.hpp"
#include "query/semantics.hpp"

namespace strata::query {
namespace {

using internal::Affinity;
using internal::EqForm;
using internal::Shape;
using internal::Tri;
using internal::Val;

Tri And(Tri a, Tri b) {
  if (a == Tri::kFalse || b == Tri::kFalse) return Tri::kFalse;
  if (a == Tri::kNull || b == Tri::kNull) return Tri::kNull;
  return Tri::kTrue;
}

Tri Or(Tri a, Tri b) {
  if (a == Tri::kTrue || b == Tri::kTrue) return Tri::kTrue;
  if (a == Tri::kNull || b == Tri::kNull) return Tri::kNull;
  return Tri::kFalse;
}

// One side of a comparison: a single value (or, when multi, its items).
struct Side {
  Shape shape = Shape::kExpression;
  NullFallback nf = NullFallback::kAuto;
  Val value;
  std::string like_text;  // kValue, kEmptyValue
  bool multi = false;
  std::vector<Val> items;  // multi: never empty (no items → one NULL)
};

bool FitsInt64(double d) { return d >= -9223372036854775808.0 && d < 9223372036854775808.0; }

// A JSON value as SQLite holds it: booleans as 0/1, arrays and objects as JSON text.
Val FromJson(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return Val::Null();
    case boost::json::kind::bool_:
      return Val::Int(v.get_bool() ? 1 : 0);
    case boost::json::kind::int64:
      return Val::Int(v.get_int64());
    case boost::json::kind::uint64:
      if (v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Val::Int(static_cast<int64_t>(v.get_uint64()));
      }
      return Val::Real(static_cast<double>(v.get_uint64()));
    case boost::json::kind::double_:
      return Val::Real(v.get_double());
    case boost::json::kind::string:
      return Val::Text(std::string(v.get_string()));
    default:
      return Val::Text(boost::json::serialize(v));
  }
}

// A value read from a column, with the column's affinity applied as when it was stored.
Val FromColumn(const boost::json::value& v) {
  Val x = FromJson(v);
  if (v.is_string()) {
    x.affinity = Affinity::kText;
    return x;
  }
  if (x.type == Val::Type::kReal && x.r == std::trunc(x.r) && FitsInt64(x.r)) x = Val::Int(static_cast<int64_t>(x.r));
  if (!x.is_null()) x.affinity = Affinity::kNumeric;
  return x;
}

std::string LikeText(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case boost::json::kind::int64:
      return std::to_string(v.get_int64());
    case boost::json::kind::uint64:
      return std::to_string(v.get_uint64());
    case boost::json::kind::double_:
      return internal::GoFloatText(v.get_double());
    case boost::json::kind::string:
      return std::string(v.get_string());
    case boost::json::kind::null:
      return {};
    default:
      return boost::json::serialize(v);
  }
}

Side ValueSide(Val v, std::string like_text, bool is_bool = false) {
  Side s;
  s.shape = v.is_null()                                   ? Shape::kNull
            : is_bool                                     ? Shape::kBool
            : (v.type == Val::Type::kText && v.s.empty()) ? Shape::kEmptyValue
                                                          : Shape::kValue;
  s.value = std::move(v);
  s.like_text = std::move(like_text);
  return s;
}

class Evaluator {
 public:
  Evaluator(ValueResolver& resolver, const EvalOptions& options)
      : resolver_(resolver), now_(options.now.value_or(std::chrono::system_clock::now())) {}

  util::Result<Tri> Eval(const Expr& expr) {
    if (expr.kind == Expr::Kind::kComparison) return Compare(expr.comparison);
    bool is_and = expr.kind == Expr::Kind::kAnd;
    Tri acc = is_and ? Tri::kTrue : Tri::kFalse;
    for (const auto& child : expr.children) {
      auto t = Eval(child);
      if (!t) return t;
      acc = is_and ? And(acc, *t) : Or(acc, *t);
    }
    return acc;
  }

 private:
  util::Status PositionError(uint32_t pos, std::string_view message) const {
    return util::Status::InvalidArgument("invalid filter at position " + std::to_string(pos) + ": " +
                                         std::string(message));
  }

  util::Result<Side> Operand(const query::Operand& op) {
    switch (op.kind) {
      case Operand::Kind::kNull:
        return ValueSide(Val::Null(), {});
      case Operand::Kind::kTrue:
        return ValueSide(Val::Int(1), "true", true);
      case Operand::Kind::kFalse:
        return ValueSide(Val::Int(0), "false", true);
      case Operand::Kind::kText:
        return ValueSide(Val::Text(op.text), op.text);
      case Operand::Kind::kNumber:
        return ValueSide(Val::Real(op.number), internal::GoFloatText(op.number));
      case Operand::Kind::kMacro: {
        auto m = internal::EvalMacro(op.text, now_);
        if (!m) return std::unexpected(PositionError(op.pos, "unknown macro " + op.text));
        if (m->is_text) return ValueSide(Val::Text(m->text), m->text);
        return ValueSide(Val::Int(m->number), std::to_string(m->number));
      }
      case Operand::Kind::kIdentifier:
        return Identifier(op);
      case Operand::Kind::kFunction:
        return Function(op);
    }
    return std::unexpected(util::Status::Internal("unknown operand kind"));
  }

  util::Result<Side> Identifier(const query::Operand& op) {
    auto resolved = resolver_.Resolve(op.text);
    if (!resolved) {
      if (resolved.error().code() == util::Status::Code::kInvalidArgument) {
        return std::unexpected(PositionError(op.pos, resolved.error().message()));
      }
      return std::unexpected(resolved.error());
    }
    const auto& r = *resolved;
    if (r.multi) {
      Side s;
      s.multi = true;
      s.nf = r.source == ValueSource::kParameter ? NullFallback::kAuto : r.null_fallback;
      if (r.value.is_array()) {
        for (const auto& item : r.value.get_array()) s.items.push_back(FromJson(item));
      } else {
        s.items.push_back(FromJson(r.value));
      }
      if (s.items.empty()) s.items.push_back(Val::Null());
      return s;
    }
    if (r.source == ValueSource::kParameter) {
      return ValueSide(FromJson(r.value), LikeText(r.value), r.value.is_bool());
    }
    Side s;
    s.nf = r.null_fallback;
    s.value = r.source == ValueSource::kColumn ? FromColumn(r.value) : FromJson(r.value);
    return s;
  }

  util::Result<Side> Function(const query::Operand& call) {
    std::vector<Side> args;
    int multi_arg = -1;
    for (std::size_t i = 0; i < call.args.size(); ++i) {
      auto a = Operand(call.args[i]);
      if (!a) return a;
      if (a->multi) {
        if (multi_arg >= 0) {
          return std::unexpected(PositionError(
              call.pos, std::string(FunctionName(call.function)) + " accepts at most one multi-valued argument"));
        }
        multi_arg = static_cast<int>(i);
      }
      args.push_back(std::move(*a));
    }
    Side out;
    out.nf = call.function == Function::kGeoDistance ? NullFallback::kDisabled : NullFallback::kEnforced;
    std::vector<Val> values;
    for (const auto& a : args) values.push_back(a.multi ? Val::Null() : a.value);
    if (multi_arg < 0) {
      auto v = Call(call, values);
      if (!v) return std::unexpected(v.error());
      out.value = std::move(*v);
      return out;
    }
    out.multi = true;
    for (const auto& item : args[multi_arg].items) {
      values[multi_arg] = item;
      auto v = Call(call, values);
      if (!v) return std::unexpected(v.error());
      out.items.push_back(std::move(*v));
    }
    return out;
  }

  util::Result<Val> Call(const query::Operand& call, const std::vector<Val>& args) {
    if (call.function == Function::kGeoDistance) {
      // SQLite's math functions: numbers as they are, numeric text as its number, anything else NULL.
      double x[4];
      for (int i = 0; i < 4; ++i) {
        Val a = args[i];
        if (a.type == Val::Type::kText) {
          auto n = internal::SqliteNumeric(a.s);
          if (!n) return Val::Null();
          a = *n;
        }
        if (!a.is_number()) return Val::Null();
        x[i] = a.AsDouble();
      }
      auto rad = [](double d) { return d * (std::numbers::pi / 180.0); };
      double lon_a = rad(x[0]), lat_a = rad(x[1]), lon_b = rad(x[2]), lat_b = rad(x[3]);
      double cosine = std::cos(lat_a) * std::cos(lat_b) * std::cos(lon_b - lon_a) + std::sin(lat_a) * std::sin(lat_b);
      if (std::isnan(cosine)) return Val::Null();
      cosine = std::max(-1.0, std::min(1.0, cosine));
      return Val::Real(6371 * std::acos(cosine));
    }
    std::vector<std::string> modifiers;
    for (std::size_t i = 2; i < call.args.size(); ++i) modifiers.push_back(call.args[i].text);
    const Val* time = args.size() > 1 ? &args[1] : nullptr;
    auto r = internal::Strftime(call.args[0].text, time, modifiers, now_);
    if (!r) return std::unexpected(PositionError(call.pos, r.error().message()));
    if (!*r) return Val::Null();
    return Val::Text(std::move(**r));
  }

  util::Result<Tri> Compare(const Comparison& c) {
    auto l = Operand(c.left);
    if (!l) return std::unexpected(l.error());
    auto r = Operand(c.right);
    if (!r) return std::unexpected(r.error());
    Op op = BaseOp(c.op);
    if (!l->multi && !r->multi) return Scalar(*l, op, *r);
    auto rows = [](const Side& s) {
      std::vector<Side> out;
      if (!s.multi) {
        out.push_back(s);
        return out;
      }
      for (const auto& item : s.items) {
        Side x;
        x.nf = s.nf;
        x.value = item;
        out.push_back(std::move(x));
      }
      return out;
    };
    auto lrows = rows(*l), rrows = rows(*r);
    bool any_true = false, any_false = false;
    for (const auto& a : lrows) {
      for (const auto& b : rrows) {
        Tri t = Scalar(a, op, b);
        any_true |= t == Tri::kTrue;
        any_false |= t == Tri::kFalse;
      }
    }
    if (IsAnyOf(c.op)) return internal::FromBool(any_true);
    return internal::FromBool(any_true && !any_false);
  }

  static Tri Equal(const Val& a, const Val& b) {
    auto c = internal::SqliteCompare(a, b);
    if (!c) return Tri::kNull;
    return internal::FromBool(*c == 0);
  }

  static Tri Scalar(const Side& l, Op op, const Side& r) {
    switch (op) {
      case Op::kEq:
      case Op::kNeq:
        return Equality(l, op == Op::kEq, r);
      case Op::kLike:
      case Op::kNotLike: {
        auto text = internal::SqliteText(l.value);
        std::string pattern;
        if (internal::LikeBindsPattern(r.shape)) {
          pattern = internal::WrapLikeValue(r.like_text);
        } else {
          auto rt = internal::SqliteText(r.value);
          if (!rt) return Tri::kNull;
          pattern = "%" + *rt + "%";
        }
        if (!text) return Tri::kNull;
        bool match = internal::SqliteLike(*text, pattern);
        return internal::FromBool(op == Op::kLike ? match : !match);
      }
      default:
        break;
    }
    auto c = internal::SqliteCompare(l.value, r.value);
    if (!c) return Tri::kNull;
    switch (op) {
      case Op::kLt:
        return internal::FromBool(*c < 0);
      case Op::kLte:
        return internal::FromBool(*c <= 0);
      case Op::kGt:
        return internal::FromBool(*c > 0);
      default:
        return internal::FromBool(*c >= 0);
    }
  }

  static Tri Equality(const Side& l, bool equal, const Side& r) {
    const Val empty = Val::Text("");
    auto is = [&](const Val& a, const Val& b) { return internal::FromBool(internal::SqliteIs(a, b)); };
    switch (internal::PlanEquality(l.shape, l.nf, r.shape, r.nf)) {
      case EqForm::kIs:
        return equal ? is(l.value, r.value) : internal::Not(is(l.value, r.value));
      case EqForm::kBothEmpty:
        return internal::FromBool(equal);
      case EqForm::kDirect: {
        const Val& a = internal::IsEmptyOperand(l.shape, l.nf) ? empty : l.value;
        const Val& b = internal::IsEmptyOperand(r.shape, r.nf) ? empty : r.value;
        return equal ? Equal(a, b) : internal::Not(is(a, b));
      }
      case EqForm::kLeftEmpty:
      case EqForm::kRightEmpty: {
        const Val& x = internal::PlanEquality(l.shape, l.nf, r.shape, r.nf) == EqForm::kLeftEmpty ? r.value : l.value;
        Tri null = internal::FromBool(x.is_null());
        if (equal) return Or(Equal(empty, x), null);
        return And(internal::Not(is(empty, x)), internal::Not(null));
      }
      case EqForm::kCoalesce: {
        Val a = l.value.is_null() ? empty : l.value;
        Val b = r.value.is_null() ? empty : r.value;
        a.affinity = b.affinity = Affinity::kNone;  // COALESCE's result has no affinity
        return equal ? Equal(a, b) : internal::Not(is(a, b));
      }
    }
    return Tri::kNull;
  }

  ValueResolver& resolver_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace

util::Result<bool> Evaluate(const Expr& expr, ValueResolver& resolver, const EvalOptions& options) {
  auto t = Evaluator(resolver, options).Eval(expr);
  if (!t) return std::unexpected(t.error());
  return *t == Tri::kTrue;
}

}  // namespace strata::query
