#include "api/fields.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kHtml =
    "<script>var a = 123;</script>   <p>Hello</p><div id=\"test_id\">t   est<b>12\n\t3</b><span>456</span></div>"
    "<span>word <b>7</b> 89<span>!<b>?</b><b> a </b><b>b </b>c</span>#<h1>title</h1>";
constexpr std::string_view kHtmlText = "Hello t est12 3456 word 7 89!? a b c# title";

// The picked data, or "error: <message>".
std::string Pick(std::string_view data, std::string_view fields) {
  auto picker = FieldPicker::Parse(fields);
  if (!picker) return "error: " + picker.error().message();
  json::value v = json::parse(data);
  picker->Apply(v);
  return json::serialize(v);
}

struct PickCase {
  const char* name;
  const char* data;
  const char* fields;
  const char* expected;  // JSON (compared as values), or "error: <message>"
};

TEST(FieldPickerTest, Picks) {
  const PickCase cases[] = {
      {"no fields", R"({"a":1,"b":2,"c":"test"})", "", R"({"a":1,"b":2,"c":"test"})"},
      {"blank fields", R"({"a":1,"b":2,"c":"test"})", " , ,", R"({"a":1,"b":2,"c":"test"})"},
      {"missing field", R"({"a":1,"b":2,"c":"test"})", "missing", "{}"},
      {"array of strings", R"(["a","b","test"])", "a,test", R"(["a","b","test"])"},
      {"empty array", "[]", "a", "[]"},
      {"scalar", "12", "a", "12"},
      {"object", R"({"a":1,"b":2,"c":"test"})", "a,  c  ,missing", R"({"a":1,"c":"test"})"},
      {"list of objects", R"([{"a":1,"b":2,"c":"test"},{"a":3,"b":4,"c":"test2"}])", "a,c",
       R"([{"a":1,"c":"test"},{"a":3,"c":"test2"}])"},
      {"wildcard with a nested field", R"({"id":"123","title":"lorem","rel":{"id":"456","title":"rel_title"}})",
       "*,rel.id", R"({"id":"123","title":"lorem","rel":{"id":"456"}})"},
      {"nested wildcard",
       R"({"id":"123","title":"lorem","rel":{"id":"456","title":"rel_title","sub":{"id":"789","title":"sub_title"}}})",
       "id,rel.*", R"({"id":"123","rel":{"id":"456","title":"rel_title","sub":{"id":"789","title":"sub_title"}}})"},
      {"nested wildcard with a deeper field",
       R"({"id":"123","title":"lorem","rel":{"id":"456","title":"rel_title","sub":{"id":"789","title":"sub_title"}}})",
       "id,rel.*,rel.sub.id", R"({"id":"123","rel":{"id":"456","title":"rel_title","sub":{"id":"789"}}})"},
      {"a whole key beats its nested fields", R"({"rel":{"id":"1","title":"t"}})", "rel.id,rel",
       R"({"rel":{"id":"1","title":"t"}})"},
      {"nested list of objects", R"({"items":[{"a":1,"b":2},{"a":3,"b":4}],"x":1})", "items.a",
       R"({"items":[{"a":1},{"a":3}]})"},
      {"nested list of scalars", R"({"tags":["a","b"],"x":1})", "tags.a", R"({"tags":["a","b"]})"},
      {"key prefix is not a parent", R"({"ab":1,"a":{"b":2}})", "a.b", R"({"a":{"b":2}})"},
      {"excerpt on the wildcard", R"({"id":"12","title":"lorem","rel":{"id":"456","title":"<p>rel_title</p>"}})",
       "*:excerpt(2),rel.title:excerpt(3, true)", R"({"id":"12","rel":{"title":"rel..."},"title":"lo"})"},
      {"excerpt on non-strings", R"({"n":123456,"o":{"a":"long text"},"l":["long text"]})",
       "n:excerpt(2),o:excerpt(2),l:excerpt(2)", R"({"n":123456,"o":{"a":"long text"},"l":["long text"]})"},
      {"a later duplicate replaces the earlier", R"({"a":"abcdef"})", "a:excerpt(2),a", R"({"a":"abcdef"})"},
      {"a later duplicate modifier", R"({"a":"abcdef"})", "a,a:excerpt(2,1)", R"({"a":"ab..."})"},
      {"wildcard without arguments", R"({"a":1})", "*:excerpt",
       "error: max argument is required - expected (max, withEllipsis?)"},
      {"unknown modifier", R"({"a":1})", "a:upper", "error: missing or invalid modifier \"upper\""},
      {"empty modifier", R"({"a":1})", "a:", "error: invalid or empty modifier expression \"\""},
      {"empty modifier expression", R"({"a":1})", "a:( , )", "error: invalid or empty modifier expression \"( , )\""},
      {"unbalanced parenthesis", R"({"a":1})", "a:excerpt(2", "error: unbalanced parenthesis or quoted expression"},
      {"unbalanced quote", R"({"a":1})", "a,'b", "error: unbalanced parenthesis or quoted expression"},
  };
  for (const auto& c : cases) {
    const std::string got = Pick(c.data, c.fields);
    if (std::string_view(c.expected).starts_with("error: ")) {
      EXPECT_EQ(got, c.expected) << c.name;
    } else if (got.starts_with("error: ")) {
      ADD_FAILURE() << c.name << ": " << got;
    } else {
      EXPECT_EQ(json::parse(got), json::parse(c.expected)) << c.name << ": " << got;
    }
  }
}

