#include "query/sql.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "query/parser.hpp"
#include "query/test_resolvers.hpp"

namespace strata::query {
namespace {

using testing::TableFieldResolver;
using util::SqlValue;

// 2024-03-05 10:11:12.345 UTC, a Tuesday.
std::chrono::system_clock::time_point FixedNow() {
  using namespace std::chrono;
  return sys_days{year{2024} / 3 / 5} + hours{10} + minutes{11} + seconds{12} + milliseconds{345};
}

// PocketBase's filter_test.go resolver: plain columns and a JSON column read by path.
TableFieldResolver PocketBaseResolver() {
  TableFieldResolver r;
  for (const char* name : {"test1", "test2", "test3", "test4_sub"}) r.Column(name, name);
  for (int i = 1; i <= 14; ++i) r.Column("test4_" + std::to_string(i), "test4_" + std::to_string(i));
  for (const char* path : {"a", "b", "c", "d"}) {
    r.Expression(std::string("test5.") + path, SqlFragment("json_extract(\"test5\", '$." + std::string(path) + "')"),
                 SqlType::kAny, false, NullFallback::kDisabled);
  }
  return r;
}

// A typed collection for the dialect-specific cases.
TableFieldResolver TypedResolver() {
  TableFieldResolver r;
  r.Column("title", "title", SqlType::kText)
      .Column("count", "count", SqlType::kNumber)
      .Column("active", "active", SqlType::kBool)
      .Column("created", "created", SqlType::kText)
      .Column("tags", "tags", SqlType::kText)
      .Column("tags:each", "tags", SqlType::kText, true)
      .Column("lon", "lon", SqlType::kNumber)
      .Column("lat", "lat", SqlType::kNumber)
      .Value("@request.auth.id", "u1")
      .Value("@request.auth.name", "")
      .Value("@request.auth.missing", nullptr)
      .Value("@request.body.tags:each", boost::json::parse(R"(["a","b"])"), true)
      .Value("@request.body.pattern", "%ab\\")
      .Value("@request.body.flag", true);
  return r;
}

struct SqlCase {
  std::string filter;
  std::string sql;
  std::vector<SqlValue> params;
};

Sql MustBuild(const std::string& filter, FieldResolver& resolver, Dialect dialect = Dialect::kSqlite,
              std::size_t first_param = 1) {
  SqlOptions options;
  options.dialect = dialect;
  options.first_param = first_param;
  options.now = FixedNow();
  auto r = BuildSql(filter, resolver, options);
  EXPECT_TRUE(r.has_value()) << filter << ": " << (r ? "" : r.error().message());
  return r ? *r : Sql{};
}

void Check(const std::vector<SqlCase>& cases, FieldResolver& resolver, Dialect dialect) {
  for (const auto& c : cases) {
    Sql sql = MustBuild(c.filter, resolver, dialect);
    EXPECT_EQ(sql.text, c.sql) << c.filter;
    EXPECT_EQ(sql.params, c.params) << c.filter;
  }
}

// The scenarios of PocketBase's TestFilterDataBuildExpr, with our SQL (identifiers quoted, `?`
// placeholders, AND/OR groups parenthesized explicitly).
TEST(SqlTest, PocketBaseScenariosSqlite) {
  auto resolver = PocketBaseResolver();
  Check(
      {
          {"test1 > 1", "\"test1\" > ?", {1.0}},
          {"'' = null && null != ''", "('' = '' AND '' IS NOT '')", {}},
          {"test1 ~ test2", "\"test1\" LIKE ('%' || \"test2\" || '%') ESCAPE '\\'", {}},
          {"'lorem' ~ test1", "? LIKE ('%' || \"test1\" || '%') ESCAPE '\\'", {"lorem"}},
          {"test1 ~ 'lorem'", "\"test1\" LIKE ? ESCAPE '\\'", {"%lorem%"}},
          {"test1 !~ test2", "\"test1\" NOT LIKE ('%' || \"test2\" || '%') ESCAPE '\\'", {}},
          {"'lorem' !~ test1", "? NOT LIKE ('%' || \"test1\" || '%') ESCAPE '\\'", {"lorem"}},
          {"test1 !~ 'lorem'", "\"test1\" NOT LIKE ? ESCAPE '\\'", {"%lorem%"}},
          {"test5.a = test5.b || test5.c != test5.d",
           "(json_extract(\"test5\", '$.a') IS json_extract(\"test5\", '$.b') OR "
           "json_extract(\"test5\", '$.c') IS NOT json_extract(\"test5\", '$.d'))",
           {}},
          {"((test1 > 1) || (test2 != 2)) && test3 ~ '%%example' && test4_sub = null",
           "((\"test1\" > ? OR \"test2\" IS NOT ?) AND \"test3\" LIKE ? ESCAPE '\\' AND "
           "(\"test4_sub\" = '' OR \"test4_sub\" IS NULL))",
           {1.0, 2.0, "%%example"}},
          {"test1=true && test2 != false && null = test3 || null != test4_sub",
           "((\"test1\" = ? AND \"test2\" IS NOT ? AND ('' = \"test3\" OR \"test3\" IS NULL)) OR "
           "('' IS NOT \"test4_sub\" AND \"test4_sub\" IS NOT NULL))",
           {true, false}},
          {"(test1 = test2 || test2 != test3) && (test2 ~ 'example' || test2 !~ '%%abc') && 'switch1%%' ~ test1 && "
           "'switch2' !~ test2 && test3 > 1 && test3 >= 0 && test3 <= 4 && 2 < 5",
           "((COALESCE(\"test1\", '') = COALESCE(\"test2\", '') OR COALESCE(\"test2\", '') IS NOT "
           "COALESCE(\"test3\", '')) AND (\"test2\" LIKE ? ESCAPE '\\' OR \"test2\" NOT LIKE ? ESCAPE '\\') AND "
           "? LIKE ('%' || \"test1\" || '%') ESCAPE '\\' AND ? NOT LIKE ('%' || \"test2\" || '%') ESCAPE '\\' AND "
           "\"test3\" > ? AND \"test3\" >= ? AND \"test3\" <= ? AND ? < ?)",
           {"%example%", "%%abc", "switch1%%", "switch2", 1.0, 0.0, 4.0, 2.0, 5.0}},
          {"geoDistance(1,2,3,4) < 567",
           "(6371 * acos(max(-1.0, min(1.0, cos(radians(?)) * cos(radians(?)) * cos(radians(?) - radians(?)) + "
           "sin(radians(?)) * sin(radians(?)))))) < ?",
           {2.0, 4.0, 3.0, 1.0, 2.0, 4.0, 567.0}},
          {"test1 = 'example'", "\"test1\" = ?", {"example"}},
          {"test1 != 'example'", "\"test1\" IS NOT ?", {"example"}},
          {"test1 = ''", "(\"test1\" = '' OR \"test1\" IS NULL)", {}},
          {"'' != test1", "('' IS NOT \"test1\" AND \"test1\" IS NOT NULL)", {}},
          {"test1 = 0", "\"test1\" = ?", {0.0}},
          {"null = 'x'", "'' = ?", {"x"}},
          {"test5.a = null", "json_extract(\"test5\", '$.a') IS NULL", {}},
      },
      resolver, Dialect::kSqlite);
}

TEST(SqlTest, MacrosAreBoundValuesOfTheBuildClock) {
  auto resolver = PocketBaseResolver();
  Check({{"test4_1 > @now && test4_2 > @second && test4_3 > @minute && test4_4 > @hour && test4_5 > @day && "
          "test4_6 > @year && test4_7 > @month && test4_8 > @weekday && test4_9 > @todayStart && "
          "test4_10 > @todayEnd && test4_11 > @monthStart && test4_12 > @monthEnd && test4_13 > @yearStart && "
          "test4_14 > @yearEnd && test1 > @yesterday && test2 < @tomorrow",
          "(\"test4_1\" > ? AND \"test4_2\" > ? AND \"test4_3\" > ? AND \"test4_4\" > ? AND \"test4_5\" > ? AND "
          "\"test4_6\" > ? AND \"test4_7\" > ? AND \"test4_8\" > ? AND \"test4_9\" > ? AND \"test4_10\" > ? AND "
          "\"test4_11\" > ? AND \"test4_12\" > ? AND \"test4_13\" > ? AND \"test4_14\" > ? AND \"test1\" > ? AND "
          "\"test2\" < ?)",
          {"2024-03-05 10:11:12.345Z", int64_t{12}, int64_t{11}, int64_t{10}, int64_t{5}, int64_t{2024}, int64_t{3},
           int64_t{2}, "2024-03-05 00:00:00.000Z", "2024-03-05 23:59:59.999Z", "2024-03-01 00:00:00.000Z",
           "2024-03-31 23:59:59.999Z", "2024-01-01 00:00:00.000Z", "2024-12-31 23:59:59.999Z",
           "2024-03-04 10:11:12.345Z", "2024-03-06 10:11:12.345Z"}}},
        resolver, Dialect::kSqlite);
}

TEST(SqlTest, MultiValuedOperandsSqlite) {
  auto resolver = TypedResolver();
  const std::string each =
      "(SELECT 1) AS __d LEFT JOIN json_each(CASE WHEN iif(json_valid(\"tags\"), json_type(\"tags\") = 'array', 0) "
      "THEN \"tags\" ELSE json_array(\"tags\") END) AS __e1 ON TRUE";
  Check(
      {
          {"tags:each ?= 'a'", "EXISTS (SELECT 1 FROM " + each + " WHERE __e1.value = ?)", {"a"}},
          {"tags:each = 'a'",
           "(EXISTS (SELECT 1 FROM " + each + " WHERE __e1.value = ?) AND NOT EXISTS (SELECT 1 FROM " + each +
               " WHERE NOT (__e1.value = ?)))",
           {"a", "a"}},
          {"tags:each ?~ 'a%'", "EXISTS (SELECT 1 FROM " + each + " WHERE __e1.value LIKE ? ESCAPE '\\')", {"a%"}},
          {"tags:each ?= ''", "EXISTS (SELECT 1 FROM " + each + " WHERE (__e1.value = '' OR __e1.value IS NULL))", {}},
          {"tags = 'a'", "\"tags\" = ?", {"a"}},  // without :each, the JSON text (as PocketBase)
          {"@request.body.tags:each ?= tags:each",
           "EXISTS (SELECT 1 FROM (SELECT 1) AS __d LEFT JOIN json_each(?) AS __e1 ON TRUE LEFT JOIN "
           "json_each(CASE WHEN iif(json_valid(\"tags\"), json_type(\"tags\") = 'array', 0) THEN \"tags\" ELSE "
           "json_array(\"tags\") END) AS __e2 ON TRUE WHERE COALESCE(__e1.value, '') = COALESCE(__e2.value, ''))",
           {"[\"a\",\"b\"]"}},
          {"strftime('%Y', tags:each) ?= '2024'",
           "EXISTS (SELECT 1 FROM " + each + " WHERE strftime(?, __e1.value) = ?)",
           {"%Y", "2024"}},
      },
      resolver, Dialect::kSqlite);
}

TEST(SqlTest, RequestValuesAreBound) {
  auto resolver = TypedResolver();
  Check(
      {
          {"@request.auth.id != ''", "? IS NOT ''", {"u1"}},
          {"@request.auth.name = ''", "'' = ''", {}},
          {"@request.auth.missing = title", "('' = \"title\" OR \"title\" IS NULL)", {}},
          {"title = @request.auth.id", "\"title\" = ?", {"u1"}},
          {"@request.body.flag = true", "? = ?", {true, true}},
          {"title ~ @request.auth.id", "\"title\" LIKE ? ESCAPE '\\'", {"%u1%"}},
      },
      resolver, Dialect::kSqlite);
}

TEST(SqlTest, PostgresDialect) {
  auto resolver = TypedResolver();
  const std::string each =
      "(SELECT 1) AS __d LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(\"tags\") = 'array' THEN "
      "\"tags\" ELSE jsonb_build_array(\"tags\") END) AS __e1(value) ON TRUE";
  Check(
      {
          {"title = 'x'", "\"title\" = $1::text", {"x"}},
          {"title != 'x'", "\"title\" IS DISTINCT FROM $1::text", {"x"}},
          {"title = 5", "\"title\" = $1::text", {"5.0"}},  // SQLite's TEXT affinity turns 5.0 into '5.0'
          {"count = '5'", "\"count\" = $1::int8", {int64_t{5}}},
          {"count > 'abc'", "CAST(\"count\" AS text) > $1::text", {"abc"}},
          {"count = true", "\"count\" = $1::int8", {int64_t{1}}},
          {"active = true", "\"active\" = $1::boolean", {true}},
          {"active = 1", "CAST(\"active\" AS integer) = $1::float8", {1.0}},
          {"title = null", "(\"title\" = '' OR \"title\" IS NULL)", {}},
          {"count = null", "(CAST(\"count\" AS text) = '' OR \"count\" IS NULL)", {}},
          {"title != ''", "(\"title\" IS DISTINCT FROM '' AND \"title\" IS NOT NULL)", {}},
          {"title = created", "COALESCE(\"title\", '') = COALESCE(\"created\", '')", {}},
          {"count = lon", "\"count\" IS NOT DISTINCT FROM \"lon\"", {}},
          {"title = count", "COALESCE(\"title\", '') = COALESCE(CAST(\"count\" AS text), '')", {}},
          {"title ~ 'abc'", "\"title\" ILIKE $1::text ESCAPE '\\'", {"%abc%"}},
          {"count !~ 5", "CAST(\"count\" AS text) NOT ILIKE $1::text ESCAPE '\\'", {"%5%"}},
          {"'abc' ~ title", "$1::text ILIKE ('%' || \"title\" || '%') ESCAPE '\\'", {"abc"}},
          {"title ~ @request.body.pattern", "(CASE WHEN \"title\" IS NULL THEN NULL ELSE FALSE END)", {}},
          {"tags:each ?= 'a'", "EXISTS (SELECT 1 FROM " + each + " WHERE (__e1.value #>> '{}') = $1::text)", {"a"}},
          {"tags:each !~ 'a'",
           "(EXISTS (SELECT 1 FROM " + each +
               " WHERE (__e1.value #>> '{}') NOT ILIKE $1::text ESCAPE '\\') AND NOT "
               "EXISTS (SELECT 1 FROM " +
               each +
               " WHERE NOT ((__e1.value #>> '{}') NOT ILIKE $2::text ESCAPE "
               "'\\')))",
           {"%a%", "%a%"}},
          {"@request.body.tags:each ?= 'b'",
           "EXISTS (SELECT 1 FROM (SELECT 1) AS __d LEFT JOIN LATERAL jsonb_array_elements($1::jsonb) AS "
           "__e1(value) ON TRUE WHERE (__e1.value #>> '{}') = $2::text)",
           {"[\"a\",\"b\"]", "b"}},
          {"geoDistance(lon, lat, 1, 2) < 10",
           "(6371 * acos(CASE WHEN cos(radians(\"lat\")) * cos(radians($1::float8)) * cos(radians($2::float8) - "
           "radians(\"lon\")) + sin(radians(\"lat\")) * sin(radians($3::float8)) > 1 THEN 1 WHEN "
           "cos(radians(\"lat\")) * cos(radians($4::float8)) * cos(radians($5::float8) - radians(\"lon\")) + "
           "sin(radians(\"lat\")) * sin(radians($6::float8)) < -1 THEN -1 ELSE cos(radians(\"lat\")) * "
           "cos(radians($7::float8)) * cos(radians($8::float8) - radians(\"lon\")) + sin(radians(\"lat\")) * "
           "sin(radians($9::float8)) END)) < $10::float8",
           {2.0, 1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0, 10.0}},
          {"strftime('%Y-%m', created) = '2024-03'",
           "(to_char((CAST(NULLIF(\"created\", '') AS timestamptz) AT TIME ZONE 'UTC'), 'YYYY') || $1::text || "
           "to_char((CAST(NULLIF(\"created\", '') AS timestamptz) AT TIME ZONE 'UTC'), 'MM')) = $2::text",
           {"-", "2024-03"}},
          {"strftime('%d', created, '+1 day', 'start of month') != ''",
           "((to_char(date_trunc('month', ((CAST(NULLIF(\"created\", '') AS timestamptz) AT TIME ZONE 'UTC') + "
           "CAST($1::text AS interval))), 'DD')) IS DISTINCT FROM '' AND (to_char(date_trunc('month', "
           "((CAST(NULLIF(\"created\", '') AS timestamptz) AT TIME ZONE 'UTC') + CAST($2::text AS interval))), "
           "'DD')) IS NOT NULL)",
           {"1 days", "1 days"}},
      },
      resolver, Dialect::kPostgres);
}

TEST(SqlTest, PostgresFirstParam) {
  auto resolver = TypedResolver();
  Sql sql = MustBuild("title = 'a' || count > 2", resolver, Dialect::kPostgres, 3);
  EXPECT_EQ(sql.text, "(\"title\" = $3::text OR \"count\" > $4::float8)");
}

TEST(SqlTest, PostgresRefusesModifiersItCannotExpress) {
  auto resolver = TypedResolver();
  SqlOptions options;
  options.dialect = Dialect::kPostgres;
  auto r = BuildSql("strftime('%Y', created, 'localtime') = '2024'", resolver, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("position 25"), std::string::npos) << r.error().message();
  // SQLite takes it as it is.
  EXPECT_TRUE(BuildSql("strftime('%Y', created, 'localtime') = '2024'", resolver).has_value());
}

TEST(SqlTest, UnknownIdentifiersNameTheirPosition) {
  auto resolver = TypedResolver();
  auto r = BuildSql("title = 'a' && nope = 2", resolver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), util::Status::Code::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "invalid filter at position 16: unknown field \"nope\"");
}

TEST(SqlTest, ResolverErrorsOtherThanInvalidArgumentPassThrough) {
  struct Failing final : FieldResolver {
    util::Result<ResolvedField> Resolve(std::string_view) override {
      return std::unexpected(util::Status::Unavailable("schema not loaded"));
    }
  } failing;
  auto r = BuildSql("a = 1", failing);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), util::Status::Code::kUnavailable);
}

