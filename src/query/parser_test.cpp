#include "query/parser.hpp"

#include <gtest/gtest.h>

#include <string>

#include "query/limits.hpp"

namespace strata::query {
namespace {

struct ParseCase {
  std::string input;
  std::string expected;  // canonical ToString; empty: a parse error is expected
};

// fexpr's parser_test.go scenarios (plus the scanner's), with the canonical form of our tree.
const ParseCase kCases[] = {
    {"> 1", ""},
    {"a >", ""},
    {"a > >", ""},
    {"a > %", ""},
    {"a ! 1", ""},
    {"a - 1", ""},
    {"a + 1", ""},
    {"1 - 1", ""},
    {"1 + 1", ""},
    {"> a 1", ""},
    {"a || 1", ""},
    {"a && 1", ""},
    {"test > 1 &&", ""},
    {"|| test = 1", ""},
    {"test = 1 && ||", ""},
    {"test = 1 && a", ""},
    {"test = 1 && \"a\"", ""},
    {"test = 1 a", ""},
    {"test = 1 \"a\"", ""},
    {"test = 1@test", ""},
    {"test = .@test", ""},
    {"test = \"demo'", ""},
    {"test = 'demo\"", ""},
    {"test = 'demo'\"", ""},
    {"test = 'demo''", ""},
    {"test = \"demo\"'", ""},
    {"test = \"demo\"\"", ""},
    {"test = \"\"demo\"\"", ""},
    {"test = ''demo''", ""},
    {"test = `demo`", ""},
    {"test = / demo", ""},
    {"test = // demo", ""},
    {"// demo", ""},
    {"test = 123 // demo", "test = 123"},
    {"test = // demo\n123", "test = 123"},
    {"\n a = 123 &&\n // demo\n b = 456\n", "(a = 123 && b = 456)"},
    {"1=12", "1 = 12"},
    {"   1    =    12    ", "1 = 12"},
    {"\"demo\" != test", "'demo' != test"},
    {"a~1", "a ~ 1"},
    {"a !~ 1", "a !~ 1"},
    {"test>12", "test > 12"},
    {"test >=\"test\"", "test >= 'test'"},
    {"test<@demo.test2", "test < @demo.test2"},
    {"1<=\"test\"", "1 <= 'test'"},
    {"1<=\"te'st\"", "1 <= \"te'st\""},
    {"demo='te\\'st'", "demo = \"te'st\""},
    {"demo=\"te\\'st\"", "demo = \"te\\'st\""},
    {"demo=\"te\\\"st\"", "demo = 'te\"st'"},
    {"(a=1", ""},
    {"a=1)", ""},
    {"((a=1)", ""},
    {"{a=1}", ""},
    {"[a=1]", ""},
    {"((a=1 || a=2) && c=1))", ""},
    {"()", ""},
    {"(a=1)", "a = 1"},
    {"(a=\"test(\")", "a = 'test('"},
    {"(a=\"test)\")", "a = 'test)'"},
    {"((a=1))", "a = 1"},
    {"a=1 || 2!=3", "(a = 1 || 2 != 3)"},
    {"a=1 && 2!=3", "(a = 1 && 2 != 3)"},
    {"a=1 && 2!=3 || \"b\"=a", "((a = 1 && 2 != 3) || 'b' = a)"},
    {"(a=1 && 2!=3) || \"b\"=a", "((a = 1 && 2 != 3) || 'b' = a)"},
    {"a=1 || 2!=3 && \"b\"=a", "(a = 1 || (2 != 3 && 'b' = a))"},
    {"((a=1 || a=2) && (c=1))", "((a = 1 || a = 2) && c = 1)"},
    {"(a='\"')", "a = '\"'"},
    {"(a='\\'')", "a = \"'\""},
    {"(a=\"'\")", "a = \"'\""},
    {"(a=\"\\\"\")", "a = '\"'"},
    // identifiers (fexpr's scanner cases)
    {"@ = 1", ""},
    {"test: = 1", ""},
    {"test. = 1", ""},
    {"@test.123:c = 1", "@test.123:c = 1"},
    {"_test_a.123 = 1", "_test_a.123 = 1"},
    {"#test.123:456 = 1", "#test.123:456 = 1"},
    {".test.123 = 1", ""},
    {":test.123 = 1", ""},
    {"test#@ = 1", ""},
    {"a.b.c:each ?= @request.auth.id", "a.b.c:each ?= @request.auth.id"},
    // numbers
    {"a = -123", "a = -123"},
    {"a = -123.456", "a = -123.456"},
    {"a = 123.456", "a = 123.456"},
    {"a = -.5", "a = -.5"},
    {"a = 12.34.56", ""},
    {"a = .123", ""},
    {"a = - 123", ""},
    {"a = 12-3", ""},
    {"a = 123.abc", ""},
    {"a = 123.", ""},
    {"a = 1e5", ""},
    // texts
    {"a = ''", "a = ''"},
    {"a = \"\"", "a = ''"},
    {"a = \"tes@#,;!@#%^'\\\"t\"", "a = 'tes@#,;!@#%^\\'\"t'"},
    {"a = 'АБЦ'", "a = 'АБЦ'"},
    {"a = 'АБЦ", ""},
    // joins and signs
    {"a = 1 &&|| b = 2", ""},
    {"a = 1 & b = 2", ""},
    {"a =! 1", ""},
    {"a ?= 1 && a ?!= 1 && a ?~ 1 && a ?!~ 1 && a ?> 1 && a ?>= 1 && a ?< 1 && a ?<= 1",
     "(a ?= 1 && a ?!= 1 && a ?~ 1 && a ?!~ 1 && a ?> 1 && a ?>= 1 && a ?< 1 && a ?<= 1)"},
    {"'||test&&'=123", "'||test&&' = 123"},
    // null, true, false and macros
    {"a = null && b = TRUE && c != False", "(a = null && b = true && c != false)"},
    {"created > @now && created < @yearEnd", "(created > @now && created < @yearEnd)"},
    {"@nowhere = 1", "@nowhere = 1"},
    // functions
    {"geoDistance(lon, lat, 1, 2.5) < 10", "geoDistance(lon, lat, 1, 2.5) < 10"},
    {"geoDistance(lon, lat, 1, 2.5,) < 10", "geoDistance(lon, lat, 1, 2.5) < 10"},
    {"geoDistance(lon , // comment\n lat, 1, 2) < 10", "geoDistance(lon, lat, 1, 2) < 10"},
    {"geoDistance(lon, lat, 1) < 10", ""},
    {"geoDistance(lon, lat, 1, 'x') < 10", ""},
    {"geoDistance(lon,, lat, 1, 2) < 10", ""},
    {"geoDistance(lon lat, 1, 2) < 10", ""},
    {"geoDistance(lon, lat, 1, 2 < 10", ""},
    {"geoDistance (lon, lat, 1, 2) < 10", ""},
    {"strftime('%Y', created) = '2024'", "strftime('%Y', created) = '2024'"},
    {"strftime('%Y') = @year", "strftime('%Y') = @year"},
    {"strftime('%Y-%m', created, '+1 month', 'start of month') != ''",
     "strftime('%Y-%m', created, '+1 month', 'start of month') != ''"},
    {"strftime(created) = '2024'", ""},
    {"strftime('%Y', created, 5) = '2024'", ""},
    {"strftime() = '2024'", ""},
    {"strftime('%Y', strftime('%Y', created)) = '2024'", ""},
    {"unknown(1) = 1", ""},
    {"test(a //test) = 1", ""},
};

TEST(ParserTest, FexprScenarios) {
  for (const auto& c : kCases) {
    auto r = Parse(c.input);
    if (c.expected.empty()) {
      EXPECT_FALSE(r.has_value()) << c.input << " parsed as " << (r ? ToString(*r) : "");
      if (!r) {
        EXPECT_EQ(r.error().code(), util::Status::Code::kInvalidArgument) << c.input;
      }
      continue;
    }
    ASSERT_TRUE(r.has_value()) << c.input << ": " << r.error().message();
    EXPECT_EQ(ToString(*r), c.expected) << c.input;
    // The canonical form parses to the same tree.
    auto again = Parse(ToString(*r));
    ASSERT_TRUE(again.has_value()) << ToString(*r);
    EXPECT_EQ(ToString(*again), c.expected);
  }
}

TEST(ParserTest, OperandKinds) {
  auto r = Parse("a.b:lower = 'x' && 1.5 < @now && null != true && strftime('%d', d) = false");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->kind, Expr::Kind::kAnd);
  ASSERT_EQ(r->children.size(), 4u);
  const auto& c0 = r->children[0].comparison;
  EXPECT_EQ(c0.left.kind, Operand::Kind::kIdentifier);
  EXPECT_EQ(c0.left.text, "a.b:lower");
  EXPECT_EQ(c0.right.kind, Operand::Kind::kText);
  const auto& c1 = r->children[1].comparison;
  EXPECT_EQ(c1.left.kind, Operand::Kind::kNumber);
  EXPECT_DOUBLE_EQ(c1.left.number, 1.5);
  EXPECT_EQ(c1.op, Op::kLt);
  EXPECT_EQ(c1.right.kind, Operand::Kind::kMacro);
  const auto& c2 = r->children[2].comparison;
  EXPECT_EQ(c2.left.kind, Operand::Kind::kNull);
  EXPECT_EQ(c2.right.kind, Operand::Kind::kTrue);
  const auto& c3 = r->children[3].comparison;
  EXPECT_EQ(c3.left.kind, Operand::Kind::kFunction);
  EXPECT_EQ(c3.left.function, Function::kStrftime);
  ASSERT_EQ(c3.left.args.size(), 2u);
  EXPECT_EQ(c3.left.args[1].kind, Operand::Kind::kIdentifier);
  EXPECT_EQ(c3.right.kind, Operand::Kind::kFalse);
}

TEST(ParserTest, Operators) {
  const std::pair<const char*, Op> cases[] = {
      {"=", Op::kEq},     {"!=", Op::kNeq},     {"~", Op::kLike},     {"!~", Op::kNotLike},
      {"<", Op::kLt},     {"<=", Op::kLte},     {">", Op::kGt},       {">=", Op::kGte},
      {"?=", Op::kAnyEq}, {"?!=", Op::kAnyNeq}, {"?~", Op::kAnyLike}, {"?!~", Op::kAnyNotLike},
      {"?<", Op::kAnyLt}, {"?<=", Op::kAnyLte}, {"?>", Op::kAnyGt},   {"?>=", Op::kAnyGte},
  };
  for (auto [text, op] : cases) {
    auto r = Parse(std::string("a ") + text + " 1");
    ASSERT_TRUE(r.has_value()) << text;
    EXPECT_EQ(r->comparison.op, op) << text;
    EXPECT_EQ(OpText(op), text);
    EXPECT_EQ(IsAnyOf(op), text[0] == '?');
  }
  EXPECT_EQ(BaseOp(Op::kAnyNotLike), Op::kNotLike);
  EXPECT_EQ(BaseOp(Op::kGte), Op::kGte);
}

TEST(ParserTest, ErrorPositions) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "position 1: empty filter"},
      {"   // only a comment", "position 21: empty filter"},
      {"a = 1 && b", "position 11: expected an operator, got the end of the filter"},
      {"a = %", "position 5: unexpected character \"%\""},
      {"a = 1 b = 2", "position 7: expected && or ||, got \"b\""},
      {"(a = 1", "position 1: missing closing parenthesis"},
      {"a = 1)", "position 6: unexpected ')'"},
      {"a =! 1", "position 3: invalid operator \"=!\""},
      {"a = 'x", "position 5: unterminated quoted text"},
      {"ä = 1", "position 1: unexpected character"},
      {"'äöü' = x +", "position 11: unexpected character \"+\""},
      {"a = 1 & b = 2", "position 7: invalid join operator \"&\""},
      {"foo(1) = 1", "position 1: unknown function \"foo\""},
      {"geoDistance(a, b, c, 'x') = 1", "position 22: geoDistance arguments must be identifiers or numbers"},
      {"a = 12.", "position 5: invalid number \"12.\""},
      {"a = ()", "position 5: expected right operand"},
      {"()", "position 1: empty parentheses"},
      {"a = 1 / 2", "position 7: invalid comment"},
  };
  for (const auto& [input, expected] : cases) {
    auto r = Parse(input);
    ASSERT_FALSE(r.has_value()) << input;
    EXPECT_NE(r.error().message().find(expected), std::string::npos)
        << input << " → " << r.error().message() << " (expected " << expected << ")";
  }
}

