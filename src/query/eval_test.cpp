#include "query/eval.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "query/parser.hpp"
#include "query/sql.hpp"
#include "query/test_resolvers.hpp"

namespace strata::query {
namespace {

namespace json = boost::json;
using testing::TableFieldResolver;
using testing::TableValueResolver;

// 2024-03-05 10:11:12.345 UTC, a Tuesday.
std::chrono::system_clock::time_point FixedNow() {
  using namespace std::chrono;
  return sys_days{year{2024} / 3 / 5} + hours{10} + minutes{11} + seconds{12} + milliseconds{345};
}

// The columns of the test table, with the declared types Strata's DDL gives such fields.
struct ColumnDef {
  const char* name;
  const char* decl;
};
constexpr ColumnDef kColumns[] = {
    {"title", "TEXT"},    {"body", "TEXT"},      {"note", "TEXT"},   {"count", "NUMERIC"},
    {"price", "NUMERIC"}, {"active", "BOOLEAN"}, {"tags", "JSON"},   {"nums", "JSON"},
    {"created", "TEXT"},  {"meta", "JSON"},      {"lon", "NUMERIC"}, {"lat", "NUMERIC"},
};

const char* kRows[] = {
    R"({"title":"Hello","body":"Hello world","note":null,"count":5,"price":9.99,"active":true,"tags":["a","b"],
        "nums":[1,2,3],"created":"2024-03-05 10:00:00.000Z","meta":{"a":1},"lon":13.4,"lat":52.5})",
    R"({"title":"hello","body":"","note":"","count":0,"price":0,"active":false,"tags":[],"nums":[],
        "created":"2023-12-31 23:59:59.999Z","meta":{"a":null},"lon":13.4,"lat":52.5})",
    R"({"title":"","body":"x","note":"x","count":3.5,"price":null,"active":true,"tags":["a"],"nums":[5],
        "created":"","meta":null,"lon":0,"lat":0})",
    R"({"title":"50% off","body":"50\\%","note":null,"count":-2,"price":100,"active":false,"tags":["b","c"],
        "nums":[2.5,-1],"created":"2024-02-29 12:00:00.000Z","meta":{"a":"x"},"lon":-73.9,"lat":40.7})",
    R"({"title":"Über","body":"über","note":"Ü","count":12,"price":12,"active":true,"tags":["ü"],"nums":[0],
        "created":"2024-03-05 00:00:00.000Z","meta":{"a":{"b":1}},"lon":2.35,"lat":48.85})",
    R"({"title":"5","body":"5.0","note":"05","count":5,"price":5.0,"active":false,"tags":null,"nums":null,
        "created":"2025-01-01 00:00:00.000Z","meta":{"a":true},"lon":180,"lat":0})",
    R"({"title":"a_c","body":"abc","note":"a\\c","count":1000,"price":0.1,"active":true,"tags":["","a"],
        "nums":[1,"1"],"created":"2024-03-05T10:11:12.345+02:00","meta":{"a":[1,2]},"lon":-180,"lat":-90})",
    R"({"title":"O'Brien","body":"x' OR '1'='1","note":"--","count":7,"price":7,"active":false,"tags":["a","a"],
        "nums":[3,3],"created":"not a date","meta":{},"lon":10,"lat":10})",
    R"({"title":"Zed","body":"Zed","note":null,"count":2,"price":2.5,"active":true,"tags":["x"],"nums":[2],
        "created":"2024-03-04 10:11:12.345Z","meta":{"a":"1"},"lon":10.0001,"lat":10.0001})",
    R"({"title":"  spaced  ","body":null,"note":"","count":1700000000,"price":null,"active":false,
        "tags":["a","b","c"],"nums":[10,20],"created":"2024-03-05","meta":null,"lon":null,"lat":null})",
    R"({"title":null,"body":null,"note":null,"count":null,"price":null,"active":null,"tags":null,"nums":null,
        "created":null,"meta":null,"lon":null,"lat":null})",
    R"({"title":"hello%","body":"%","note":"\\","count":3,"price":3,"active":true,"tags":["%"],"nums":[3],
        "created":"2024-12-31 23:59:59.999Z","meta":{"a":0},"lon":1,"lat":1})",
    R"({"title":"12","body":"012","note":"1e1","count":12.5,"price":-0.5,"active":true,"tags":["1","2"],
        "nums":[-5,5],"created":"12:30:00","meta":{"a":"Hello"},"lon":-0.0001,"lat":0.0001})",
};

