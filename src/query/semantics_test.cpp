#include "query/semantics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "query/datetime.hpp"

namespace strata::query::internal {
namespace {

// PocketBase's TestLikeParamsWrapping table.
TEST(SemanticsTest, WrapLikeValueAsPocketBase) {
  const std::pair<std::string, std::string> cases[] = {
      {R"(abc)", R"(%abc%)"},     {R"(ab%c)", R"(ab%c)"},          {R"(ab\%c)", R"(%ab\%c%)"},
      {R"(%ab\%c)", R"(%ab\%c)"}, {R"(ab\\%c)", R"(ab\\%c)"},      {R"(ab\\\%c)", R"(%ab\\\%c%)"},
      {R"(ab_c)", R"(%ab\_c%)"},  {R"(ab\_c)", R"(%ab\_c%)"},      {R"(%ab_c)", R"(%ab_c)"},
      {R"(ab\c)", R"(%ab\\c%)"},  {R"(_ab\c_)", R"(%\_ab\\c\_%)"}, {R"(ab\c%)", R"(ab\c%)"},
      {"a\nb\\", "%a\nb\\\\%"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(WrapLikeValue(in), out) << in;
}

TEST(SemanticsTest, SqliteLike) {
  struct Case {
    const char* text;
    const char* pattern;
    bool match;
  };
  const Case cases[] = {
      {"Hello", "hello", true},
      {"Hello", "%ELL%", true},
      {"Hello", "h_llo", true},
      {"Hello", "h_lo", false},
      {"Hello", "%", true},
      {"", "%", true},
      {"", "_", false},
      {"abc", "a%c", true},
      {"abc", "a%b", false},
      {"a%c", "a\\%c", true},
      {"abc", "a\\%c", false},
      {"a_c", "a\\_c", true},
      {"abc", "a\\_c", false},
      {"a\\c", "a\\\\c", true},
      {"abc", "a\\bc", true},
      {"ab\\", "ab\\", false},
      {"Über", "über", false},
      {"über", "_ber", true},
      {"日本語", "%本%", true},
      {"日本語", "日_語", true},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaab", "%a%a%a%a%a%b", true},
      {"mississippi", "%sip%", true},
      {"mississippi", "%iss%ip_", false},
      {"mississippi", "%iss%pi", true},
      {"x", "%%%%x%%%%", true},
  };
  for (const auto& c : cases) EXPECT_EQ(SqliteLike(c.text, c.pattern), c.match) << c.text << " LIKE " << c.pattern;
  EXPECT_TRUE(HasDanglingEscape("ab\\"));
  EXPECT_FALSE(HasDanglingEscape("ab\\\\"));
  EXPECT_TRUE(HasDanglingEscape("ab\\\\\\"));
}

TEST(SemanticsTest, LikeStaysLinearOnHostileInput) {
  std::string text(200000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "%a";
  pattern += "%b";
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(SqliteLike(text, pattern));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(SemanticsTest, NumberText) {
  // As `SELECT CAST(x AS TEXT)` prints them in SQLite.
  EXPECT_EQ(SqliteRealText(0.1), "0.1");
  EXPECT_EQ(SqliteRealText(1e20), "1.0e+20");
  EXPECT_EQ(SqliteRealText(5.0), "5.0");
  EXPECT_EQ(SqliteRealText(123456789.123), "123456789.123");
  EXPECT_EQ(SqliteRealText(1.5e-7), "1.5e-07");
  EXPECT_EQ(SqliteRealText(-2.0), "-2.0");
  // As Go's strconv.FormatFloat(v, 'f', -1, 64).
  EXPECT_EQ(GoFloatText(1), "1");
  EXPECT_EQ(GoFloatText(1.5), "1.5");
  EXPECT_EQ(GoFloatText(-0.25), "-0.25");
  EXPECT_EQ(GoFloatText(1e21), "1000000000000000000000");
  EXPECT_EQ(GoFloatText(123.456), "123.456");
}

TEST(SemanticsTest, SqliteNumeric) {
  auto n = SqliteNumeric(" 12 ");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->type, Val::Type::kInt);
  EXPECT_EQ(n->i, 12);
  n = SqliteNumeric("-1.5e2");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->type, Val::Type::kReal);
  EXPECT_EQ(n->r, -150);
  EXPECT_TRUE(SqliteNumeric(".5"));
  EXPECT_TRUE(SqliteNumeric("5."));
  EXPECT_TRUE(SqliteNumeric("+7"));
  for (const char* bad : {"", " ", "abc", "1e", "1.2.3", "0x10", "5 5", ".", "-", "1e+"}) {
    EXPECT_FALSE(SqliteNumeric(bad)) << bad;
  }
  n = SqliteNumeric("99999999999999999999");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->type, Val::Type::kReal);
}

TEST(SemanticsTest, SqliteCompareWithAffinity) {
  Val text_col = Val::Text("5");
  text_col.affinity = Affinity::kText;
  Val num_col = Val::Int(5);
  num_col.affinity = Affinity::kNumeric;
  // A TEXT column against a REAL parameter: the parameter becomes '5.0'.
  EXPECT_NE(SqliteCompare(text_col, Val::Real(5)), 0);
  EXPECT_EQ(SqliteCompare(text_col, Val::Text("5")), 0);
  // A NUMERIC column against text that is a number: the text becomes the number.
  EXPECT_EQ(SqliteCompare(num_col, Val::Text("5.0")), 0);
  // No affinity on either side: numbers sort before text.
  EXPECT_LT(*SqliteCompare(Val::Int(100), Val::Text("1")), 0);
  EXPECT_FALSE(SqliteCompare(Val::Null(), Val::Int(1)).has_value());
  EXPECT_TRUE(SqliteIs(Val::Null(), Val::Null()));
  EXPECT_FALSE(SqliteIs(Val::Null(), Val::Text("")));
  EXPECT_TRUE(Val::Real(std::nan("")).is_null());
}

TEST(SemanticsTest, PlanEqualityAsPocketBase) {
  using NF = NullFallback;
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kDisabled, Shape::kValue, NF::kAuto), EqForm::kIs);
  EXPECT_EQ(PlanEquality(Shape::kNull, NF::kAuto, Shape::kEmptyValue, NF::kAuto), EqForm::kBothEmpty);
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kAuto, Shape::kValue, NF::kAuto), EqForm::kDirect);
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kAuto, Shape::kBool, NF::kAuto), EqForm::kDirect);
  EXPECT_EQ(PlanEquality(Shape::kNull, NF::kAuto, Shape::kValue, NF::kAuto), EqForm::kDirect);
  EXPECT_EQ(PlanEquality(Shape::kNull, NF::kAuto, Shape::kExpression, NF::kAuto), EqForm::kLeftEmpty);
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kAuto, Shape::kEmptyValue, NF::kAuto), EqForm::kRightEmpty);
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kAuto, Shape::kExpression, NF::kAuto), EqForm::kCoalesce);
  // strftime (kEnforced) against a value: the value still makes it a direct comparison.
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kEnforced, Shape::kValue, NF::kAuto), EqForm::kDirect);
  EXPECT_EQ(PlanEquality(Shape::kExpression, NF::kEnforced, Shape::kEmptyValue, NF::kAuto), EqForm::kRightEmpty);
}

