// DeviceMemory: one device allocation owned by a JS object (the storage behind a DeviceArray on
// the CUDA backend). Freed by free() or, failing that, when the object is garbage-collected.
#pragma once
#include <napi.h>

#include <cstddef>

namespace tsmpi {

class DeviceMemory : public Napi::ObjectWrap<DeviceMemory> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // The DeviceMemory behind a JS value; throws a TypeError for anything else.
  static DeviceMemory* From(Napi::Value value);

  explicit DeviceMemory(const Napi::CallbackInfo& info);  // new DeviceMemory(byteLength)
  ~DeviceMemory() override;

  // The device address; throws Failure ERR_TSMPI_ARG once freed.
  void* Pointer() const;
  size_t ByteLength() const { return byteLength_; }

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);         // upload(src): sync, src.byteLength <= byteLength
  Napi::Value Download(const Napi::CallbackInfo& info);       // download(dst): sync
  Napi::Value UploadAsync(const Napi::CallbackInfo& info);    // uploadAsync(src): Promise<void>
  Napi::Value DownloadAsync(const Napi::CallbackInfo& info);  // downloadAsync(dst): Promise<void>
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  Napi::Value Transfer(const Napi::CallbackInfo& info, bool toDevice, bool async);
  void ReleaseNow();

  void* pointer_ = nullptr;
  size_t byteLength_ = 0;
  bool freed_ = false;
  int inFlight_ = 0;            // worker-thread copies using pointer_
  bool releaseWhenIdle_ = false;  // free() came while copies were in flight
};

}  // namespace tsmpi