// The identifiers the filters may use: SQL for the builder and the matching value for the evaluator.
TableFieldResolver SqlResolver() {
  TableFieldResolver r;
  for (const auto& c : kColumns) r.Column(c.name, c.name);
  r.Column("tags:each", "tags", SqlType::kAny, true)
      .Column("nums:each", "nums", SqlType::kAny, true)
      .Expression("tags:length", SqlFragment("json_array_length(\"tags\")"))
      .Expression("title:lower", SqlFragment("lower(\"title\")"))
      .Expression("meta.a", SqlFragment("json_extract(\"meta\", '$.a')"), SqlType::kAny, false, NullFallback::kDisabled)
      .Value("@request.auth.id", "a")
      .Value("@request.auth.missing", nullptr)
      .Value("@request.query.empty", "")
      .Value("@request.body.n", 5)
      .Value("@request.body.flag", true)
      .Value("@request.body.tags:each", json::parse(R"(["a","x"])"), true)
      .Value("@request.body.pattern", "%ab\\");
  return r;
}

TableValueResolver RowResolver(const json::object& row) {
  TableValueResolver r;
  for (const auto& c : kColumns) r.Set(c.name, row.at(c.name));
  r.Set("tags:each", row.at("tags"), ValueSource::kColumn, true);
  r.Set("nums:each", row.at("nums"), ValueSource::kColumn, true);
  const auto& tags = row.at("tags");
  r.Set("tags:length", tags.is_array() ? json::value(tags.get_array().size()) : json::value(),
        ValueSource::kExpression);
  json::value lower = row.at("title");
  if (lower.is_string()) {
    std::string s(lower.get_string());
    for (char& ch : s) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    lower = json::value(s);
  }
  r.Set("title:lower", lower, ValueSource::kExpression);
  json::value a;
  if (const auto& meta = row.at("meta"); meta.is_object()) {
    if (auto* v = meta.get_object().if_contains("a")) a = *v;
  }
  r.Set("meta.a", a, ValueSource::kExpression, false, NullFallback::kDisabled);
  r.Set("@request.auth.id", "a", ValueSource::kParameter);
  r.Set("@request.auth.missing", nullptr, ValueSource::kParameter);
  r.Set("@request.query.empty", "", ValueSource::kParameter);
  r.Set("@request.body.n", 5, ValueSource::kParameter);
  r.Set("@request.body.flag", true, ValueSource::kParameter);
  r.Set("@request.body.tags:each", json::parse(R"(["a","x"])"), ValueSource::kParameter, true);
  r.Set("@request.body.pattern", "%ab\\", ValueSource::kParameter);
  return r;
}