TEST(ParserTest, ErrorMessagesNeverEchoControlBytes) {
  auto r = Parse(std::string("a = 1 \x01 b"));
  ASSERT_FALSE(r.has_value());
  for (char c : r.error().message()) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  r = Parse(std::string("a\x7f = 1"));
  ASSERT_FALSE(r.has_value());
  for (char c : r.error().message()) EXPECT_NE(c, '\x7f');
}

TEST(ParserTest, LengthLimit) {
  std::string ok = "a = '" + std::string(kMaxFilterLength - 6, 'x') + "'";
  ASSERT_EQ(ok.size(), kMaxFilterLength);
  EXPECT_TRUE(Parse(ok).has_value());
  auto r = Parse(ok + " ");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("longer than 3500 characters"), std::string::npos);
  // Counted in characters, not bytes.
  std::string wide = "a = '";
  for (std::size_t i = 0; i < kMaxFilterLength - 6; ++i) wide += "ж";
  wide += "'";
  EXPECT_TRUE(Parse(wide).has_value());
}

TEST(ParserTest, ExpressionLimit) {
  auto chain = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += (i ? " || " : "") + std::string("a=1");
    return s;
  };
  EXPECT_TRUE(Parse(chain(kMaxExpressions)).has_value());
  auto r = Parse(chain(kMaxExpressions + 1));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("too many expressions"), std::string::npos);
  // PocketBase's limit scenarios count comparisons inside groups too.
  EXPECT_TRUE(Parse("(1=1 || 1=1) && (1=1 || (1=1 || 1=1)) && (1=1)").has_value());
}

