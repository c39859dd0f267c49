#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace fleet::testing {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int RemainingMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& env,
    const std::optional<std::string>& stdin_data) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) {
    return Errno("pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_data.has_value()) {
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp, args;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  close(in[0]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    close(in[1]);
    errno = rc;
    return Errno(absl::StrCat("spawning ", argv[0]));
  }
  if (stdin_data.has_value()) {
    // Small inputs only: the pipe buffer (64 KiB) takes them without the child reading.
    size_t written = 0;
    while (written < stdin_data->size()) {
      ssize_t n = write(in[1], stdin_data->data() + written, stdin_data->size() - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  }
  close(in[1]);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, out[0], err[0]));
}

Subprocess::Subprocess(pid_t pid, int out_fd, int err_fd) : pid_(pid) {
  out_.fd = out_fd;
  err_.fd = err_fd;
}

Subprocess::~Subprocess() {
  if (!status_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close(out_.fd);
  close(err_.fd);
}

bool Subprocess::ReadSome(const std::vector<Stream*>& streams, absl::Time deadline) {
  std::vector<pollfd> fds;
  std::vector<Stream*> open;
  for (Stream* stream : streams) {
    if (stream->eof) continue;
    fds.push_back(pollfd{.fd = stream->fd, .events = POLLIN, .revents = 0});
    open.push_back(stream);
  }
  if (open.empty()) return false;
  int ready = poll(fds.data(), fds.size(), RemainingMillis(deadline));
  if (ready < 0 && errno == EINTR) return true;
  if (ready <= 0) return false;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    char chunk[4096];
    ssize_t n = read(open[i]->fd, chunk, sizeof(chunk));
    if (n <= 0) {
      open[i]->eof = true;
    } else {
      open[i]->buffer.append(chunk, static_cast<size_t>(n));
    }
  }
  return true;
}

std::optional<std::string> Subprocess::ReadLine(Stream& stream, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t newline = stream.buffer.find('\n');
    if (newline != std::string::npos) {
      std::string line = stream.buffer.substr(0, newline);
      stream.buffer.erase(0, newline + 1);
      return line;
    }
    if (!ReadSome({&stream}, deadline)) return std::nullopt;
  }
}

std::string Subprocess::Take(Stream& stream) {
  std::string all = std::move(stream.buffer);
  stream.buffer.clear();
  return all;
}

std::string Subprocess::DrainStdout(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ReadSome({&out_}, deadline)) {
  }
  return Take(out_);
}

std::string Subprocess::DrainStderr(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ReadSome({&err_}, deadline)) {
  }
  return Take(err_);
}

void Subprocess::DrainBoth(absl::Duration timeout, std::string& out, std::string& err) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ReadSome({&out_, &err_}, deadline)) {
  }
  out = Take(out_);
  err = Take(err_);
}

std::optional<std::string> Subprocess::ReadStdoutLine(absl::Duration timeout) {
  return ReadLine(out_, timeout);
}
std::optional<std::string> Subprocess::ReadStderrLine(absl::Duration timeout) {
  return ReadLine(err_, timeout);
}

std::optional<std::string> Subprocess::WaitForStderr(const std::string& needle,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::optional<std::string> line = ReadLine(err_, deadline - absl::Now());
    if (!line.has_value()) return std::nullopt;
    if (line->find(needle) != std::string::npos) return line;
  }
  return std::nullopt;
}

void Subprocess::Signal(int signal) {
  if (!status_.has_value()) kill(pid_, signal);
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!status_.has_value()) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = status;
      break;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return status_;
}

int ExitCode(std::optional<int> wait_status) {
  if (!wait_status.has_value() || !WIFEXITED(*wait_status)) return -1;
  return WEXITSTATUS(*wait_status);
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env,
                                         const std::optional<std::string>& stdin_data,
                                         absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Start(argv, env, stdin_data);
  if (!child.ok()) return child.status();
  const absl::Time deadline = absl::Now() + timeout;
  CommandResult result;
  // Read both streams together so a chatty child never blocks on a full pipe.
  (*child)->DrainBoth(timeout, result.out, result.err);
  std::optional<int> status = (*child)->Wait(deadline - absl::Now());
  if (!status.has_value()) {
    (*child)->Signal(SIGKILL);
    (*child)->Wait(absl::Seconds(10));
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish in time"));
  }
  if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  return result;
}

}  // namespace fleet::testing
