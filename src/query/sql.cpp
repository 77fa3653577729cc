#include "query/sql.hpp"

#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <set>
#include <variant>

#include "query/datetime.hpp"
#include "query/parser.hpp"
#include "query/semantics.hpp"

namespace strata::query {

SqlFragment& SqlFragment::Append(std::string_view trusted_sql) {
  if (!pieces_.empty() && !pieces_.back().is_value) {
    pieces_.back().text += trusted_sql;
  } else {
    pieces_.push_back({false, std::string(trusted_sql), {}});
  }
  return *this;
}

SqlFragment& SqlFragment::Bind(util::SqlValue value) {
  pieces_.push_back({true, {}, std::move(value)});
  return *this;
}

SqlFragment& SqlFragment::Append(const SqlFragment& other) {
  for (const auto& p : other.pieces_) {
    if (p.is_value) {
      Bind(p.value);
    } else {
      Append(p.text);
    }
  }
  return *this;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

ResolvedField ResolvedField::Sql(SqlFragment sql, SqlType type, bool multi, NullFallback null_fallback) {
  ResolvedField f;
  f.kind = Kind::kSql;
  f.sql = std::move(sql);
  f.type = type;
  f.multi = multi;
  f.null_fallback = null_fallback;
  return f;
}

ResolvedField ResolvedField::Value(boost::json::value value, bool multi) {
  ResolvedField f;
  f.kind = Kind::kValue;
  f.value = std::move(value);
  f.multi = multi;
  return f;
}

namespace {

using internal::EqForm;
using internal::Shape;

// The builder's own fragment: text, bound values (with the PostgreSQL cast they need) and, inside
// the item expression of a multi-valued operand, references to "the current item".
struct Piece {
  enum class Kind : uint8_t { kText, kValue, kItem };
  Kind kind = Kind::kText;
  std::string text;      // kText; kValue: PostgreSQL cast override (e.g. "::jsonb")
  util::SqlValue value;  // kValue
};

class Frag {
 public:
  Frag() = default;
  explicit Frag(std::string_view text) { Add(text); }
  Frag& Add(std::string_view text) {
    if (text.empty()) return *this;
    if (!pieces_.empty() && pieces_.back().kind == Piece::Kind::kText) {
      pieces_.back().text += text;
    } else {
      pieces_.push_back({Piece::Kind::kText, std::string(text), {}});
    }
    return *this;
  }
  Frag& Add(const Frag& other) {
    for (const auto& p : other.pieces_) {
      if (p.kind == Piece::Kind::kText) {
        Add(p.text);
      } else {
        pieces_.push_back(p);
      }
    }
    return *this;
  }
  Frag& Value(util::SqlValue v, std::string pg_cast = {}) {
    pieces_.push_back({Piece::Kind::kValue, std::move(pg_cast), std::move(v)});
    return *this;
  }
  Frag& Item() {
    pieces_.push_back({Piece::Kind::kItem, {}, {}});
    return *this;
  }
  // A copy with each item reference replaced by `item`.
  Frag WithItem(const Frag& item) const {
    Frag out;
    for (const auto& p : pieces_) {
      if (p.kind == Piece::Kind::kItem) {
        out.Add(item);
      } else if (p.kind == Piece::Kind::kText) {
        out.Add(p.text);
      } else {
        out.pieces_.push_back(p);
      }
    }
    return out;
  }
  const std::vector<Piece>& pieces() const { return pieces_; }

 private:
  std::vector<Piece> pieces_;
};

Frag operator+(Frag a, const Frag& b) { return std::move(a.Add(b)); }
Frag operator+(Frag a, std::string_view b) { return std::move(a.Add(b)); }
Frag operator+(std::string_view a, const Frag& b) { return std::move(Frag(a).Add(b)); }

// An operand after resolution.
struct Built {
  Shape shape = Shape::kExpression;
  Frag expr;                    // kExpression: the SQL; when multi, the item expression (with kItem)
  std::optional<Frag> array;    // multi: the JSON array the items come from
  bool array_is_value = false;  // the array is a bound, already normalized JSON array
  SqlType type = SqlType::kAny;
  NullFallback nf = NullFallback::kAuto;
  util::SqlValue value;        // kValue, kEmptyValue, kBool
  std::string like_text;       // kValue, kEmptyValue: the value as PocketBase turns it into text
  bool empty_literal = false;  // a side PocketBase writes as '' (equality against an empty operand)

  bool multi() const { return array.has_value(); }

  // ResolvedField::rows_key and the rest: rows whose items ?-comparisons joined by && share.
  std::string rows_key;
  Frag rows;
  Frag row_item;
};

SqlType TypeOf(const util::SqlValue& v) {
  if (std::holds_alternative<std::string>(v)) return SqlType::kText;
  if (std::holds_alternative<bool>(v)) return SqlType::kBool;
  if (std::holds_alternative<std::monostate>(v)) return SqlType::kAny;
  return SqlType::kNumber;
}

Built ValueOperand(util::SqlValue v, std::string like_text) {
  Built b;
  b.type = TypeOf(v);
  if (std::holds_alternative<std::monostate>(v)) {
    b.shape = Shape::kNull;
    b.expr = Frag("NULL");
    return b;
  }
  if (std::holds_alternative<bool>(v)) {
    b.shape = Shape::kBool;
  } else if (auto* s = std::get_if<std::string>(&v); s && s->empty()) {
    b.shape = Shape::kEmptyValue;
  } else {
    b.shape = Shape::kValue;
  }
  b.value = std::move(v);
  b.like_text = std::move(like_text);
  return b;
}

// A JSON value as PocketBase binds it: scalars as they are, arrays and objects as JSON text.
Built JsonOperand(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return ValueOperand(std::monostate{}, {});
    case boost::json::kind::bool_:
      return ValueOperand(v.get_bool(), v.get_bool() ? "true" : "false");
    case boost::json::kind::int64:
      return ValueOperand(v.get_int64(), std::to_string(v.get_int64()));
    case boost::json::kind::uint64:
      if (v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return ValueOperand(static_cast<int64_t>(v.get_uint64()), std::to_string(v.get_uint64()));
      }
      return ValueOperand(static_cast<double>(v.get_uint64()), std::to_string(v.get_uint64()));
    case boost::json::kind::double_:
      return ValueOperand(v.get_double(), internal::GoFloatText(v.get_double()));
    case boost::json::kind::string: {
      std::string s(v.get_string());
      return ValueOperand(s, s);
    }
    default: {
      std::string s = boost::json::serialize(v);
      return ValueOperand(s, s);
    }
  }
}

std::string PgCast(const util::SqlValue& v) {
  if (std::holds_alternative<std::string>(v)) return "::text";
  if (std::holds_alternative<bool>(v)) return "::boolean";
  if (std::holds_alternative<int64_t>(v)) return "::int8";
  if (std::holds_alternative<double>(v)) return "::float8";
  return {};
}

class Builder {
 public:
  Builder(FieldResolver& resolver, const SqlOptions& options)
      : resolver_(resolver),
        options_(options),
        pg_(options.dialect == Dialect::kPostgres),
        now_(options.now.value_or(std::chrono::system_clock::now())) {}

  util::Result<Sql> Run(const Expr& expr) {
    auto frag = BuildExpr(expr);
    if (!frag) return std::unexpected(frag.error());
    return Finish(*frag);
  }

  util::Result<SqlFragment> RunFragment(const Expr& expr) {
    auto frag = BuildExpr(expr);
    if (!frag) return std::unexpected(frag.error());
    SqlFragment out;
    for (const auto& p : frag->pieces()) {
      if (p.kind == Piece::Kind::kText) {
        out.Append(p.text);
      } else if (p.kind == Piece::Kind::kValue) {
        out.Bind(p.value);
      }
    }
    return out;
  }

 private:
  util::Status PositionError(uint32_t pos, std::string_view message) const {
    return util::Status::InvalidArgument("invalid filter at position " + std::to_string(pos) + ": " +
                                         std::string(message));
  }

  util::Result<Frag> BuildExpr(const Expr& expr) {
    if (expr.kind == Expr::Kind::kComparison) return BuildComparison(expr.comparison);
    if (expr.kind == Expr::Kind::kAnd) return BuildAnd(expr);
    Frag out("(");
    const char* join = expr.kind == Expr::Kind::kAnd ? " AND " : " OR ";
    for (std::size_t i = 0; i < expr.children.size(); ++i) {
      if (i) out.Add(join);
      auto child = BuildExpr(expr.children[i]);
      if (!child) return child;
      out.Add(*child);
    }
    out.Add(")");
    return out;
  }

  // ---- operands ----

  util::Result<Built> BuildOperand(const Operand& op) {
    switch (op.kind) {
      case Operand::Kind::kNull:
        return ValueOperand(std::monostate{}, {});
      case Operand::Kind::kTrue:
        return ValueOperand(true, "true");
      case Operand::Kind::kFalse:
        return ValueOperand(false, "false");
      case Operand::Kind::kText:
        return ValueOperand(op.text, op.text);
      case Operand::Kind::kNumber:
        return ValueOperand(op.number, internal::GoFloatText(op.number));
      case Operand::Kind::kMacro: {
        auto m = internal::EvalMacro(op.text, now_);
        if (!m) return std::unexpected(PositionError(op.pos, "unknown macro " + op.text));
        if (m->is_text) return ValueOperand(m->text, m->text);
        return ValueOperand(m->number, std::to_string(m->number));
      }
      case Operand::Kind::kIdentifier:
        return BuildIdentifier(op);
      case Operand::Kind::kFunction:
        return op.function == Function::kGeoDistance ? BuildGeoDistance(op) : BuildStrftime(op);
    }
    return std::unexpected(util::Status::Internal("unknown operand kind"));
  }

  util::Result<Built> BuildIdentifier(const Operand& op) {
    auto resolved = resolver_.Resolve(op.text);
    if (!resolved) {
      if (resolved.error().code() == util::Status::Code::kInvalidArgument) {
        return std::unexpected(PositionError(op.pos, resolved.error().message()));
      }
      return std::unexpected(resolved.error());
    }
    auto& f = *resolved;
    if (f.kind == ResolvedField::Kind::kValue) {
      if (!f.multi) return JsonOperand(f.value);
      boost::json::array items;
      if (f.value.is_array()) {
        items = f.value.get_array();
      } else {
        items.push_back(f.value);
      }
      Built b;
      b.array = Frag().Value(boost::json::serialize(items), "::jsonb");
      b.array_is_value = true;
      b.expr = Frag().Item();
      b.type = pg_ ? SqlType::kText : SqlType::kAny;
      return b;
    }
    Frag sql = FromSql(f.sql);
    Built b;
    b.nf = f.null_fallback;
    b.type = f.type;
    if (!f.rows_key.empty()) {
      b.rows_key = f.rows_key;
      b.rows = FromSql(f.rows);
      b.row_item = FromSql(f.row_item);
    }
    if (!f.multi) {
      b.expr = std::move(sql);
      return b;
    }
    b.array = std::move(sql);
    b.expr = Frag().Item();
    if (pg_ && b.type == SqlType::kAny) b.type = SqlType::kText;
    return b;
  }

  static Frag FromSql(const SqlFragment& fragment) {
    Frag out;
    for (const auto& p : fragment.pieces()) {
      if (p.is_value) {
        out.Value(p.value);
      } else {
        out.Add(p.text);
      }
    }
    return out;
  }

  // Renders an operand that is not multi-valued (or an item) as SQL.
  Frag Render(const Built& b) const {
    if (b.empty_literal) return Frag("''");
    switch (b.shape) {
      case Shape::kNull:
        return Frag("NULL");
      case Shape::kExpression:
        return b.expr;
      default:
        return Frag().Value(b.value);
    }
  }

  // Arguments of functions: at most one may be multi-valued, and then so is the result.
  util::Status CollectMulti(const Operand& call, const std::vector<Built>& args, Built* result) const {
    for (const auto& a : args) {
      if (!a.multi()) continue;
      if (result->multi()) {
        return PositionError(call.pos,
                             std::string(FunctionName(call.function)) + " accepts at most one multi-valued argument");
      }
      result->array = a.array;
      result->array_is_value = a.array_is_value;
    }
    return util::Status::Ok();
  }

  // An argument as its (item) SQL, with the item placeholder kept for multi-valued ones.
  Frag ArgSql(const Built& a) const { return a.multi() ? a.expr : Render(a); }

  util::Result<Built> BuildGeoDistance(const Operand& call) {
    std::vector<Built> args;
    for (const auto& a : call.args) {
      auto b = BuildOperand(a);
      if (!b) return b;
      // SQLite's math functions read text as a number when it is one and as NULL otherwise; values
      // are converted here so PostgreSQL sees numbers too.
      if (b->shape != Shape::kExpression && b->shape != Shape::kNull) {
        if (auto* s = std::get_if<std::string>(&b->value)) {
          auto n = internal::SqliteNumeric(*s);
          if (!n) {
            b = ValueOperand(std::monostate{}, {});
          } else {
            b = ValueOperand(n->AsDouble(), {});
          }
        } else if (auto* t = std::get_if<bool>(&b->value)) {
          b = ValueOperand(*t ? 1.0 : 0.0, {});
        }
      }
      args.push_back(std::move(*b));
    }
    Built out;
    out.type = SqlType::kNumber;
    out.nf = NullFallback::kDisabled;
    if (auto s = CollectMulti(call, args, &out); !s.ok()) return std::unexpected(s);
    auto rad = [&](const Built& a) {
      Frag x = ArgSql(a);
      if (pg_ && a.type != SqlType::kNumber && a.shape == Shape::kExpression) {
        x = "CAST(" + x + " AS double precision)";
      }
      return "radians(" + x + ")";
    };
    const Built &lon_a = args[0], &lat_a = args[1], &lon_b = args[2], &lat_b = args[3];
    Frag cosine = "cos(" + rad(lat_a) + ") * cos(" + rad(lat_b) + ") * cos(" + rad(lon_b) + " - " + rad(lon_a) +
                  ") + sin(" + rad(lat_a) + ") * sin(" + rad(lat_b) + ")";
    // Rounding can put the cosine just outside [-1, 1] for equal points; clamp it (NULL stays NULL).
    Frag clamped = pg_ ? "CASE WHEN " + cosine + " > 1 THEN 1 WHEN " + cosine + " < -1 THEN -1 ELSE " + cosine + " END"
                       : "max(-1.0, min(1.0, " + cosine + "))";
    out.expr = "(6371 * acos(" + clamped + "))";
    return out;
  }

  util::Result<Built> BuildStrftime(const Operand& call) {
    std::vector<Built> args;
    for (const auto& a : call.args) {
      auto b = BuildOperand(a);
      if (!b) return b;
      args.push_back(std::move(*b));
    }
    Built out;
    out.type = SqlType::kText;
    out.nf = NullFallback::kEnforced;
    if (auto s = CollectMulti(call, args, &out); !s.ok()) return std::unexpected(s);
    if (!pg_) {
      Frag f("strftime(");
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (i) f.Add(", ");
        f.Add(ArgSql(args[i]));
      }
      f.Add(")");
      out.expr = std::move(f);
      return out;
    }
    auto ts = PgTimestamp(call, args);
    if (!ts) return std::unexpected(ts.error());
    auto formatted = PgStrftimeFormat(call.args[0].text, *ts);
    out.expr = std::move(formatted);
    return out;
  }

  // PostgreSQL: the timestamp (without time zone, in UTC) of strftime's time-value and modifiers.
  util::Result<Frag> PgTimestamp(const Operand& call, const std::vector<Built>& args) const {
    if (args.size() == 1) return Frag("(now() AT TIME ZONE 'UTC')");
    const Built& t = args[1];
    std::size_t first_modifier = 2;
    bool unix_epoch = args.size() > 2 && internal::ParseDateModifier(call.args[2].text) &&
                      internal::ParseDateModifier(call.args[2].text)->kind == internal::DateModifier::Kind::kUnixEpoch;
    Frag x = ArgSql(t);
    bool numeric = t.type == SqlType::kNumber;
    Frag ts;
    if (t.shape == Shape::kNull) {
      ts = Frag("CAST(NULL AS timestamp)");
    } else if (unix_epoch) {
      if (!numeric) return std::unexpected(PositionError(call.args[2].pos, "unixepoch needs a numeric time-value"));
      ts = "(to_timestamp(" + x + ") AT TIME ZONE 'UTC')";
      first_modifier = 3;
    } else if (numeric) {
      ts = "(to_timestamp((" + x + " - 2440587.5) * 86400.0) AT TIME ZONE 'UTC')";
    } else {
      Frag text = t.type == SqlType::kText ? x : "CAST(" + x + " AS text)";
      ts = "(CAST(NULLIF(" + text + ", '') AS timestamptz) AT TIME ZONE 'UTC')";
    }
    for (std::size_t i = first_modifier; i < args.size(); ++i) {
      auto mod = internal::ParseDateModifier(call.args[i].text);
      using K = internal::DateModifier::Kind;
      if (!mod || mod->kind == K::kUnixEpoch || mod->kind == K::kWeekday ||
          (mod->kind == K::kAdd && mod->unit >= 4 && mod->amount != std::trunc(mod->amount))) {
        return std::unexpected(PositionError(
            call.args[i].pos, "strftime modifier \"" + call.args[i].text + "\" is not supported for PostgreSQL"));
      }
      switch (mod->kind) {
        case K::kStartOfDay:
          ts = "date_trunc('day', " + ts + ")";
          break;
        case K::kStartOfMonth:
          ts = "date_trunc('month', " + ts + ")";
          break;
        case K::kStartOfYear:
          ts = "date_trunc('year', " + ts + ")";
          break;
        default: {
          std::string interval =
              internal::GoFloatText(mod->amount) + " " + std::string(internal::DateUnitName(mod->unit));
          ts = "(" + ts + " + CAST(" + Frag().Value(interval) + " AS interval))";
          break;
        }
      }
    }
    return ts;
  }

  // PostgreSQL: SQLite's strftime format as to_char pieces and bound literal text.
  Frag PgStrftimeFormat(std::string_view format, const Frag& ts) const {
    std::vector<Frag> parts;
    std::string literal;
    bool uses_time = false;
    auto flush = [&] {
      if (!literal.empty()) parts.push_back(Frag().Value(literal));
      literal.clear();
    };
    for (std::size_t i = 0; i < format.size(); ++i) {
      if (format[i] != '%') {
        literal += format[i];
        continue;
      }
      if (++i == format.size()) return Frag("CAST(NULL AS text)");
      const char* pattern = nullptr;
      Frag special;
      switch (format[i]) {
        case 'd':
          pattern = "DD";
          break;
        case 'f':
          pattern = "SS.MS";
          break;
        case 'H':
          pattern = "HH24";
          break;
        case 'j':
          pattern = "DDD";
          break;
        case 'm':
          pattern = "MM";
          break;
        case 'M':
          pattern = "MI";
          break;
        case 'S':
          pattern = "SS";
          break;
        case 'Y':
          pattern = "YYYY";
          break;
        case 'J':
          special = "CAST(EXTRACT(EPOCH FROM " + ts + ") / 86400.0 + 2440587.5 AS text)";
          break;
        case 's':
          special = "CAST(CAST(FLOOR(EXTRACT(EPOCH FROM " + ts + ")) AS bigint) AS text)";
          break;
        case 'w':
          special = "CAST(CAST(EXTRACT(DOW FROM " + ts + ") AS integer) AS text)";
          break;
        case 'W':
          special = "lpad(CAST((CAST(EXTRACT(DOY FROM " + ts + ") AS integer) + 6 - CAST(EXTRACT(ISODOW FROM " + ts +
                    ") AS integer) + 1) / 7 AS text), 2, '0')";
          break;
        case '%':
          literal += '%';
          continue;
        default:
          return Frag("CAST(NULL AS text)");  // SQLite: unknown specifier → NULL
      }
      flush();
      uses_time = true;
      parts.push_back(pattern ? "to_char(" + ts + ", '" + pattern + "')" : special);
    }
    flush();
    Frag out("(");
    if (!uses_time) {
      // Still NULL when the time is invalid, as in SQLite.
      out.Add("CASE WHEN ").Add(ts).Add(" IS NULL THEN NULL ELSE ");
      out.Add(parts.empty() ? Frag("''") : parts[0]).Add(" END)");
      return out;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i) out.Add(" || ");
      out.Add(parts[i]);
    }
    out.Add(")");
    return out;
  }

