// libFuzzer target for the filter language: every input is parsed; whatever parses is printed and
// re-parsed (the canonical form must round-trip), built into SQL for both dialects with a
// permissive resolver, and evaluated with a permissive value resolver. Nothing may crash, hang,
// leak or trip a sanitizer.
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "query/eval.hpp"
#include "query/parser.hpp"
#include "query/sql.hpp"

namespace {

using namespace strata::query;

// Identifiers resolve by their shape: `x:each` is a multi-valued column, `@request.*` a bound
// value, anything else a column.
class FuzzFieldResolver final : public FieldResolver {
 public:
  strata::util::Result<ResolvedField> Resolve(std::string_view identifier) override {
    if (identifier.starts_with("@request.")) {
      if (identifier.ends_with(":each")) return ResolvedField::Value(boost::json::parse(R"(["a",1,null])"), true);
      if (identifier.size() % 3 == 0) return ResolvedField::Value(nullptr);
      return ResolvedField::Value(boost::json::string(identifier.substr(9)));
    }
    auto [name, modifier] = SplitModifier(identifier);
    auto type = static_cast<SqlType>(identifier.size() % 4);
    return ResolvedField::Sql(SqlFragment(QuoteIdentifier(name)), type, modifier == "each",
                              static_cast<NullFallback>(identifier.size() % 3));
  }
};

class FuzzValueResolver final : public ValueResolver {
 public:
  strata::util::Result<ResolvedValue> Resolve(std::string_view identifier) override {
    ResolvedValue v;
    if (identifier.ends_with(":each")) {
      v.value = boost::json::parse(R"(["a","B",1,2.5,null,true,[1],{"k":"v"},""])");
      v.multi = true;
      return v;
    }
    if (identifier.starts_with("@request.")) v.source = ValueSource::kParameter;
    switch (identifier.size() % 6) {
      case 0:
        v.value = nullptr;
        break;
      case 1:
        v.value = "Hello %_\\ World";
        break;
      case 2:
        v.value = 42;
        break;
      case 3:
        v.value = -0.5;
        break;
      case 4:
        v.value = true;
        break;
      default:
        v.value = "2024-03-05 10:11:12.345Z";
        break;
    }
    v.null_fallback = static_cast<NullFallback>(identifier.size() % 3);
    return v;
  }
};

bool HasTextEndingInBackslash(const Operand& op) {
  if (op.kind == Operand::Kind::kText && !op.text.empty() && op.text.back() == '\\') return true;
  for (const auto& a : op.args) {
    if (HasTextEndingInBackslash(a)) return true;
  }
  return false;
}

bool HasTextEndingInBackslash(const Expr& e) {
  if (e.kind == Expr::Kind::kComparison) {
    return HasTextEndingInBackslash(e.comparison.left) || HasTextEndingInBackslash(e.comparison.right);
  }
  for (const auto& c : e.children) {
    if (HasTextEndingInBackslash(c)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto expr = Parse(input);
  if (!expr) {
    if (expr.error().code() != strata::util::Status::Code::kInvalidArgument) std::abort();
    return 0;
  }
  // fexpr cannot quote a text that ends in a backslash; everything else must round-trip, unless the
  // canonical form (with its added spaces and parentheses) no longer fits the length or nesting limits.
  if (!HasTextEndingInBackslash(*expr)) {
    std::string canonical = ToString(*expr);
    auto again = Parse(canonical);
    if (!again) {
      const auto& message = again.error().message();
      bool over_limit = message.find("longer than") != std::string::npos ||
                        message.find("too deeply nested parentheses") != std::string::npos;
      if (!over_limit) std::abort();
    } else if (ToString(*again) != canonical) {
      std::abort();
    }
  }
  FuzzFieldResolver fields;
  for (Dialect dialect : {Dialect::kSqlite, Dialect::kPostgres}) {
    SqlOptions options;
    options.dialect = dialect;
    auto sql = BuildSql(*expr, fields, options);
    if (sql) {
      // Every placeholder has its value; nothing else binds.
      std::size_t placeholders = 0;
      for (char c : sql->text) placeholders += dialect == Dialect::kSqlite ? c == '?' : c == '$';
      if (placeholders != sql->params.size()) std::abort();
    }
  }
  FuzzValueResolver values;
  (void)Evaluate(*expr, values);
  return 0;
}
