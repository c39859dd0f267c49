// What fleetctl prints: tables, the JSON shapes of resources, the rollout progress line.
#include "cli/output.h"

#include <sstream>

#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/table_writer.h"
#include "cli/terminal_text.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

// Columns line up three spaces apart; short rows are padded; no trailing spaces.
TEST(TableWriterTest, AlignsColumns) {
  TableWriter table({"NAME", "REVISION", "DESCRIPTION"});
  table.AddRow({"linux-servers", "12", "All Linux"});
  table.AddRow({"a", "3"});
  std::ostringstream out;
  table.Write(out);
  EXPECT_EQ(out.str(),
            "NAME            REVISION   DESCRIPTION\n"
            "linux-servers   12         All Linux\n"
            "a               3\n");
}

// A hostname with a newline and escape sequences stays in its cell: no fake row, no screen
// clearing, no C1 controls, ill-formed bytes shown as \x escapes; columns align by characters.
TEST(TableWriterTest, EscapesTerminalControls) {
  TableWriter table({"ID", "HOSTNAME", "POLICY"});
  table.AddRow({"a1", "evil\n1f   fake-host   linux\x1b[2J\x1b]0;t\x07", "p"});
  table.AddRow({"a2",
                "c1\xc2\x9b"
                "31m bidi\xe2\x80\xae bad\xff\xfe",
                "p"});
  table.AddRow({"a3", "h\xc3\xa9", "p"});
  std::ostringstream out;
  table.Write(out);
  EXPECT_EQ(out.str(),
            "ID   HOSTNAME                                          POLICY\n"
            "a1   evil\\n1f   fake-host   linux\\x1b[2J\\x1b]0;t\\x07   p\n"
            "a2   c1\\u009b31m bidi\\u202e bad\\xff\\xfe                p\n"
            "a3   h\xc3\xa9                                                p\n");
}

// Escaping keeps printable text, including multi-byte characters, as it is.
TEST(EscapeForTerminalTest, KeepsPrintableText) {
  EXPECT_EQ(EscapeForTerminal("linux-01 \xe6\x97\xa5\xe6\x9c\xac \\ \"q\""),
            "linux-01 \xe6\x97\xa5\xe6\x9c\xac \\ \"q\"");
  EXPECT_EQ(EscapeForTerminal(std::string("a\0b\tc\r\x7f", 7)), "a\\x00b\\tc\\r\\x7f");
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(DisplayWidth("h\xc3\xa9"), 2u);
}

// -o yaml quotes strings that would otherwise read back as numbers, booleans or dates.
TEST(WriteStructuredTest, YamlQuotesAmbiguousStrings) {
  std::ostringstream out;
  WriteStructured({{"a", "42"}, {"b", "yes"}, {"c", 42}, {"d", "plain"}}, OutputFormat::kYaml, out);
  EXPECT_EQ(out.str(), "a: \"42\"\nb: \"yes\"\nc: 42\nd: plain\n");
}

// -o yaml writes null as "null" and empty maps and lists on their key's line, as kubectl does.
TEST(WriteStructuredTest, YamlNullAndEmptyContainers) {
  std::ostringstream out;
  WriteStructured({{"a", nullptr},
                   {"b", nlohmann::ordered_json::object()},
                   {"c", nlohmann::ordered_json::array()},
                   {"d", {{"e", nlohmann::ordered_json::object()}}},
                   {"f", "null"}},
                  OutputFormat::kYaml, out);
  EXPECT_EQ(out.str(), "a: null\nb: {}\nc: []\nd:\n  e: {}\nf: \"null\"\n");
}

}  // namespace
}  // namespace fleet::cli