  // ---- comparisons ----

  // The resolver's index condition for a geoDistance(...) < km comparison, if it has one.
  std::optional<Frag> GeoPrefilter(const Comparison& c) {
    if (c.op != Op::kLt && c.op != Op::kLte) return std::nullopt;
    if (c.left.kind != Operand::Kind::kFunction || c.left.function != Function::kGeoDistance ||
        c.left.args.size() != 4 || c.right.kind != Operand::Kind::kNumber) {
      return std::nullopt;
    }
    const auto& a = c.left.args;
    auto is = [](const Operand& o, Operand::Kind k) { return o.kind == k; };
    using K = Operand::Kind;
    std::optional<SqlFragment> cond;
    if (is(a[0], K::kIdentifier) && is(a[1], K::kIdentifier) && is(a[2], K::kNumber) && is(a[3], K::kNumber)) {
      cond = resolver_.GeoWithin(a[0].text, a[1].text, a[2].number, a[3].number, c.right.number);
    } else if (is(a[2], K::kIdentifier) && is(a[3], K::kIdentifier) && is(a[0], K::kNumber) && is(a[1], K::kNumber)) {
      cond = resolver_.GeoWithin(a[2].text, a[3].text, a[0].number, a[1].number, c.right.number);
    }
    if (!cond) return std::nullopt;
    Frag out;
    for (const auto& p : cond->pieces()) {
      if (p.is_value) {
        out.Value(p.value);
      } else {
        out.Add(p.text);
      }
    }
    return out;
  }