TEST(SqlTest, ResolverFragmentsKeepTheirValuesBound) {
  TableFieldResolver resolver;
  SqlFragment path("json_extract(\"data\", ");
  path.Bind(std::string("$.a")).Append(")");
  resolver.Expression("data.a", path, SqlType::kAny, false, NullFallback::kDisabled);
  Sql sql = MustBuild("data.a = 'x' || data.a ~ 'y'", resolver);
  EXPECT_EQ(sql.text, "(json_extract(\"data\", ?) IS ? OR json_extract(\"data\", ?) LIKE ? ESCAPE '\\')");
  EXPECT_EQ(sql.params, (std::vector<SqlValue>{"$.a", "x", "$.a", "%y%"}));
  Sql pg = MustBuild("data.a = 'x'", resolver, Dialect::kPostgres);
  EXPECT_EQ(pg.text, "json_extract(\"data\", $1::text) IS NOT DISTINCT FROM $2::text");
}

TEST(SqlTest, MultipleMultiValuedFunctionArgumentsAreRefused) {
  TableFieldResolver resolver;
  resolver.Column("a:each", "a", SqlType::kAny, true).Column("b:each", "b", SqlType::kAny, true);
  auto r = BuildSql("geoDistance(a:each, b:each, 1, 2) < 5", resolver);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("at most one multi-valued argument"), std::string::npos);
}

