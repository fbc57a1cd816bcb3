// Node-API glue of user kernels: compileKernel(source, name, options, device) -> handle and
// launchKernel(handle, dims, sharedMem, params, offsets) -> Promise<void>. Compilation is
// driver.cc (NVRTC + driver API through dlopen); the launch goes on the rank's stream and the
// promise settles when the kernel finished. Arguments arrive packed by lib/gpu/kernel.ts: `params`
// holds every argument's bytes (device addresses as 64-bit integers), offsets[i] says where
// argument i starts.
#include <string>
#include <vector>

#include "addon.h"
#include "bridge.h"
#include "driver.h"
#include "gpu.h"

namespace tsmpi {

namespace {

using KernelHandle = Napi::External<driver::UserKernel>;

Napi::Value CompileKernel(const Napi::CallbackInfo& info) {
  const std::string source = StringArg(info, 0), name = StringArg(info, 1);
  if (!info[2].IsArray()) throw Napi::TypeError::New(info.Env(), "options must be an array of strings");
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<std::string> options;
  for (uint32_t i = 0; i < list.Length(); ++i) options.push_back(list.Get(i).ToString().Utf8Value());
  const int device = static_cast<int>(NumberArg(info, 3));
  driver::UserKernel* kernel = Guarded(info.Env(), [&] { return driver::compile(source, name, options, device); });
  return KernelHandle::New(info.Env(), kernel, [](Napi::Env, driver::UserKernel* k) { driver::unload(k); });
}

Napi::Value LaunchKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "expected a kernel handle");
  const driver::UserKernel* kernel = info[0].As<KernelHandle>().Data();
  Napi::TypedArray dims = TypedArrayArg(info, 1);
  if (dims.TypedArrayType() != napi_uint32_array || dims.ElementLength() != 6)
    throw Napi::TypeError::New(env, "dims must be a Uint32Array of 6 (grid x, y, z, block x, y, z)");
  const auto* dim = static_cast<const unsigned*>(ElementsOf(dims));
  const auto sharedMem = static_cast<unsigned>(NumberArg(info, 2));
  Napi::TypedArray params = TypedArrayArg(info, 3), offsets = TypedArrayArg(info, 4);
  if (offsets.TypedArrayType() != napi_uint32_array) throw Napi::TypeError::New(env, "offsets must be a Uint32Array");
  auto* base = static_cast<uint8_t*>(ElementsOf(params));
  const auto* offset = static_cast<const uint32_t*>(ElementsOf(offsets));
  std::vector<void*> pointers(offsets.ElementLength());
  for (size_t i = 0; i < pointers.size(); ++i) {
    if (offset[i] >= params.ByteLength()) throw Napi::RangeError::New(env, "argument offset out of range");
    pointers[i] = base + offset[i];
  }
  return Guarded(env, [&] {
    // cuLaunchKernel copies the argument values, so `params` may change once it returns.
    driver::launch(*kernel, dim, dim + 3, sharedMem, gpu::stream(), pointers.data());
    void* event = gpu::recordEvent();
    Job job;
    job.work = [event] { gpu::waitEvent(event); };
    job.keepAlive = {info[0].As<Napi::Object>()};
    return StartJob(env, std::move(job));
  });
}

}  // namespace

void InitUserKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("compileKernel", Napi::Function::New(env, CompileKernel, "compileKernel"));
  exports.Set("launchKernel", Napi::Function::New(env, LaunchKernel, "launchKernel"));
}

}  // namespace tsmpi