TEST(FieldPickerTest, EmptyOnlyWithoutFields) {
  EXPECT_TRUE(FieldPicker::Parse("")->empty());
  EXPECT_TRUE(FieldPicker::Parse(" ,, ")->empty());
  EXPECT_FALSE(FieldPicker::Parse("id")->empty());
}

TEST(FieldPickerTest, KeepsKeyOrder) {
  EXPECT_EQ(Pick(R"({"z":1,"b":2,"a":3,"m":{"y":1,"x":2,"w":3}})", "a,m.w,z,m.y"),
            R"({"z":1,"a":3,"m":{"y":1,"w":3}})");
  EXPECT_EQ(Pick(R"({"z":1,"b":2,"a":3})", "*"), R"({"z":1,"b":2,"a":3})");
}

TEST(FieldPickerTest, QuotedAndParenthesizedCommas) {
  // The comma inside the parentheses belongs to the modifier, not to the list of fields.
  EXPECT_EQ(Pick(R"({"a":"abcdef","b":1})", "a:excerpt(3,true), b"), R"({"a":"abc...","b":1})");
  EXPECT_EQ(Pick(R"({"a,b":1,"a":2})", "'a,b'"), "{}");
}

struct ArgumentCase {
  const char* modifier;
  const char* error;  // nullptr: accepted
};

TEST(FieldPickerTest, ExcerptArguments) {
  const ArgumentCase cases[] = {
      {"excerpt", "max argument is required - expected (max, withEllipsis?)"},
      {"excerpt()", "max argument is required - expected (max, withEllipsis?)"},
      {"excerpt(1, 2, 3)", "too many arguments - expected (max, withEllipsis?)"},
      {"excerpt(something)", "max argument must be > 0"},
      {"excerpt(-1)", "max argument must be > 0"},
      {"excerpt(0)", "max argument must be > 0"},
      {"excerpt(0x)", "max argument must be > 0"},
      {"excerpt(12)", nullptr},
      {"excerpt(12, something)", nullptr},
      {"excerpt(12, t)", nullptr},
      {"excerpt(0x10)", nullptr},
      {"excerpt(010)", nullptr},
      {"excerpt(1_000)", nullptr},
      {"excerpt(12.7)", nullptr},
  };
  for (const auto& c : cases) {
    auto picker = FieldPicker::Parse(std::string("a:") + c.modifier);
    if (c.error) {
      ASSERT_FALSE(picker.has_value()) << c.modifier;
      EXPECT_EQ(picker.error().code(), util::Status::Code::kInvalidArgument) << c.modifier;
      EXPECT_EQ(picker.error().message(), c.error) << c.modifier;
    } else {
      EXPECT_TRUE(picker.has_value()) << c.modifier << ": " << picker.error().message();
    }
  }
}