TEST(SqlTest, QuoteIdentifier) {
  EXPECT_EQ(QuoteIdentifier("title"), "\"title\"");
  EXPECT_EQ(QuoteIdentifier("we\"ird"), "\"we\"\"ird\"");
}

// Whatever a filter's texts hold, the SQL text is the same template: the payload is only ever a
// bound parameter.
TEST(SqlTest, InjectionAttemptsOnlyReachParameters) {
  auto resolver = TypedResolver();
  const std::string payloads[] = {
      "x' OR '1'='1",
      "x'; DROP TABLE users; --",
      "x\"; DROP TABLE users; --",
      "*/ OR 1=1 /*",
      "x' || (SELECT password FROM users) || '",
      "\xCA\xBC OR 1=1 --",           // U+02BC, a quote look-alike
      "\xEF\xBC\x87; DELETE FROM t",  // U+FF07 fullwidth apostrophe
      "$1; SELECT 1",
      "?, ?); DROP TABLE t; --",
      std::string("nul\0byte", 8),
      "line\nbreak -- comment",
  };
  for (const auto& payload : payloads) {
    for (Dialect dialect : {Dialect::kSqlite, Dialect::kPostgres}) {
      Operand text;
      text.kind = Operand::Kind::kText;
      text.text = payload;
      std::string quoted = ToString(text);
      Sql eq = MustBuild("title = " + quoted, resolver, dialect);
      EXPECT_EQ(eq.text, dialect == Dialect::kSqlite ? "\"title\" = ?" : "\"title\" = $1::text");
      ASSERT_EQ(eq.params.size(), 1u);
      EXPECT_EQ(std::get<std::string>(eq.params[0]), payload);
      Sql like = MustBuild("title ~ " + quoted + " || " + quoted + " != title", resolver, dialect);
      EXPECT_EQ(like.text.find(payload), std::string::npos);
      for (const char* bad : {"DROP", "DELETE", "SELECT password", "OR 1=1", "--"}) {
        EXPECT_EQ(like.text.find(bad), std::string::npos) << payload << " → " << like.text;
      }
    }
  }
}

TEST(SqlTest, IdentifiersNeverReachSqlUnresolved) {
  // Identifier text is never spliced: anything outside the identifier alphabet fails to parse, and
  // anything inside it must be known to the resolver.
  auto resolver = TypedResolver();
  for (const char* filter : {"title;DROP = 1", "\"title\" = 1 OR 1 = 1", "title = 1 -- x", "ti`tle = 1",
                             "title/**/ = 1", "users.password = 'x'", "@collection.users.password = 'x'"}) {
    auto r = BuildSql(filter, resolver);
    EXPECT_FALSE(r.has_value()) << filter;
  }
}

}  // namespace
}  // namespace strata::query
