#include <sys/stat.h>

#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/exit_codes.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

Config TwoContexts() {
  return Config{.current_context = "prod",
                .contexts = {{.name = "prod", .address = "prod:8221", .token_file = "/p.token"},
                             {.name = "lab", .address = "lab:8221", .token_file = "/l.token"}}};
}

// The config lives under XDG_CONFIG_HOME, else under HOME/.config.
TEST(ConfigPathTest, XdgThenHome) {
  ASSERT_OK_AND_ASSIGN(std::string xdg,
                       ConfigPath(Environment{.home = "/home/me", .xdg_config_home = "/xdg"}));
  EXPECT_EQ(xdg, "/xdg/fleetctl/config.yaml");
  ASSERT_OK_AND_ASSIGN(std::string home, ConfigPath(Environment{.home = "/home/me"}));
  EXPECT_EQ(home, "/home/me/.config/fleetctl/config.yaml");
  EXPECT_FALSE(ConfigPath(Environment{}).ok());
}

// Saving creates the directories 0700 and the file 0600; loading reads back what was saved.
TEST(ConfigStoreTest, SaveThenLoad) {
  TempDir tmp;
  const std::string path = tmp.Sub("a/fleetctl/config.yaml");
  ASSERT_OK(SaveConfig(path, TwoContexts()));
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(tmp.Sub("a/fleetctl")), 0700u);
  EXPECT_EQ(ModeOf(tmp.Sub("a")), 0700u);
  ASSERT_OK_AND_ASSIGN(Config loaded, LoadConfig(path));
  EXPECT_EQ(loaded.current_context, "prod");
  ASSERT_EQ(loaded.contexts.size(), 2u);
  EXPECT_EQ(loaded.contexts[1].name, "lab");
  EXPECT_EQ(loaded.contexts[1].address, "lab:8221");
  EXPECT_EQ(loaded.contexts[1].token_file, "/l.token");
}

