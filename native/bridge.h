// The boundary between the addon's core (plain C++ throwing tsmpi::Failure) and Node-API:
// per-environment data, turning a Failure into the JS error lib/native.ts asks for, promises
// settled after work on the libuv threadpool, and argument readers that guard against crashes
// (lib/ validates arguments with clear messages before it calls in).
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "failure.h"

namespace tsmpi {

// Per-environment state (worker threads each load the addon into their own environment).
struct AddonData {
  Napi::FunctionReference errorFactory;       // (code, message, log?) => Error, set by lib/native.ts
  Napi::FunctionReference deviceMemoryClass;  // for instanceof checks
};

AddonData& Data(Napi::Env env);

// Creates the per-environment data and exports setErrorFactory(fn).
void InitBridge(Napi::Env env, Napi::Object exports);

// The JS error for a Failure: built by the registered factory (a TsmpiError), or a plain Error
// with `code` (and `log`) before one is registered.
Napi::Error MakeError(Napi::Env env, const Failure& failure);

// Runs f() and rethrows a Failure as the matching JS error.
template <typename F>
auto Guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Failure& failure) {
    throw MakeError(env, failure);
  }
}

// Work for the libuv threadpool whose outcome settles a promise.
struct Job {
  std::function<void()> work;                    // worker thread; may throw Failure
  std::function<Napi::Value(Napi::Env)> settle;  // main thread after success: the value (empty: undefined)
  std::function<void()> cleanup;                 // main thread, after success or failure
  std::vector<Napi::Object> keepAlive;           // held (not collected) until the job is done
};

// Queues the job; the promise rejects with MakeError's error when work or settle throws.
Napi::Promise StartJob(Napi::Env env, Job job);

// Argument readers: throw a TypeError when the value has the wrong type.
Napi::TypedArray TypedArrayArg(const Napi::CallbackInfo& info, size_t index);
uint64_t Uint64Arg(const Napi::CallbackInfo& info, size_t index);  // a BigInt or a non-negative Number
double NumberArg(const Napi::CallbackInfo& info, size_t index);
std::string StringArg(const Napi::CallbackInfo& info, size_t index);
// Base address of a typed array's elements.
void* ElementsOf(const Napi::TypedArray& array);

}  // namespace tsmpi