TEST(ParserTest, NestingLimit) {
  auto nested = [](std::size_t depth) { return std::string(depth, '(') + "a=1" + std::string(depth, ')'); };
  EXPECT_TRUE(Parse(nested(kMaxNestingDepth)).has_value());
  auto r = Parse(nested(kMaxNestingDepth + 1));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("too deeply nested"), std::string::npos);
  // Thousands of parentheses are refused quickly and without deep recursion.
  EXPECT_FALSE(Parse(std::string(3000, '(')).has_value());
}

TEST(ParserTest, FunctionDepthLimit) {
  // Only geoDistance and strftime exist and neither takes a call as argument, so any nesting is
  // refused; the depth limit stops the parser before it recurses further.
  auto r = Parse("strftime(strftime(strftime(strftime('%Y')))) = 1");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("too deeply nested function calls"), std::string::npos);
}

TEST(ParserTest, NumbersOutOfRange) {
  EXPECT_FALSE(Parse("a = 1" + std::string(400, '0')).has_value());
  auto tiny = Parse("a = 0." + std::string(400, '0') + "1");
  ASSERT_TRUE(tiny.has_value());
  EXPECT_EQ(tiny->comparison.right.number, 0.0);
}

TEST(ParserTest, SplitModifier) {
  EXPECT_EQ(SplitModifier("tags:each"), (std::pair<std::string_view, std::string_view>{"tags", "each"}));
  EXPECT_EQ(SplitModifier("a.b.c:length").second, "length");
  EXPECT_EQ(SplitModifier("title").second, "");
  EXPECT_EQ(SplitModifier("@collection.users:auth.email").first, "@collection.users:auth.email");
  EXPECT_EQ(SplitModifier("@collection.users:auth.email:lower").second, "lower");
}

