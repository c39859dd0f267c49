#include "common/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace fleet {
namespace {

// Well-formed sequences of every length pass; overlongs, surrogates, code points past U+10FFFF,
// stray continuation bytes and truncated sequences do not.
TEST(Utf8Test, ValidatesPerRfc3629) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                             // overlong "/"
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));                         // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                         // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));                     // U+110000
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));  // truncated
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

// A cut inside a multi-byte character backs off to the character's start, so the result stays
// valid: 1,023 ASCII bytes and a two-byte character cut at 1,024 keep the ASCII only.
TEST(Utf8Test, TruncatesAtCharacterBoundary) {
  const std::string text = std::string(1023, 'a') + "\xC3\xA9";
  const std::string_view cut = TruncateUtf8(text, 1024);
  EXPECT_EQ(cut.size(), 1023u);
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_EQ(TruncateUtf8("short", 1024), "short");
  EXPECT_EQ(TruncateUtf8("\xF0\x9F\x98\x80", 3), "");
}

// Ill-formed bytes become U+FFFD, and the result is cut to the limit at a boundary.
TEST(Utf8Test, SanitizesIllFormedBytes) {
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b",
                         100),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeUtf8("abc\xC3\xA9", 4), "abc");
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8("\xED\xA0\x80\xC0", 100)));
}

// Errors quote at most 64 bytes, escape what a terminal would act on, and mark the cut.
TEST(Utf8Test, QuotesForErrors) {
  EXPECT_EQ(QuoteForError("web"), "\"web\"");
  EXPECT_EQ(QuoteForError("a\x1b[2J\"\\\n"), "\"a\\x1b[2J\\\"\\\\\\n\"");
  const std::string quoted = QuoteForError(std::string(10000, 'x'));
  EXPECT_EQ(quoted, "\"" + std::string(64, 'x') + "\"...");
  EXPECT_EQ(QuoteForError("\xFF"), "\"\\xff\"");
}

}  // namespace
}  // namespace fleet