// Saving over a file that was readable by others leaves it 0600, and leaves no temp file.
TEST(ConfigStoreTest, SaveReplacesAtomicallyWithMode0600) {
  TempDir tmp;
  const std::string path = tmp.Sub("config.yaml");
  WriteFile(path, "current-context: old\n");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  Config config = TwoContexts();
  config.current_context = "lab";
  ASSERT_OK(SaveConfig(path, config));
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_OK_AND_ASSIGN(Config loaded, LoadConfig(path));
  EXPECT_EQ(loaded.current_context, "lab");
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

// A missing file is an empty config; a malformed one is an error naming the file and line.
TEST(ConfigStoreTest, MissingAndMalformedFiles) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(Config empty, LoadConfig(tmp.Sub("none.yaml")));
  EXPECT_TRUE(empty.contexts.empty());
  WriteFile(tmp.Sub("bad.yaml"), "contexts:\n  - name: [x\n");
  absl::StatusOr<Config> bad = LoadConfig(tmp.Sub("bad.yaml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(tmp.Sub("bad.yaml") + ":"), absl::string_view::npos)
      << bad.status();
}

// Upsert replaces a context of the same name and appends a new one.
TEST(ConfigStoreTest, Upsert) {
  Config config = TwoContexts();
  config.Upsert({.name = "lab", .address = "lab2:1"});
  config.Upsert({.name = "new", .address = "new:1"});
  ASSERT_EQ(config.contexts.size(), 3u);
  EXPECT_EQ(config.Find("lab")->address, "lab2:1");
  EXPECT_EQ(config.Find("lab")->token_file, "");
  EXPECT_EQ(config.Find("new")->address, "new:1");
  EXPECT_EQ(config.Find("gone"), nullptr);
}

// With no flags or variables, the current context supplies address and token file.
TEST(ResolveConnectionTest, CurrentContext) {
  ASSERT_OK_AND_ASSIGN(Connection connection,
                       ResolveConnection(GlobalOptions{}, Environment{}, TwoContexts()));
  EXPECT_EQ(connection.context, "prod");
  EXPECT_EQ(connection.address, "prod:8221");
  EXPECT_EQ(connection.token_file, "/p.token");
}

// --context beats FLEETCTL_CONTEXT, which beats current-context.
TEST(ResolveConnectionTest, ContextPrecedence) {
  ASSERT_OK_AND_ASSIGN(
      Connection by_env,
      ResolveConnection(GlobalOptions{}, Environment{.context = "lab"}, TwoContexts()));
  EXPECT_EQ(by_env.address, "lab:8221");
  ASSERT_OK_AND_ASSIGN(Connection by_flag,
                       ResolveConnection(GlobalOptions{.context = "prod"},
                                         Environment{.context = "lab"}, TwoContexts()));
  EXPECT_EQ(by_flag.address, "prod:8221");
  absl::StatusOr<Connection> unknown =
      ResolveConnection(GlobalOptions{.context = "nope"}, Environment{}, TwoContexts());
  // The operator's typo, not a missing server resource: exit 2, not 3.
  EXPECT_TRUE(IsUsageError(unknown.status())) << unknown.status();
}

// An address is HOST:PORT; what is wrong with one is said, as a usage error.
TEST(CheckAddressTest, SaysWhatIsWrong) {
  for (const char* good : {"127.0.0.1:8221", "fleetd.example.com:1", "[::1]:8221", "unix:/run/f"}) {
    EXPECT_OK(CheckAddress(good, "--address")) << good;
  }
  for (const auto& [bad, why] :
       {std::pair("127.0.0.1", "has no port"), std::pair("[::1]", "has no port"),
        std::pair("http://h:1", "without \"http://\""), std::pair("h:0", "from 1 to 65535"),
        std::pair("h:http", "from 1 to 65535"), std::pair(":8221", "has no host"),
        std::pair("::1:8221", "in brackets")}) {
    absl::Status status = CheckAddress(bad, "--address");
    EXPECT_TRUE(IsUsageError(status)) << bad << ": " << status;
    EXPECT_TRUE(absl::StrContains(status.message(), why)) << bad << ": " << status;
  }
}

// Flags beat FLEETCTL_ADDRESS / FLEETCTL_TOKEN_FILE, which beat the context's values.
TEST(ResolveConnectionTest, AddressAndTokenFilePrecedence) {
  const Environment env{.address = "env:1", .token_file = "/env.token"};
  ASSERT_OK_AND_ASSIGN(Connection by_env, ResolveConnection(GlobalOptions{}, env, TwoContexts()));
  EXPECT_EQ(by_env.address, "env:1");
  EXPECT_EQ(by_env.token_file, "/env.token");
  ASSERT_OK_AND_ASSIGN(
      Connection by_flag,
      ResolveConnection(GlobalOptions{.address = "flag:1", .token_file = "/flag.token"}, env,
                        TwoContexts()));
  EXPECT_EQ(by_flag.address, "flag:1");
  EXPECT_EQ(by_flag.token_file, "/flag.token");
}

// Without any config the default address applies and no token file is known.
TEST(ResolveConnectionTest, Defaults) {
  ASSERT_OK_AND_ASSIGN(Connection connection,
                       ResolveConnection(GlobalOptions{}, Environment{}, Config{}));
  EXPECT_EQ(connection.address, "127.0.0.1:8221");
  EXPECT_EQ(connection.token_file, "");
}

// The token is the file's content without one trailing newline; problems say what to do.
TEST(ReadTokenTest, ReadsTrimsAndExplains) {
  TempDir tmp;
  WriteFile(tmp.Sub("t"), "fadm_0123456789ab_secret\n");
  ASSERT_OK_AND_ASSIGN(std::string token, ReadToken(Connection{.token_file = tmp.Sub("t")}));
  EXPECT_EQ(token, "fadm_0123456789ab_secret");
  WriteFile(tmp.Sub("crlf"), "fadm_0123456789ab_secret\r\n");
  ASSERT_OK_AND_ASSIGN(token, ReadToken(Connection{.token_file = tmp.Sub("crlf")}));
  EXPECT_EQ(token, "fadm_0123456789ab_secret");
  WriteFile(tmp.Sub("bare"), "fadm_0123456789ab_secret");
  ASSERT_OK_AND_ASSIGN(token, ReadToken(Connection{.token_file = tmp.Sub("bare")}));
  EXPECT_EQ(token, "fadm_0123456789ab_secret");

  absl::StatusOr<std::string> none = ReadToken(Connection{});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(none.status().message().find("fleetctl login"), absl::string_view::npos);

  absl::StatusOr<std::string> missing = ReadToken(Connection{.token_file = tmp.Sub("gone")});
  EXPECT_EQ(missing.status().message(),
            "token file " + tmp.Sub("gone") +
                ": No such file or directory; run fleetctl login or pass --token-file");

  WriteFile(tmp.Sub("empty"), "\n");
  EXPECT_EQ(ReadToken(Connection{.token_file = tmp.Sub("empty")}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// A token file that is not one line of printable ASCII is refused, saying where, never quoting
// it: a second line (which made gRPC abort and print the token), controls, non-ASCII bytes.
TEST(ReadTokenTest, RefusesAnythingButOnePrintableLineWithoutEchoingIt) {
  TempDir tmp;
  const std::string secret = "fadm_0123456789ab_s3cr3t";
  const struct {
    std::string content;
    std::string message;
  } cases[] = {
      {secret + "\nsecond line\n", ": more than one line (a line break at byte 25)"},
      {secret + "\n\n", ": more than one line (a line break at byte 25)"},
      {secret + "\r", ": more than one line (a line break at byte 25)"},
      {secret + "\x01\n", ": byte 25 is not printable ASCII"},
      {secret + "\xc3\xa9", ": byte 25 is not printable ASCII"},
      {"\t" + secret, ": byte 1 is not printable ASCII"},
  };
  for (const auto& [content, message] : cases) {
    WriteFile(tmp.Sub("t"), content);
    absl::StatusOr<std::string> token = ReadToken(Connection{.token_file = tmp.Sub("t")});
    ASSERT_FALSE(token.ok()) << content;
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(token.status().message().find("token file " + tmp.Sub("t") + message),
              absl::string_view::npos)
        << token.status();
    EXPECT_EQ(token.status().message().find("s3cr3t"), absl::string_view::npos) << token.status();
  }
}

// Relative token file paths are stored absolute.
TEST(AbsolutePathTest, MakesRelativePathsAbsolute) {
  EXPECT_EQ(AbsolutePath("/a/b"), "/a/b");
  EXPECT_EQ(AbsolutePath(""), "");
  EXPECT_EQ(AbsolutePath("x/../t.token"),
            (std::filesystem::current_path() / "t.token").lexically_normal().string());
}

// A context's TLS settings survive a save and a load; a plaintext context writes no TLS keys.
TEST(ConfigStoreTest, TlsSettingsRoundTrip) {
  TempDir tmp;
  const std::string path = tmp.Sub("config.yaml");
  Config config = TwoContexts();
  config.contexts[0].tls = {.certificate_authority = "/ca.pem",
                            .client_certificate = "/me.pem",
                            .client_key = "/me-key.pem",
                            .server_name = "fleetd.example.com",
                            .insecure_skip_verify = true};
  ASSERT_OK(SaveConfig(path, config));
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("certificate-authority"), text.rfind("certificate-authority"));
  ASSERT_OK_AND_ASSIGN(Config loaded, LoadConfig(path));
  const TlsSettings& tls = loaded.contexts[0].tls;
  EXPECT_EQ(tls.certificate_authority, "/ca.pem");
  EXPECT_EQ(tls.client_certificate, "/me.pem");
  EXPECT_EQ(tls.client_key, "/me-key.pem");
  EXPECT_EQ(tls.server_name, "fleetd.example.com");
  EXPECT_TRUE(tls.insecure_skip_verify);
  EXPECT_FALSE(loaded.contexts[1].tls.enabled());
}

// Each TLS flag overrides the context's setting of its own, and only that one.
TEST(ResolveConnectionTest, TlsFlagsOverrideTheContextOneByOne) {
  Config config = TwoContexts();
  config.contexts[0].tls = {.certificate_authority = "/ctx-ca.pem", .server_name = "ctx-name"};
  GlobalOptions flags;
  flags.tls.certificate_authority = "/flag-ca.pem";
  ASSERT_OK_AND_ASSIGN(Connection connection, ResolveConnection(flags, Environment{}, config));
  EXPECT_EQ(connection.tls.certificate_authority, "/flag-ca.pem");
  EXPECT_EQ(connection.tls.server_name, "ctx-name");
  std::optional<rpc::ClientTlsOptions> tls = ClientTls(connection.tls);
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->ca.flag, "--certificate-authority");
  EXPECT_EQ(tls->ca.path, "/flag-ca.pem");
  EXPECT_FALSE(ClientTls(TlsSettings{}).has_value());
}

}  // namespace
}  // namespace fleet::cli