TEST(ParserTest, TextRoundTripsThroughToString) {
  const char* texts[] = {"plain", "it's", "say \"hi\"", "both ' and \"", "back\\slash", "\\'", "%_"};
  for (const char* t : texts) {
    Operand op;
    op.kind = Operand::Kind::kText;
    op.text = t;
    auto r = Parse("a = " + ToString(op));
    ASSERT_TRUE(r.has_value()) << t;
    EXPECT_EQ(r->comparison.right.text, t);
  }
}

}  // namespace
}  // namespace strata::query

namespace strata::query {
namespace {

TEST(ParserTest, TraitsSayWhatAFilterDependsOn) {
  EXPECT_FALSE(TraitsOf("").time);
  const Traits plain = TraitsOf("status = 'active' && author.name ~ 'x'");
  EXPECT_FALSE(plain.time || plain.headers || plain.auth);
  EXPECT_TRUE(TraitsOf("created > @now").time);
  EXPECT_TRUE(TraitsOf("a = 1 || (b = 2 && created >= @todayStart)").time);
  EXPECT_TRUE(TraitsOf("strftime('%Y') = '2026'").time);
  EXPECT_TRUE(TraitsOf("strftime('%Y', 'now', '-1 day') = '2026'").time);
  EXPECT_FALSE(TraitsOf("strftime('%Y', created) = '2026'").time);
  EXPECT_TRUE(TraitsOf("@request.headers.x_token = 'a'").headers);
  EXPECT_TRUE(TraitsOf("author = @request.auth.id").auth);
  EXPECT_FALSE(TraitsOf("author = @request.query.x").auth);
  const Traits bad = TraitsOf("a = (");
  EXPECT_TRUE(bad.time && bad.headers && bad.auth);
}

}  // namespace
}  // namespace strata::query