std::chrono::system_clock::time_point FixedNow() {
  using namespace std::chrono;
  return sys_days{year{2024} / 3 / 5} + hours{10} + minutes{11} + seconds{12} + milliseconds{345};
}

std::string Strf(const char* format, Val time, std::vector<std::string> modifiers = {}) {
  auto r = Strftime(format, &time, modifiers, FixedNow());
  EXPECT_TRUE(r.has_value());
  if (!r || !*r) return "NULL";
  return **r;
}

// Reference outputs from SQLite 3.40's strftime.
TEST(SemanticsTest, StrftimeAsSqlite) {
  EXPECT_EQ(Strf("%Y-%m-%d %H:%M:%f %j %w %W %s %J", Val::Text("2024-03-05 10:11:12.345Z")),
            "2024-03-05 10:11:12.345 065 2 10 1709633472 2460374.924448438");
  EXPECT_EQ(Strf("%Y", Val::Text("2024-03-05T10:11:12+05:00")), "2024");
  EXPECT_EQ(Strf("%H", Val::Text("2024-03-05T01:00:00+05:00")), "20");
  EXPECT_EQ(Strf("%Q", Val::Text("2024-01-01")), "NULL");
  EXPECT_EQ(Strf("%Y", Val::Text("bad")), "NULL");
  EXPECT_EQ(Strf("%Y-%m-%d", Val::Text("2024-01-31"), {"+1 months"}), "2024-03-02");
  EXPECT_EQ(Strf("%Y-%m-%d", Val::Text("2024-03-05"), {"weekday 0"}), "2024-03-10");
  EXPECT_EQ(Strf("%Y-%m-%d %H", Val::Text("2024-03-05 10:00"), {"+1.5 days"}), "2024-03-06 22");
  EXPECT_EQ(Strf("%Y-%m-%d", Val::Int(1700000000), {"unixepoch"}), "2023-11-14");
  EXPECT_EQ(Strf("%Y-%m-%d", Val::Real(2460000.5)), "2023-02-25");
  EXPECT_EQ(Strf("%Y-%m-%d", Val::Text("2024-03-05 10:00"), {"start of year", "-1 day"}), "2023-12-31");
  EXPECT_EQ(Strf("%H:%M", Val::Text("12:30")), "12:30");
  EXPECT_EQ(Strf("%Y", Val::Text("now")), "2024");
  EXPECT_EQ(Strf("%", Val::Text("2024-01-01")), "NULL");
  // Out-of-range numbers in modifiers are rejected as SQLite rejects them (found by the fuzzer).
  EXPECT_FALSE(ParseDateModifier("weekday 88888888888888888888").has_value());
  EXPECT_FALSE(ParseDateModifier("weekday 1.5").has_value());
  EXPECT_EQ(Strf("%Y", Val::Text("2024-01-01"), {"+99999999999999999999 days"}), "NULL");
  auto r = Strftime("%Y", nullptr, {"localtime"}, FixedNow());
  EXPECT_FALSE(r.has_value());
}

TEST(SemanticsTest, Macros) {
  auto now = FixedNow();
  EXPECT_EQ(EvalMacro("@now", now)->text, "2024-03-05 10:11:12.345Z");
  EXPECT_EQ(EvalMacro("@monthEnd", now)->text, "2024-03-31 23:59:59.999Z");
  using namespace std::chrono;
  auto feb = sys_days{year{2024} / 2 / 10};
  EXPECT_EQ(EvalMacro("@monthEnd", feb)->text, "2024-02-29 23:59:59.999Z");
  EXPECT_EQ(EvalMacro("@weekday", now)->number, 2);
  EXPECT_FALSE(EvalMacro("@never", now).has_value());
}

}  // namespace
}  // namespace strata::query::internal