  util::Result<Frag> BuildComparison(const Comparison& c) {
    if (auto prefilter = GeoPrefilter(c)) {
      auto exact = BuildPlainComparison(c);
      if (!exact) return exact;
      return "(" + *prefilter + " AND " + *exact + ")";
    }
    return BuildPlainComparison(c);
  }

  // `a && b && …`. Comparisons with a ?-operator between a field of the rows of another collection
  // (Built::rows_key) and an operand with one value must hold on one and the same of those rows
  // when several of them name the same rows: PocketBase joins such a collection once, so that
  // `@collection.members.team ?= team && @collection.members.user ?= @request.auth.id` asks for one
  // membership with both. Each such group becomes one EXISTS over the rows (a row of NULLs when
  // there are none, like the join); the other children are built as they are.
  util::Result<Frag> BuildAnd(const Expr& expr) {
    struct Prepared {
      Built left, right;
      std::string key;  // the shared rows, or empty
    };
    const auto n = expr.children.size();
    std::vector<std::optional<Prepared>> prepared(n);
    std::map<std::string, int> members;
    for (std::size_t i = 0; i < n; ++i) {
      const Expr& child = expr.children[i];
      if (child.kind != Expr::Kind::kComparison || !IsAnyOf(child.comparison.op)) continue;
      const Comparison& c = child.comparison;
      if (c.left.kind != Operand::Kind::kIdentifier && c.right.kind != Operand::Kind::kIdentifier) continue;
      auto l = BuildOperand(c.left);
      if (!l) return std::unexpected(l.error());
      auto r = BuildOperand(c.right);
      if (!r) return std::unexpected(r.error());
      Prepared p{std::move(*l), std::move(*r), {}};
      if (!p.left.rows_key.empty() && p.right.rows_key.empty() && !p.right.multi()) {
        p.key = p.left.rows_key;
      } else if (!p.right.rows_key.empty() && p.left.rows_key.empty() && !p.left.multi()) {
        p.key = p.right.rows_key;
      }
      if (!p.key.empty()) ++members[p.key];
      prepared[i] = std::move(p);
    }
    Frag out("(");
    std::set<std::string> done;
    bool first = true;
    for (std::size_t i = 0; i < n; ++i) {
      Frag part;
      const auto& p = prepared[i];
      if (p && !p->key.empty() && members[p->key] > 1) {
        if (!done.insert(p->key).second) continue;
        Frag rows;
        Frag conds;
        for (std::size_t j = i; j < n; ++j) {
          const auto& q = prepared[j];
          if (!q || q->key != p->key) continue;
          const bool left_rows = !q->left.rows_key.empty();
          const Built& field = left_rows ? q->left : q->right;
          Built item;
          item.expr = field.row_item;
          item.type = field.type;
          item.nf = field.nf;
          rows = field.rows;
          if (!conds.pieces().empty()) conds.Add(" AND ");
          const Op op = BaseOp(expr.children[j].comparison.op);
          conds.Add(left_rows ? Scalar(item, op, q->right) : Scalar(q->left, op, item));
        }
        part = "EXISTS (SELECT 1 FROM (SELECT 1) AS __d LEFT JOIN " + rows + " ON TRUE WHERE " + conds + ")";
      } else if (p) {
        part = CompareBuilt(expr.children[i].comparison, p->left, p->right);
      } else {
        auto child = BuildExpr(expr.children[i]);
        if (!child) return child;
        part = std::move(*child);
      }
      if (!first) out.Add(" AND ");
      first = false;
      out.Add(part);
    }
    out.Add(")");
    return out;
  }

