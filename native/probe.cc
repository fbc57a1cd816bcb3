// Node-API glue of what the addon can find out about the machine: the CUDA driver and its
// devices, NVRTC, the compiled-in CUDA runtime; and gpuInit(device), which selects this rank's
// device. lib/native.ts turns these into nativeInfo().
#include <string>

#include "addon.h"
#include "bridge.h"
#include "driver.h"
#include "gpu.h"

namespace tsmpi {

namespace {

Napi::Value OrNull(Napi::Env env, const std::string& text) {
  return text.empty() ? env.Null() : Napi::String::New(env, text);
}

// driverInfo() -> { library, version, reason, devices: [{ index, name, totalMemory, computeCapability }] }
Napi::Value DriverInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const driver::DriverStatus& status = driver::driverStatus();
  Napi::Object out = Napi::Object::New(env);
  out.Set("library", OrNull(env, status.library));
  out.Set("version", Napi::Number::New(env, status.version));
  out.Set("reason", OrNull(env, status.reason));
  Napi::Array devices = Napi::Array::New(env, status.devices.size());
  for (size_t i = 0; i < status.devices.size(); ++i) {
    const driver::Device& device = status.devices[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("index", device.index);
    entry.Set("name", device.name);
    entry.Set("totalMemory", static_cast<double>(device.totalMemory));
    entry.Set("computeCapability", std::to_string(device.major) + "." + std::to_string(device.minor));
    devices.Set(static_cast<uint32_t>(i), entry);
  }
  out.Set("devices", devices);
  return out;
}

// nvrtcInfo() -> { library, version: "13.0" | null, reason }
Napi::Value NvrtcInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const driver::NvrtcStatus& status = driver::nvrtcStatus();
  Napi::Object out = Napi::Object::New(env);
  out.Set("library", OrNull(env, status.library));
  out.Set("version", status.loaded ? Napi::String::New(env, std::to_string(status.major) + "." + std::to_string(status.minor))
                                   : env.Null());
  out.Set("reason", OrNull(env, status.reason));
  return out;
}

// runtimeInfo() -> { version, deviceCount, reason }: the compiled-in CUDA runtime's view.
Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string reason;
  const int count = gpu::deviceCount(&reason);
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", Napi::Number::New(env, gpu::runtimeVersion()));
  out.Set("deviceCount", Napi::Number::New(env, count));
  out.Set("reason", OrNull(env, count > 0 ? "" : reason));
  return out;
}

// gpuInit(device): selects the device and creates the rank's stream (once per process).
Napi::Value GpuInit(const Napi::CallbackInfo& info) {
  const int device = static_cast<int>(NumberArg(info, 0));
  Guarded(info.Env(), [&] { gpu::init(device); });
  return info.Env().Undefined();
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaCompiled", Napi::Boolean::New(env, gpu::compiled()));
  exports.Set("driverInfo", Napi::Function::New(env, DriverInfo, "driverInfo"));
  exports.Set("nvrtcInfo", Napi::Function::New(env, NvrtcInfo, "nvrtcInfo"));
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
  exports.Set("gpuInit", Napi::Function::New(env, GpuInit, "gpuInit"));
}

}  // namespace tsmpi
