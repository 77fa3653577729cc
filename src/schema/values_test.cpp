#include "schema/values.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::schema {
namespace {

Field MakeField(FieldType type, std::string_view options = "{}", bool required = false) {
  Field f;
  f.name = "f";
  f.type = type;
  f.required = required;
  f.options = boost::json::parse(options).as_object();
  return f;
}

struct Case {
  FieldType type;
  const char* options;
  bool required;
  const char* input;  // JSON
  const char* cast;   // JSON of the canonical value
  const char* error;  // expected code, or ""
};

class ValueCases : public ::testing::TestWithParam<Case> {};

TEST_P(ValueCases, CastAndValidate) {
  const auto& c = GetParam();
  const Field f = MakeField(c.type, c.options, c.required);
  const auto cast = CastValue(f, boost::json::parse(c.input));
  if (std::string(c.cast) != "*") {
    EXPECT_EQ(boost::json::serialize(cast), c.cast) << c.input;
  }
  const auto err = ValidateValue(f, cast);
  EXPECT_EQ(err ? err->code : "", c.error) << c.input << " → " << boost::json::serialize(cast);
}

INSTANTIATE_TEST_SUITE_P(
    Text, ValueCases,
    ::testing::Values(Case{FieldType::kText, "{}", false, R"("hi")", R"("hi")", ""},
                      Case{FieldType::kText, "{}", true, R"("")", R"("")", "validation_required"},
                      Case{FieldType::kText, "{}", false, "12", R"("12")", ""},
                      Case{FieldType::kText, "{}", false, "null", R"("")", ""},
                      Case{FieldType::kText, R"({"min":3})", false, R"("ab")", "*", "validation_min_text_constraint"},
                      Case{FieldType::kText, R"({"max":3})", false, R"("abcd")", "*", "validation_max_text_constraint"},
                      Case{FieldType::kText, R"({"max":3})", false, R"("äöü")", "*", ""},
                      Case{FieldType::kText, R"({"pattern":"^[a-z]+$"})", false, R"("abc1")", "*",
                           "validation_invalid_format"}));

// A json field takes a string that is JSON as that JSON, as PocketBase (multipart bodies send
// every value as a string).
INSTANTIATE_TEST_SUITE_P(Json, ValueCases,
                         ::testing::Values(Case{FieldType::kJson, "{}", false, R"("[1,2]")", "[1,2]", ""},
                                           Case{FieldType::kJson, "{}", false, R"("{\"a\":1}")", R"({"a":1})", ""},
                                           Case{FieldType::kJson, "{}", false, R"("true")", "true", ""},
                                           Case{FieldType::kJson, "{}", false, R"("null")", "null", ""},
                                           Case{FieldType::kJson, "{}", false, R"("-12.5")", "-1.25E1", ""},
                                           Case{FieldType::kJson, "{}", false, R"("\"quoted\"")", R"("quoted")", ""},
                                           Case{FieldType::kJson, "{}", false, R"("12 apples")", R"("12 apples")", ""},
                                           Case{FieldType::kJson, "{}", false, R"("hello")", R"("hello")", ""},
                                           Case{FieldType::kJson, "{}", false, R"(" [1]")", R"(" [1]")", ""},
                                           Case{FieldType::kJson, "{}", true, R"("")", R"("")", "validation_required"},
                                           Case{FieldType::kJson, "{}", false, R"({"a":[1]})", R"({"a":[1]})", ""},
                                           Case{FieldType::kJson, "{}", false, R"("1e999")", R"("1e999")", ""},
                                           Case{FieldType::kJson, "{}", false, R"({"a":[1e999]})", "*",
                                                "validation_invalid_json"}));

INSTANTIATE_TEST_SUITE_P(
    Numbers, ValueCases,
    ::testing::Values(
        Case{FieldType::kNumber, "{}", false, "1.5", "1.5E0", ""},
        Case{FieldType::kNumber, "{}", false, R"("42")", "42", ""},
        Case{FieldType::kNumber, "{}", false, R"("abc")", "*", "validation_not_a_number"},
        Case{FieldType::kNumber, "{}", true, "0", "0", "validation_required"},
        Case{FieldType::kNumber, R"({"onlyInt":true})", false, "1.5", "*", "validation_only_int_constraint"},
        Case{FieldType::kNumber, R"({"min":1,"max":5})", false, "6", "*", "validation_max_number_constraint"},
        Case{FieldType::kNumber, R"({"min":1,"max":5})", false, "0.5", "*", "validation_min_number_constraint"},
        // Zero is no value: an optional field with a minimum may be left out.
        Case{FieldType::kNumber, R"({"min":1,"max":5})", false, "0", "0", ""},
        Case{FieldType::kBool, "{}", false, R"("true")", "true", ""},
        Case{FieldType::kBool, "{}", true, "false", "false", "validation_required"}));

INSTANTIATE_TEST_SUITE_P(Choices, ValueCases,
                         ::testing::Values(Case{FieldType::kSelect, R"({"values":["a","b"],"maxSelect":1})", false,
                                                R"("a")", R"("a")", ""},
                                           Case{FieldType::kSelect, R"({"values":["a","b"],"maxSelect":1})", false,
                                                R"("c")", "*", "validation_invalid_value"},
                                           Case{FieldType::kSelect, R"({"values":["a","b","c"],"maxSelect":2})", false,
                                                R"(["a","a","b"])", R"(["a","b"])", ""},
                                           Case{FieldType::kSelect, R"({"values":["a","b","c"],"maxSelect":2})", false,
                                                R"(["a","b","c"])", "*", "validation_too_many_values"},
                                           Case{FieldType::kSelect, R"({"values":["a","b"],"maxSelect":2})", true, "[]",
                                                "[]", "validation_required"},
                                           Case{FieldType::kRelation, R"({"maxSelect":5,"minSelect":2})", false,
                                                R"("abc")", R"(["abc"])", "validation_not_enough_values"}));

INSTANTIATE_TEST_SUITE_P(
    Formats, ValueCases,
    ::testing::Values(
        Case{FieldType::kEmail, "{}", false, R"("a@b.co")", R"("a@b.co")", ""},
        Case{FieldType::kEmail, "{}", false, R"("not an email")", "*", "validation_is_email"},
        Case{FieldType::kEmail, R"({"onlyDomains":["example.com"]})", false, R"("a@b.co")", "*",
             "validation_email_domain_not_allowed"},
        Case{FieldType::kUrl, "{}", false, R"("https://example.com/x?y")", "*", ""},
        Case{FieldType::kUrl, "{}", false, R"("javascript alert")", "*", "validation_is_url"},
        Case{FieldType::kDate, "{}", false, R"("2024-02-29 10:00:00Z")", R"("2024-02-29 10:00:00.000Z")", ""},
        Case{FieldType::kDate, "{}", false, R"("2024-05-01T12:30:00.5+02:00")", R"("2024-05-01 10:30:00.500Z")", ""},
        Case{FieldType::kDate, "{}", false, R"("2023-02-30")", "*", "validation_invalid_datetime"},
        Case{FieldType::kDate, "{}", false, R"("yesterday")", "*", "validation_invalid_datetime"},
        Case{FieldType::kGeoPoint, "{}", false, R"({"lon":13.4,"lat":52.5})", "*", ""},
        Case{FieldType::kGeoPoint, "{}", false, R"({"lon":200,"lat":0})", "*", "validation_invalid_longitude"},
        Case{FieldType::kJson, R"({"maxSize":10})", false, R"({"a":"0123456789"})", "*", "validation_json_size_limit"},
        Case{FieldType::kJson, "{}", true, "null", "null", "validation_required"}));

// Patterns are Go's (RE2) syntax, and matching a long value neither recurses nor backtracks: a
// value of 200,000 characters against patterns that overflow a backtracking matcher's stack, or
// take it exponential time, is answered at once.
TEST(ValuesTest, PatternsAreLinearTimeAndGoSyntax) {
  const Field f = MakeField(FieldType::kText, R"({"pattern":"^(a|b)*$","max":1000000})");
  EXPECT_FALSE(ValidateValue(f, boost::json::value(std::string(200000, 'a'))));
  EXPECT_EQ(ValidateValue(f, boost::json::value(std::string(200000, 'a') + "c"))->code, "validation_invalid_format");

  const Field nested = MakeField(FieldType::kText, R"({"pattern":"^(a+)+$","max":1000000})");
  EXPECT_EQ(ValidateValue(nested, boost::json::value(std::string(100000, 'a') + "b"))->code,
            "validation_invalid_format");

  const Field flags = MakeField(FieldType::kText, R"({"pattern":"(?i)^abc$"})");
  EXPECT_FALSE(ValidateValue(flags, boost::json::value("ABC")));
  const Field named = MakeField(FieldType::kText, R"({"pattern":"^(?P<year>\\d{4})-\\d{2}$"})");
  EXPECT_FALSE(ValidateValue(named, boost::json::value("2026-11")));
  // Go's other spelling of a named group; "(?<" inside a class or after an escape is left alone.
  const Field go_named = MakeField(FieldType::kText, R"({"pattern":"^(?<year>\\d{4})[(?<]+\\(?<$"})");
  EXPECT_FALSE(ValidateValue(go_named, boost::json::value("2026(?<(<")));
  EXPECT_TRUE(ValidateValue(go_named, boost::json::value("2026-(?<")));
  const Field bracket = MakeField(FieldType::kText, R"({"pattern":"^[]a]+$"})");
  EXPECT_FALSE(ValidateValue(bracket, boost::json::value("]a]")));
  // Long bounded repetitions of large classes compile.
  const Field wide = MakeField(FieldType::kText, R"({"pattern":"^[\\p{L}\\p{N}_ -]{3,1000}$"})");
  EXPECT_FALSE(ValidateValue(wide, boost::json::value("Ünïcode name_1")));
  // Look-behind is in neither Go's syntax nor RE2's.
  EXPECT_EQ(CompilePattern("(?<=a)b"), nullptr);
}

TEST(ValuesTest, SqlForms) {
  EXPECT_EQ(std::get<std::string>(
                ToSqlValue(MakeField(FieldType::kSelect, R"({"maxSelect":3})"), boost::json::parse(R"(["a","b"])"))),
            R"(["a","b"])");
  EXPECT_EQ(std::get<int64_t>(ToSqlValue(MakeField(FieldType::kBool), true)), 1);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(ToSqlValue(MakeField(FieldType::kJson), nullptr)));
  EXPECT_EQ(Utf8Length("äöü"), 3u);
}

}  // namespace
}  // namespace strata::schema
