#include "rpc/grpc_logging.h"

#include <grpc/support/log.h>

#include <cstdlib>

#include "spdlog/spdlog.h"

namespace fleet::rpc {
namespace {

void LogToSpdlog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::info;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = spdlog::level::debug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = spdlog::level::info;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = spdlog::level::err;
      break;
  }
  spdlog::log(level, "grpc: {} ({}:{})", args->message, args->file, args->line);
}

void Drop(gpr_log_func_args*) {}

}  // namespace

void RouteGrpcLogToSpdlog() { gpr_set_log_function(&LogToSpdlog); }

void SilenceGrpcLogUnlessAsked() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(&Drop);
}

}  // namespace fleet::rpc