  util::Result<Frag> BuildPlainComparison(const Comparison& c) {
    auto l = BuildOperand(c.left);
    if (!l) return std::unexpected(l.error());
    auto r = BuildOperand(c.right);
    if (!r) return std::unexpected(r.error());
    return CompareBuilt(c, *l, *r);
  }

  // `c` with its operands built.
  Frag CompareBuilt(const Comparison& c, const Built& left, const Built& right) {
    const Built* l = &left;
    const Built* r = &right;
    Op op = BaseOp(c.op);
    if (!l->multi() && !r->multi()) return Scalar(*l, op, *r);

    // Each multi-valued side contributes its items (one NULL item when it has none, like
    // PocketBase's LEFT JOIN), and the comparison is checked over all combinations.
    Frag from("(SELECT 1) AS __d");
    Built li = *l, ri = *r;
    auto join = [&](Built& side) {
      std::string alias = "__e" + std::to_string(++aliases_);
      from.Add(pg_ ? " LEFT JOIN LATERAL " : " LEFT JOIN ").Add(EachSql(side)).Add(" AS " + alias);
      from.Add(pg_ ? "(value) ON TRUE" : " ON TRUE");
      Frag item;
      if (!pg_) {
        item = Frag(alias + ".value");
      } else {
        item = Frag("(" + alias + ".value #>> '{}')");
        if (side.type == SqlType::kNumber) item = "CAST(" + item + " AS double precision)";
        if (side.type == SqlType::kBool) item = "CAST(" + item + " AS boolean)";
      }
      side.expr = side.expr.WithItem(item);
      side.array.reset();
      side.shape = Shape::kExpression;
    };
    if (li.multi()) join(li);
    if (ri.multi()) join(ri);
    Frag cond = Scalar(li, op, ri);
    Frag any = "EXISTS (SELECT 1 FROM " + from + " WHERE " + cond + ")";
    if (IsAnyOf(c.op)) return any;
    return "(" + any + " AND NOT EXISTS (SELECT 1 FROM " + from + " WHERE NOT (" + cond + ")))";
  }

