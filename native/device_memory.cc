// DeviceMemory (see device_memory.h).
#include "device_memory.h"

#include <string>

#include "bridge.h"
#include "gpu.h"

namespace tsmpi {

void DeviceMemory::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = DefineClass(
      env, "DeviceMemory",
      {
          InstanceMethod<&DeviceMemory::Free>("free"),
          InstanceMethod<&DeviceMemory::Upload>("upload"),
          InstanceMethod<&DeviceMemory::Download>("download"),
          InstanceMethod<&DeviceMemory::UploadAsync>("uploadAsync"),
          InstanceMethod<&DeviceMemory::DownloadAsync>("downloadAsync"),
          InstanceAccessor<&DeviceMemory::GetByteLength>("byteLength"),
          InstanceAccessor<&DeviceMemory::GetAddress>("address"),
      });
  Data(env).deviceMemoryClass = Napi::Persistent(constructor);
  exports.Set("DeviceMemory", constructor);
}

DeviceMemory* DeviceMemory::From(Napi::Value value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Data(env).deviceMemoryClass.Value()))
    throw Napi::TypeError::New(env, "expected a DeviceMemory");
  return Unwrap(value.As<Napi::Object>());
}

DeviceMemory::DeviceMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceMemory>(info) {
  const uint64_t bytes = Uint64Arg(info, 0);
  byteLength_ = static_cast<size_t>(bytes);
  pointer_ = Guarded(info.Env(), [&] { return gpu::allocate(byteLength_); });
}

DeviceMemory::~DeviceMemory() { ReleaseNow(); }

void DeviceMemory::ReleaseNow() {
  gpu::release(pointer_);
  pointer_ = nullptr;
}

void* DeviceMemory::Pointer() const {
  if (freed_) throw Failure("ERR_TSMPI_ARG", "device memory used after free()");
  return pointer_;
}

Napi::Value DeviceMemory::Free(const Napi::CallbackInfo& info) {
  if (!freed_) {
    freed_ = true;
    if (inFlight_ > 0) {
      releaseWhenIdle_ = true;
    } else {
      ReleaseNow();
    }
  }
  return info.Env().Undefined();
}

Napi::Value DeviceMemory::Transfer(const Napi::CallbackInfo& info, bool toDevice, bool async) {
  Napi::Env env = info.Env();
  Napi::TypedArray host = TypedArrayArg(info, 0);
  const size_t bytes = host.ByteLength();
  return Guarded(env, [&]() -> Napi::Value {
    void* device = Pointer();
    if (bytes > byteLength_)
      throw Failure("ERR_TSMPI_COUNT", "host array of " + std::to_string(bytes) + " bytes does not fit device memory of " +
                                           std::to_string(byteLength_) + " bytes");
    void* data = ElementsOf(host);
    if (!async) {
      gpu::copy(device, data, bytes, toDevice);
      return env.Undefined();
    }
    // The event orders the copy after everything already enqueued; the copy itself then runs on
    // a worker thread, so the event loop keeps going.
    void* event = gpu::recordEvent();
    ++inFlight_;
    Job job;
    job.work = [event, device, data, bytes, toDevice] {
      gpu::waitEvent(event);
      gpu::copyFromWorker(device, data, bytes, toDevice);
    };
    job.cleanup = [this] {
      if (--inFlight_ == 0 && releaseWhenIdle_) ReleaseNow();
    };
    job.keepAlive = {info.This().As<Napi::Object>(), host};
    return StartJob(env, std::move(job));
  });
}

Napi::Value DeviceMemory::Upload(const Napi::CallbackInfo& info) { return Transfer(info, true, false); }
Napi::Value DeviceMemory::Download(const Napi::CallbackInfo& info) { return Transfer(info, false, false); }
Napi::Value DeviceMemory::UploadAsync(const Napi::CallbackInfo& info) { return Transfer(info, true, true); }
Napi::Value DeviceMemory::DownloadAsync(const Napi::CallbackInfo& info) { return Transfer(info, false, true); }

Napi::Value DeviceMemory::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(byteLength_));
}

Napi::Value DeviceMemory::GetAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(freed_ ? nullptr : pointer_)));
}

}  // namespace tsmpi