const char* kFilters[] = {
    // equality, NULL and ''
    "title = 'Hello'",
    "title != 'Hello'",
    "title = ''",
    "title != ''",
    "title = null",
    "title != null",
    "note = null",
    "note != null",
    "'' = note",
    "null != note",
    "title = body",
    "title != body",
    "note = body",
    "title = note",
    "count = price",
    "count != price",
    "count = title",
    "null = null",
    "'a' = 'a'",
    "1 = 1.0",
    "count = 5",
    "count = '5'",
    "count = 5.0",
    "count = '5.0'",
    "count != 0",
    "title = 5",
    "title = '5'",
    "title = 12",
    "note = 5",
    "count = 12.5",
    "price = 0.1",
    "active = true",
    "active = false",
    "active != true",
    "active = 1",
    "active = '1'",
    "price = null",
    "price != null",
    "meta.a = 1",
    "meta.a = null",
    "meta.a != 'x'",
    "meta.a = 'Hello'",
    "meta.a = true",
    "meta = null",
    "tags = '[\"a\",\"b\"]'",
    "tags = '[]'",
    "tags = null",
    "@request.auth.id = title",
    "@request.auth.missing = note",
    "@request.query.empty = body",
    "@request.query.empty != title",
    "@request.body.n = count",
    "@request.body.flag = active",
    "title = @request.auth.missing",
    // ordering
    "count > 3",
    "count >= 3",
    "count < 3.5",
    "count <= '3.5'",
    "price <= 10",
    "title > 'M'",
    "title < 'b'",
    "created > '2024-01-01'",
    "created < @now",
    "created >= @todayStart",
    "created <= @todayEnd",
    "created > @monthStart && created < @yearEnd",
    "title > 5",
    "title < 5",
    "count > 'abc'",
    "count < 'abc'",
    "count > '2'",
    "note > ''",
    "lon > lat",
    "title >= body",
    "'b' > title",
    "5 > count",
    "@year > count",
    "@weekday < count",
    "price > @request.body.n",
    // LIKE
    "title ~ 'ell'",
    "title ~ 'HELLO'",
    "title !~ 'ell'",
    "title ~ 'H%'",
    "title ~ '%o'",
    "title ~ 'h_llo'",
    "title ~ '50\\%'",
    "title ~ '_'",
    "title ~ '__'",
    "body ~ title",
    "title ~ body",
    "'Hello world' ~ title",
    "title ~ count",
    "count ~ 5",
    "count ~ '.5'",
    "note ~ 'x'",
    "note !~ 'x'",
    "title ~ ''",
    "title !~ ''",
    "title ~ 'ü'",
    "title ~ 'Ü'",
    "title ~ 'über'",
    "note ~ '\\\\c'",
    "body ~ '%'",
    "body ~ '\\%'",
    "title ~ 'a_c'",
    "title ~ 'a\\_c'",
    "title ~ @request.body.pattern",
    "title !~ @request.body.pattern",
    "title ~ null",
    "title !~ null",
    "title ~ true",
    "price ~ '.'",
    "tags ~ 'a'",
    "tags !~ '\"b\"'",
    "title:lower = 'hello'",
    "title:lower ~ 'hell'",
    "title:lower != 'über'",
    // any-of and all items
    "tags:each ?= 'a'",
    "tags:each = 'a'",
    "tags:each != 'a'",
    "tags:each ?!= 'a'",
    "tags:each ?~ 'b'",
    "tags:each ~ '%'",
    "tags:each !~ 'z'",
    "tags:each ?= ''",
    "tags:each = ''",
    "tags:each ?!= ''",
    "tags:each ?= null",
    "tags:each != null",
    "tags:each ?= @request.auth.id",
    "@request.body.tags:each ?= tags:each",
    "@request.body.tags:each = tags:each",
    "tags:each ?= @request.body.tags:each",
    "tags:each ?= nums:each",
    "nums:each > 2",
    "nums:each ?> 2",
    "nums:each ?< 0",
    "nums:each >= -5",
    "nums:each ?= '1'",
    "nums:each = 3",
    "nums:each ?= null",
    "'a' ?= tags:each",
    "'a' = tags:each",
    "title ?~ tags:each",
    "tags:each ?~ title",
    "tags:length > 1",
    "tags:length = 0",
    "tags:length != 2",
    "tags:length ?= 3",
    "@request.body.tags:each ?= 'x'",
    "@request.body.tags:each = 'x'",
    "@request.body.tags:each ?!~ 'a'",
    // functions
    "geoDistance(lon, lat, 13.4, 52.5) < 500",
    "geoDistance(lon, lat, lon, lat) = 0",
    "geoDistance(lon, lat, 0, 0) > 1000",
    "geoDistance(lon, lat, 0, 0) = null",
    "geoDistance(lon, lat, 0, 0) != null",
    "geoDistance(lat, lon, @request.body.n, count) < 20000",
    "geoDistance(lon, lat, -73.9, 40.7) <= 0.001",
    "geoDistance(lon, lat, 10, 10) < 0.02",
    "geoDistance(lon, lat, title, 1) > 0",
    "strftime('%Y', created) = '2024'",
    "strftime('%Y-%m-%d', created, '+1 day') = '2024-03-06'",
    "strftime('%m', created, 'start of year') = '01'",
    "strftime('%w', created) = '2'",
    "strftime('%j %W %H:%M:%f %s', created) != ''",
    "strftime('%J', created) > '2460000'",
    "strftime('%Y-%m-%d', created, '+1 month') ?= '2024-03-29'",
    "strftime('%Y-%m-%d', created, '-1 months') > '2024'",
    "strftime('%d', created, 'weekday 0') = '10'",
    "strftime('%Y', count, 'unixepoch') = '2023'",
    "strftime('%Y-%m-%d %H', created, '+1.5 days', 'start of day') >= '2024-03-06'",
    "strftime('%Q', created) = null",
    "strftime('%Y', created) = null",
    "strftime('%Y', created) != ''",
    "strftime('%H:%M', created) = '08:11'",
    "strftime('%Y', 2460000.5) = '2023'",
    "strftime('%Y-%m-%d', created, '+1 year', 'start of month') = '2025-03-01'",
    "strftime('%%%Y%%', created) ~ '2024'",
    "strftime('%Y', tags:each) ?= '2024'",
    "strftime('', created) = ''",
    "strftime('%Y', null) = null",
    // combinations and three-valued logic
    "(title = 'Hello' || count > 3) && active = true",
    "title = 'Hello' || count > 3 && active = true",
    "note > 'a' || count > 100",
    "note > 'a' && count > 100",
    "(note > 'a' || count < 100) && price > 1",
    "(tags:each ?= 'a' && nums:each ?> 1) || (title ~ 'z' && note = null)",
    "title != '' && (body ~ 'x' || note ~ 'x') && count >= 0",
};

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