  // The table function listing a multi-valued side's items; non-arrays count as one item.
  Frag EachSql(const Built& side) const {
    const Frag& x = *side.array;
    if (side.array_is_value) return (pg_ ? "jsonb_array_elements(" : "json_each(") + x + ")";
    if (pg_) {
      return "jsonb_array_elements(CASE WHEN jsonb_typeof(" + x + ") = 'array' THEN " + x + " ELSE jsonb_build_array(" +
             x + ") END)";
    }
    return "json_each(CASE WHEN iif(json_valid(" + x + "), json_type(" + x + ") = 'array', 0) THEN " + x +
           " ELSE json_array(" + x + ") END)";
  }

  Frag Scalar(Built l, Op op, Built r) {
    switch (op) {
      case Op::kEq:
      case Op::kNeq:
        return Equality(std::move(l), op == Op::kEq, std::move(r));
      case Op::kLike:
      case Op::kNotLike:
        return Like(l, op == Op::kLike, r);
      default:
        break;
    }
    const char* sign = op == Op::kLt ? " < " : op == Op::kLte ? " <= " : op == Op::kGt ? " > " : " >= ";
    if (pg_) Reconcile(l, r);
    return Render(l) + sign + Render(r);
  }

  Frag Equality(Built l, bool equal, Built r) {
    EqForm form = internal::PlanEquality(l.shape, l.nf, r.shape, r.nf);
    const char* eq = " = ";
    const char* ne = pg_ ? " IS DISTINCT FROM " : " IS NOT ";
    const char* op = equal ? eq : ne;
    switch (form) {
      case EqForm::kIs:
        if (pg_) Reconcile(l, r);
        return Render(l) + (equal ? (pg_ ? " IS NOT DISTINCT FROM " : " IS ") : ne) + Render(r);
      case EqForm::kBothEmpty:
        return Frag("''") + op + "''";
      case EqForm::kDirect:
        if (internal::IsEmptyOperand(l.shape, l.nf)) l = EmptyLiteral();
        if (internal::IsEmptyOperand(r.shape, r.nf)) r = EmptyLiteral();
        if (pg_) Reconcile(l, r);
        return Render(l) + op + Render(r);
      case EqForm::kLeftEmpty:
      case EqForm::kRightEmpty: {
        Built& x = form == EqForm::kLeftEmpty ? r : l;
        Frag xs = pg_ && x.type != SqlType::kText ? "CAST(" + Render(x) + " AS text)" : Render(x);
        Frag cmp = form == EqForm::kLeftEmpty ? "'' " + Frag(op + 1) + xs : xs + op + "''";
        if (equal) return "(" + cmp + " OR " + Render(x) + " IS NULL)";
        return "(" + cmp + " AND " + Render(x) + " IS NOT NULL)";
      }
      case EqForm::kCoalesce: {
        if (pg_ && l.type == r.type && (l.type == SqlType::kNumber || l.type == SqlType::kBool)) {
          return Render(l) + (equal ? " IS NOT DISTINCT FROM " : ne) + Render(r);
        }
        auto text = [&](const Built& b) {
          return pg_ && b.type != SqlType::kText ? "CAST(" + Render(b) + " AS text)" : Render(b);
        };
        return "COALESCE(" + text(l) + ", '')" + op + "COALESCE(" + text(r) + ", '')";
      }
    }
    return Frag("1=0");
  }