TEST(FieldPickerTest, ExcerptMaxIsReadAsAnInteger) {
  const std::string text(40, 'x');
  const std::string data = R"({"a":")" + text + R"("})";
  auto length = [&](const char* fields) {
    return static_cast<int>(json::parse(Pick(data, fields)).at("a").as_string().size());
  };
  EXPECT_EQ(length("a:excerpt(0x10)"), 16);
  EXPECT_EQ(length("a:excerpt(010)"), 8);
  EXPECT_EQ(length("a:excerpt(12.7)"), 12);
  EXPECT_EQ(length("a:excerpt(1_0)"), 10);
}

TEST(FieldPickerTest, ExcerptEllipsisFlag) {
  for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_EQ(Pick(R"({"a":"abcdef"})", std::string("a:excerpt(2,") + yes + ")"), R"({"a":"ab..."})") << yes;
  }
  for (const char* no : {"0", "f", "false", "yes", "tRUE", "2"}) {
    EXPECT_EQ(Pick(R"({"a":"abcdef"})", std::string("a:excerpt(2,") + no + ")"), R"({"a":"ab"})") << no;
  }
}

struct ExcerptCase {
  std::string_view html;
  int64_t max;
  bool ellipsis;
  std::string_view expected;
};

TEST(ExcerptTextTest, PlainText) {
  const ExcerptCase cases[] = {
      {kHtml, 2, false, "He"},
      {kHtml, 2, true, "He..."},
      {kHtml, static_cast<int64_t>(kHtmlText.size()), true, kHtmlText},
      {kHtml, 1000, false, kHtmlText},
      {kHtml, static_cast<int64_t>(kHtmlText.size()) - 1, true, "Hello t est12 3456 word 7 89!? a b c# titl..."},
      {"аб\nв ", 4, true, "аб в"},
      {"аб\nв ", 3, true, "аб..."},
      {"lorem", 2, false, "lo"},
      {"lorem", 5, true, "lorem"},
      {"hello world", 6, true, "hello..."},  // the cut is trimmed before the ellipsis
      {"", 3, true, ""},
      {"   ", 3, true, ""},
      {"a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &#x41;&#66; f&nbsp;g", 100, false,
       "a & b <c> \"d\" 'e' AB f\u00a0g"},
      {"AT&T &unknown; &", 100, false, "AT&T &unknown; &"},
      {"a<!-- hidden <p>x</p> -->b<!---->c", 100, false, "abc"},
      {"<style>p{color:red}</style><p>a</p><textarea>b</textarea><select><option>c</option></select>d", 100, false,
       "a d"},
      {"<form><button>x</button><input value='y'>z</form>w<img src=\"a>b\">v", 100, false, "wv"},
      {"<svg><svg></svg><text>x</text></svg>a<svg/>b", 100, false, "ab"},
      {"<title>Document</title><p>Hello</p>", 100, false, "Hello"},
      {"<p>Hello</p><title>Document</title>", 100, false, "Hello Document"},
      {"a<br>b<hr>c<span>d</span>e", 100, false, "ab cde"},
      {"<div class='x > y'>a</div>b", 100, false, "a b"},
      {"1 < 2 <3 a</", 100, false, "1 < 2 <3 a</"},
      {"<p>unterminated <b", 100, false, "unterminated"},
      {"<script>if (a < b) document.write('</p>');</script>ok", 100, false, "ok"},
      {"<SCRIPT>x</Script >y", 100, false, "y"},
      {"<html><head><meta charset=utf-8><title>T</title></head><body><h1>Head</h1>text</body></html>", 100, false,
       "Head text"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ExcerptText(c.html, c.max, c.ellipsis), c.expected) << c.html << " (" << c.max << ")";
  }
}

TEST(ExcerptTextTest, StopsReadingPastTheLimit) {
  std::string html;
  for (int i = 0; i < 10000; ++i) html += "<p>paragraph</p>";
  EXPECT_EQ(ExcerptText(html, 12, true), "paragraph pa...");
}

}  // namespace
}  // namespace strata::api