void Bind(sqlite3_stmt* stmt, int index, const util::SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    sqlite3_bind_null(stmt, index);
  } else if (auto* b = std::get_if<bool>(&v)) {
    sqlite3_bind_int(stmt, index, *b ? 1 : 0);
  } else if (auto* i = std::get_if<int64_t>(&v)) {
    sqlite3_bind_int64(stmt, index, *i);
  } else if (auto* d = std::get_if<double>(&v)) {
    sqlite3_bind_double(stmt, index, *d);
  } else {
    const auto& s = std::get<std::string>(v);
    sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
}

util::SqlValue ColumnValue(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return std::monostate{};
    case json::kind::bool_:
      return v.get_bool();
    case json::kind::int64:
      return v.get_int64();
    case json::kind::uint64:
      return static_cast<int64_t>(v.get_uint64());
    case json::kind::double_:
      return v.get_double();
    case json::kind::string:
      return std::string(v.get_string());
    default:
      return json::serialize(v);
  }
}

class EvalDifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_.db), SQLITE_OK);
    std::string ddl = "CREATE TABLE t (id INTEGER PRIMARY KEY";
    for (const auto& c : kColumns) ddl += std::string(", ") + QuoteIdentifier(c.name) + " " + c.decl;
    ddl += ")";
    ASSERT_EQ(sqlite3_exec(db_.db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    std::string insert = "INSERT INTO t VALUES (?";
    for (std::size_t i = 0; i < std::size(kColumns); ++i) insert += ", ?";
    insert += ")";
    for (std::size_t id = 0; id < std::size(kRows); ++id) {
      rows_.push_back(json::parse(kRows[id]).as_object());
      sqlite3_stmt* stmt = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(db_.db, insert.c_str(), -1, &stmt, nullptr), SQLITE_OK);
      sqlite3_bind_int64(stmt, 1, static_cast<int64_t>(id));
      for (std::size_t i = 0; i < std::size(kColumns); ++i) {
        Bind(stmt, static_cast<int>(i + 2), ColumnValue(rows_.back().at(kColumns[i].name)));
      }
      ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
      sqlite3_finalize(stmt);
    }
  }

  std::set<int64_t> SelectIds(const Sql& sql) {
    std::string query = "SELECT id FROM t WHERE " + sql.text + " ORDER BY id";
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_.db, query.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << query << ": " << sqlite3_errmsg(db_.db);
    std::set<int64_t> ids;
    if (!stmt) return ids;
    for (std::size_t i = 0; i < sql.params.size(); ++i) Bind(stmt, static_cast<int>(i + 1), sql.params[i]);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) ids.insert(sqlite3_column_int64(stmt, 0));
    EXPECT_EQ(rc, SQLITE_DONE) << query << ": " << sqlite3_errmsg(db_.db);
    sqlite3_finalize(stmt);
    return ids;
  }

  Db db_;
  std::vector<json::object> rows_;
};

std::string Ids(const std::set<int64_t>& ids) {
  std::string s = "{";
  for (auto id : ids) s += std::to_string(id) + " ";
  return s + "}";
}