  static Built EmptyLiteral() {
    Built b = ValueOperand(std::string(), {});
    b.empty_literal = true;
    return b;
  }

  Frag Like(const Built& l, bool like, const Built& r) {
    Frag left = Render(l);
    if (pg_ && l.type != SqlType::kText) left = "CAST(" + left + " AS text)";
    const char* op = pg_ ? (like ? " ILIKE " : " NOT ILIKE ") : (like ? " LIKE " : " NOT LIKE ");
    if (internal::LikeBindsPattern(r.shape)) {
      std::string pattern = internal::WrapLikeValue(r.like_text);
      if (pg_ && internal::HasDanglingEscape(pattern)) {
        // SQLite never matches such a pattern; PostgreSQL would raise an error.
        return "(CASE WHEN " + left + " IS NULL THEN NULL ELSE " + (like ? "FALSE" : "TRUE") + " END)";
      }
      return left + op + Frag().Value(pattern) + " ESCAPE '\\'";
    }
    Frag right = Render(r);
    if (pg_ && r.type != SqlType::kText) right = "CAST(" + right + " AS text)";
    return left + op + "('%' || " + right + " || '%') ESCAPE '\\'";
  }

  // PostgreSQL: makes both sides of a comparison the same type, converting bound values the way
  // SQLite's affinity converts them and casting columns otherwise.
  void Reconcile(Built& l, Built& r) const {
    Coerce(l, r.shape == Shape::kExpression ? r.type : SqlType::kAny);
    Coerce(r, l.shape == Shape::kExpression ? l.type : SqlType::kAny);
    SqlType lt = TypeOfBuilt(l), rt = TypeOfBuilt(r);
    if (lt == rt || lt == SqlType::kAny || rt == SqlType::kAny) return;
    auto cast = [](Built& b, const char* type) {
      Frag e = "CAST(" + RenderStatic(b) + " AS " + type + ")";
      b.shape = Shape::kExpression;
      b.empty_literal = false;
      b.expr = std::move(e);
    };
    if (lt == SqlType::kText) {
      cast(r, "text");
      r.type = SqlType::kText;
    } else if (rt == SqlType::kText) {
      cast(l, "text");
      l.type = SqlType::kText;
    } else if (lt == SqlType::kBool) {
      cast(l, "integer");
      l.type = SqlType::kNumber;
    } else {
      cast(r, "integer");
      r.type = SqlType::kNumber;
    }
  }

