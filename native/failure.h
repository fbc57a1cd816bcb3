// The one exception type of the addon's core (the CUDA runtime, driver and CPU code, none of
// which sees Node-API). The Node-API glue turns it into a TsmpiError carrying `code` (one of
// lib/errors.ts's codes) and, for compile errors, the compiler's `log`.
#pragma once
#include <stdexcept>
#include <string>

namespace tsmpi {

struct Failure : std::runtime_error {
  std::string code;
  std::string log;
  Failure(std::string errorCode, const std::string& message, std::string compilerLog = "")
      : std::runtime_error(message), code(std::move(errorCode)), log(std::move(compilerLog)) {}
};

}  // namespace tsmpi