TEST_F(EvalDifferentialTest, EvaluatorSelectsTheRowsTheSqlSelects) {
  auto resolver = SqlResolver();
  SqlOptions sql_options;
  sql_options.now = FixedNow();
  EvalOptions eval_options;
  eval_options.now = FixedNow();
  std::size_t discriminating = 0;
  for (const char* filter : kFilters) {
    auto expr = Parse(filter);
    ASSERT_TRUE(expr.has_value()) << filter << ": " << expr.error().message();
    auto sql = BuildSql(*expr, resolver, sql_options);
    ASSERT_TRUE(sql.has_value()) << filter << ": " << sql.error().message();
    auto by_sql = SelectIds(*sql);
    std::set<int64_t> by_eval;
    for (std::size_t id = 0; id < rows_.size(); ++id) {
      auto values = RowResolver(rows_[id]);
      auto match = Evaluate(*expr, values, eval_options);
      ASSERT_TRUE(match.has_value()) << filter << ": " << match.error().message();
      if (*match) by_eval.insert(static_cast<int64_t>(id));
    }
    EXPECT_EQ(by_sql, by_eval) << filter << "\n  SQL:  " << sql->text << "\n  sql selects " << Ids(by_sql)
                               << ", evaluator " << Ids(by_eval);
    discriminating += !by_sql.empty() && by_sql.size() < rows_.size();
  }
  // The table is only a test if most filters split the rows.
  EXPECT_GT(discriminating, std::size(kFilters) * 3 / 4);
}

TEST_F(EvalDifferentialTest, InjectionPayloadsMatchOnlyAsText) {
  auto resolver = SqlResolver();
  for (const char* filter : {"body = \"x' OR '1'='1\"", "title = 'x\\' OR 1=1 --'", "title = \"O'Brien\"",
                             "body ~ \"' OR '\"", "note = '--'"}) {
    auto sql = BuildSql(filter, resolver);
    ASSERT_TRUE(sql.has_value()) << filter;
    auto ids = SelectIds(*sql);
    EXPECT_LE(ids.size(), 1u) << filter;
  }
}

TEST(EvalTest, MacrosUseTheEvaluationClock) {
  TableValueResolver values;
  values.Set("created", "2024-03-05 10:11:12.345Z");
  EvalOptions options;
  options.now = FixedNow();
  for (const char* filter : {"created = @now", "created > @todayStart", "created < @tomorrow", "@year = 2024",
                             "@month = 3", "@day = 5", "@hour = 10", "@minute = 11", "@second = 12", "@weekday = 2",
                             "@monthEnd = '2024-03-31 23:59:59.999Z'", "@yesterday < created"}) {
    auto expr = Parse(filter);
    ASSERT_TRUE(expr.has_value()) << filter;
    auto r = Evaluate(*expr, values, options);
    ASSERT_TRUE(r.has_value()) << filter;
    EXPECT_TRUE(*r) << filter;
  }
}

TEST(EvalTest, StrftimeWithoutTimeIsNow) {
  TableValueResolver values;
  auto expr = Parse("strftime('%Y-%m-%d') = @todayStart ~ '' || strftime('%Y') = '2024'");
  ASSERT_FALSE(expr.has_value());  // `a = b ~ c` is not a comparison chain
  expr = Parse("strftime('%Y') = '2024' && strftime('%m-%d %H') = '03-05 10'");
  ASSERT_TRUE(expr.has_value());
  EvalOptions options;
  options.now = FixedNow();
  auto r = Evaluate(*expr, values, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(*r);
}

TEST(EvalTest, UnsupportedStrftimeModifiersAreErrors) {
  TableValueResolver values;
  values.Set("created", "2024-03-05 10:11:12.345Z");
  auto expr = Parse("strftime('%Y', created, 'localtime') = '2024'");
  ASSERT_TRUE(expr.has_value());
  auto r = Evaluate(*expr, values);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("position 1"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("localtime"), std::string::npos);
}

TEST(EvalTest, UnknownIdentifiersNameTheirPosition) {
  TableValueResolver values;
  values.Set("title", "x");
  auto expr = Parse("title = 'x' || missing = 1");
  ASSERT_TRUE(expr.has_value());
  auto r = Evaluate(*expr, values);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "invalid filter at position 16: unknown field \"missing\"");
}

TEST(EvalTest, ThreeValuedLogic) {
  TableValueResolver values;
  values.Set("n", nullptr).Set("one", 1);
  auto check = [&](const char* filter, bool expected) {
    auto expr = Parse(filter);
    ASSERT_TRUE(expr.has_value()) << filter;
    auto r = Evaluate(*expr, values);
    ASSERT_TRUE(r.has_value()) << filter;
    EXPECT_EQ(*r, expected) << filter;
  };
  check("n > 1", false);
  check("n <= 1", false);
  check("n > 1 || one = 1", true);
  check("n > 1 && one = 1", false);
  check("n = null", true);
  check("n != 1", true);  // PocketBase's IS NOT: NULL differs from 1
  check("one != null", true);
}

}  // namespace
}  // namespace strata::query