  static Frag RenderStatic(const Built& b) {
    if (b.empty_literal) return Frag("''");
    if (b.shape == Shape::kNull) return Frag("NULL");
    if (b.shape == Shape::kExpression) return b.expr;
    return Frag().Value(b.value);
  }

  static SqlType TypeOfBuilt(const Built& b) {
    if (b.shape == Shape::kNull) return SqlType::kAny;
    if (b.shape == Shape::kExpression) return b.type;
    return TypeOf(b.value);
  }

  // Converts a bound value to `target` where SQLite's affinity would (number → text for a text
  // column, numeric text → number for a numeric one, booleans as 1/0).
  static void Coerce(Built& b, SqlType target) {
    if (b.shape == Shape::kExpression || b.shape == Shape::kNull || b.empty_literal || target == SqlType::kAny) return;
    SqlType have = TypeOf(b.value);
    if (have == target) return;
    if (target == SqlType::kText) {
      if (auto* d = std::get_if<double>(&b.value)) {
        b.value = internal::SqliteRealText(*d);
      } else if (auto* i = std::get_if<int64_t>(&b.value)) {
        b.value = std::to_string(*i);
      } else if (auto* t = std::get_if<bool>(&b.value)) {
        b.value = std::string(*t ? "1" : "0");
      }
    } else if (target == SqlType::kNumber || target == SqlType::kBool) {
      if (auto* s = std::get_if<std::string>(&b.value)) {
        if (auto n = internal::SqliteNumeric(*s)) {
          if (n->type == internal::Val::Type::kInt) {
            b.value = n->i;
          } else {
            b.value = n->r;
          }
        }
      } else if (auto* t = std::get_if<bool>(&b.value); t && target == SqlType::kNumber) {
        b.value = static_cast<int64_t>(*t ? 1 : 0);
      }
    }
    b.type = TypeOf(b.value);
  }

