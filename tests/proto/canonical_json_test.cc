#include "fleet/v1/canonical_json.h"

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::v1 {
namespace {

using nlohmann::json;

std::string Canonical(std::string_view text) {
  absl::StatusOr<json> value = ParseJsonObject(text, "spec");
  EXPECT_OK(value);
  return value.ok() ? CanonicalJson(*value) : "";
}

// The canonical form of `number` alone, as the member of an object.
std::string CanonicalNumber(double number) {
  const std::string object = CanonicalJson(json{{"n", number}});
  return object.substr(5, object.size() - 6);  // {"n":...}
}

absl::Status ParseError(std::string_view text) { return ParseJsonObject(text, "spec").status(); }

// RFC 8785 Appendix B: IEEE-754 doubles (as hex bits) and their canonical text.
TEST(CanonicalJsonTest, NumbersAsAppendixB) {
  const std::vector<std::pair<uint64_t, std::string>> vectors = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& [bits, text] : vectors) {
    EXPECT_EQ(CanonicalNumber(std::bit_cast<double>(bits)), text) << std::hex << bits;
  }
}

// Appendix B's NaN and Infinity have no JSON form: the serializer writes null (no parse yields
// them), and the parser refuses a number too big for a double.
TEST(CanonicalJsonTest, NonFiniteNumbers) {
  EXPECT_EQ(CanonicalNumber(std::bit_cast<double>(uint64_t{0x7fffffffffffffff})), "null");
  EXPECT_EQ(CanonicalNumber(std::bit_cast<double>(uint64_t{0x7ff0000000000000})), "null");
}

// The numbers of the issue, as written in a spec: what a JCS library makes of them.
TEST(CanonicalJsonTest, NumbersAsWritten) {
  EXPECT_EQ(Canonical(R"({"a":[1e23,1234567890123456.7,1.0,1e-7,-0,-0.0,1E30,4.50,2e-3]})"),
            R"({"a":[1e+23,1234567890123456.8,1,1e-7,0,0,1e+30,4.5,0.002]})");
  EXPECT_EQ(Canonical(R"({"a":[9007199254740991,-9007199254740991,0.000001,1e21,1.5e300]})"),
            R"({"a":[9007199254740991,-9007199254740991,0.000001,1e+21,1.5e+300]})");
}

// RFC 8785 section 3.2.2: the sample input and its canonical form.
TEST(CanonicalJsonTest, PrimitivesAsSection322) {
  const std::string input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  EXPECT_EQ(Canonical(input),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3: members sorted by UTF-16 code units, so the emoji (a surrogate pair,
// D83D DE00) sorts before U+FB33 though its code point is greater.
TEST(CanonicalJsonTest, SortingAsSection323) {
  const std::string input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  EXPECT_EQ(Canonical(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// Names sharing a high surrogate are ordered by the low one; a prefix sorts first; U+FFFF after
// every character above it.
TEST(CanonicalJsonTest, SortingWithinSurrogatePairs) {
  EXPECT_EQ(Canonical(R"({"\uffff":1,"\ud83d\ude01":2,"\ud83d\ude00":3,"a":4,"ab":5,"":6})"),
            "{\"\":6,\"a\":4,\"ab\":5,\"\xF0\x9F\x98\x80\":3,\"\xF0\x9F\x98\x81\":2,"
            "\"\xEF\xBF\xBF\":1}");
}

// Only '"', '\' and control characters are escaped; short forms where JSON has them; DEL and
// everything above as raw UTF-8.
TEST(CanonicalJsonTest, StringEscapes) {
  EXPECT_EQ(
      Canonical(R"({"s":"\u0000\u0001\b\t\n\u000b\f\r\u001f \u007f\/\u00e9\ud834\udd1e"})"),
      "{\"s\":\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \x7F/\xC3\xA9\xF0\x9D\x84\x9E\"}");
}

// Canonical text parses again to itself, white space and nesting included.
TEST(CanonicalJsonTest, CanonicalFormIsAFixedPoint) {
  const std::string canonical =
      Canonical(" {\n\"b\" : [ {\"y\":0.1, \"x\":[ ]} , { } ], \"a\":\"\\u00e9\", \"c\":-1e-7 }\n");
  EXPECT_EQ(canonical, "{\"a\":\"\xC3\xA9\",\"b\":[{\"x\":[],\"y\":0.1},{}],\"c\":-1e-7}");
  EXPECT_EQ(Canonical(canonical), canonical);
}

// The issue's example: the path names the member, the message says what to do.
TEST(CanonicalJsonTest, RefusesAnIntegerBeyondTheSafeRange) {
  const absl::Status status =
      ParseJsonObject(R"({"limits":{"max":12345678901234567890}})", "spec").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.limits.max: 12345678901234567890 cannot be represented exactly; quote it as a "
            "string");
}

// Each integer just past +-(2^53-1), in int64, uint64 and beyond both, is refused; the bounds
// themselves are not.
TEST(CanonicalJsonTest, RefusesIntegersPastTheBoundsOnly) {
  for (const char* integer : {"9007199254740992", "-9007199254740992", "18446744073709551615",
                              "-9223372036854775808", "123456789012345678901234567890"}) {
    const absl::Status status = ParseError(absl::StrCat(R"({"a":[0,)", integer, "]}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << integer;
    EXPECT_EQ(status.message(),
              absl::StrCat("spec.a[1]: ", integer,
                           " cannot be represented exactly; quote it as a string"));
  }
  EXPECT_OK(ParseJsonObject(R"({"a":[9007199254740991,-9007199254740991]})", "spec"));
}

// A number written with a fraction or exponent whose canonical form would be an integer beyond
// the safe range is refused too (else its canonical form would not parse again).
TEST(CanonicalJsonTest, RefusesFloatsThatCanonicalizeToUnsafeIntegers) {
  for (const char* number : {"1e20", "9007199254740993.0", "-1.5e17"}) {
    const absl::Status status = ParseError(absl::StrCat(R"({"a":)", number, "}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << number;
    EXPECT_EQ(status.message(),
              absl::StrCat("spec.a: ", number,
                           " is an integer beyond +-(2^53-1), which cannot be represented "
                           "exactly; quote it as a string"));
  }
}

// Numbers beyond the range of a double are refused, not made infinite.
TEST(CanonicalJsonTest, RefusesNumbersOutsideDoubleRange) {
  for (const char* number : {"1e400", "-1e400", "1.8e308"}) {
    const absl::Status status = ParseError(absl::StrCat(R"({"x":{"y":[)", number, "]}})"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << number;
    EXPECT_EQ(status.message(),
              absl::StrCat("spec.x.y[0]: ", number, " is outside the range of an IEEE 754 double"));
  }
}

// A long number is quoted cut at 64 bytes.
TEST(CanonicalJsonTest, QuotesAtMost64BytesOfANumber) {
  const std::string digits(100, '7');
  const absl::Status status = ParseError(absl::StrCat(R"({"a":)", digits, "}"));
  EXPECT_EQ(status.message(), absl::StrCat("spec.a: ", digits.substr(0, 64),
                                           "... cannot be represented exactly; quote it as a "
                                           "string"));
}

// Duplicate member names are refused, at any depth, naming the member.
TEST(CanonicalJsonTest, RefusesDuplicateMemberNames) {
  EXPECT_EQ(ParseError(R"({"a":1,"a":1})").message(), "spec.a: duplicate member name");
  EXPECT_EQ(ParseError(R"({"a":[{"b":1},{"c":{"d":1,"d":2}}]})").message(),
            "spec.a[1].c.d: duplicate member name");
  EXPECT_EQ(ParseError(R"({"a b":{},"a b":{}})").message(), "spec[\"a b\"]: duplicate member name");
  EXPECT_EQ(ParseError(R"({"a":{},"a":{}})").code(), absl::StatusCode::kInvalidArgument);
}

// Ill-formed UTF-8, raw (a bad byte, an overlong form, an encoded surrogate) or escaped (a lone
// high or low surrogate), is refused with the path and a bounded, escaped quote of the input.
TEST(CanonicalJsonTest, RefusesIllFormedUtf8AndLoneSurrogates) {
  for (const std::string& bad :
       {std::string("\xFF"), std::string("\xC0\xAF"), std::string("\xED\xA0\x80"),
        std::string("\\ud800"), std::string("\\udc00x"), std::string("\\ud800\\u0041")}) {
    const absl::Status status = ParseError(absl::StrCat(R"({"ok":"fine","s":[")", bad, R"("]})"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(status.message(),
                                 "spec.s[0]: not valid JSON: parse error at "
                                 "line 1, column "))
        << status.message();
    EXPECT_TRUE(fleet::IsValidUtf8(std::string(status.message()))) << status.message();
  }
  // In a member name: the path is the object's.
  EXPECT_TRUE(absl::StartsWith(ParseError("{\"a\":{\"\xFF\":1}}").message(), "spec.a: "));
}

// A syntax error names the line and column, and quotes the input before it, at most 64 bytes.
TEST(CanonicalJsonTest, SyntaxErrorsAreBounded) {
  const std::string long_string(100000, 'x');
  const absl::Status status = ParseError(absl::StrCat("{\"a\":\n\"", long_string, "\xFF\"}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(status.message().size(), 400u) << status.message();
  EXPECT_TRUE(absl::StrContains(status.message(), "line 2")) << status.message();
  EXPECT_TRUE(absl::StrContains(status.message(), "xxx\\xff")) << status.message();
  EXPECT_EQ(ParseError("{\"a\":1,}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseError("{} {}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseError("").code(), absl::StatusCode::kInvalidArgument);
}

// Only an object is a spec.
TEST(CanonicalJsonTest, RefusesOtherTopLevelValues) {
  EXPECT_EQ(ParseError("[1]").message(), "spec must be a JSON object, not array");
  EXPECT_EQ(ParseError("\"s\"").message(), "spec must be a JSON object, not string");
  EXPECT_EQ(ParseError("3").message(), "spec must be a JSON object, not number");
}

// 64 levels are accepted, 65 refused, naming where; a deep path is cut to its end.
TEST(CanonicalJsonTest, BoundsTheDepth) {
  auto nested = [](int levels) {
    std::string text;
    for (int i = 1; i < levels; ++i) text += "{\"a\":";
    text += "{}";
    for (int i = 1; i < levels; ++i) text += "}";
    return text;
  };
  EXPECT_OK(ParseJsonObject(nested(kMaxSpecDepth), "spec"));
  const absl::Status status = ParseError(nested(kMaxSpecDepth + 1));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::EndsWith(status.message(), ".a.a: nests objects and arrays more than 64 levels deep"))
      << status.message();
  EXPECT_EQ(ParseError(std::string(100000, '[')).code(), absl::StatusCode::kInvalidArgument);
  std::string deep_array = "{\"a\":" + std::string(100000, '[');
  EXPECT_LT(ParseError(deep_array).message().size(), 400u);
}

// The input limit, and the limit on the canonical form, which can be longer than the input.
TEST(CanonicalJsonTest, BoundsTheSize) {
  EXPECT_EQ(ParseError(std::string(kMaxSpecBytes + 1, ' ')).code(),
            absl::StatusCode::kResourceExhausted);
  // 1e-6 (4 bytes) is 0.000001 (8 bytes) in canonical form.
  std::string spec = "{\"a\":[1e-6";
  while (spec.size() < kMaxSpecBytes - 10) spec += ",1e-6";
  spec += "]}";
  ASSERT_OK(ParseJsonObject(spec, "spec_json"));
  const absl::StatusOr<CanonicalSpec> canonical = ParseCanonicalSpec(spec, "spec_json");
  EXPECT_EQ(canonical.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(canonical.status().message(), "in canonical form (RFC 8785)"))
      << canonical.status().message();
  ASSERT_OK_AND_ASSIGN(CanonicalSpec small, ParseCanonicalSpec(R"({ "b":1.0, "a":[] })", "spec"));
  EXPECT_EQ(small.canonical, R"({"a":[],"b":1})");
  EXPECT_EQ(small.value, json::parse(R"({"a":[],"b":1})"));
}

// A spec stored before RFC 8785 (nlohmann's text) parses with its numbers as they were, and its
// canonical form is RFC 8785's.
TEST(CanonicalJsonTest, StoredSpecsOfTheOldForm) {
  ASSERT_OK_AND_ASSIGN(
      json stored,
      ParseStoredJsonObject(R"({"a":[9.999999999999999e+22,1.0,1e-07,12345678901234567890]})",
                            "stored spec"));
  EXPECT_EQ(CanonicalJson(stored), R"({"a":[1e+23,1,1e-7,12345678901234567000]})");
  EXPECT_EQ(ParseStoredJsonObject(R"({"a":1,"a":2})", "stored spec").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The hash is SHA-256 of the canonical bytes, in lowercase hex.
TEST(CanonicalJsonTest, Sha256Hex) {
  EXPECT_EQ(Sha256Hex("{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

}  // namespace
}  // namespace fleet::v1