  // ---- output ----

  Sql Finish(const Frag& frag) const {
    Sql out;
    std::size_t next = options_.first_param;
    for (const auto& p : frag.pieces()) {
      switch (p.kind) {
        case Piece::Kind::kText:
          out.text += p.text;
          break;
        case Piece::Kind::kItem:
          break;  // never left after BuildComparison
        case Piece::Kind::kValue:
          if (pg_) {
            out.text += '$';
            out.text += std::to_string(next++);
            out.text += p.text.empty() ? PgCast(p.value) : p.text;
          } else {
            out.text += '?';
          }
          out.params.push_back(p.value);
          break;
      }
    }
    return out;
  }

  FieldResolver& resolver_;
  const SqlOptions& options_;
  bool pg_;
  std::chrono::system_clock::time_point now_;
  std::size_t aliases_ = 0;
};

}  // namespace

std::optional<GeoBox> GeoBoundingBox(double lon, double lat, double km) {
  constexpr double kEarthKm = 6371;  // as geoDistance
  constexpr double kDeg = 180 / std::numbers::pi;
  if (!std::isfinite(lon) || !std::isfinite(lat) || !std::isfinite(km) || km < 0 || std::abs(lat) > 90) {
    return std::nullopt;
  }
  // A hair wider than exact, so that rounding never drops a point on the edge.
  const double angle = km / kEarthKm * (1 + 1e-9) + 1e-12;
  const double min_lat = lat - angle * kDeg, max_lat = lat + angle * kDeg;
  if (min_lat <= -90 || max_lat >= 90) return std::nullopt;
  const double ratio = std::sin(angle) / std::cos(lat / kDeg);
  if (ratio >= 1) return std::nullopt;
  const double dlon = std::asin(ratio) * kDeg;
  if (lon - dlon < -180 || lon + dlon > 180) return std::nullopt;
  return GeoBox{lon - dlon, lon + dlon, min_lat, max_lat};
}

util::Result<Sql> BuildSql(const Expr& expr, FieldResolver& resolver, const SqlOptions& options) {
  return Builder(resolver, options).Run(expr);
}

util::Result<Sql> BuildSql(std::string_view filter, FieldResolver& resolver, const SqlOptions& options) {
  auto expr = Parse(filter);
  if (!expr) return std::unexpected(expr.error());
  return BuildSql(*expr, resolver, options);
}

util::Result<SqlFragment> BuildSqlFragment(std::string_view filter, FieldResolver& resolver) {
  auto expr = Parse(filter);
  if (!expr) return std::unexpected(expr.error());
  const SqlOptions options;
  return Builder(resolver, options).RunFragment(*expr);
}

}  // namespace strata::query
