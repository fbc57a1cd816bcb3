// Node-API glue of the built-in kernels: the CPU versions (kernels_cpu.cc) run on the libuv
// threadpool over host typed arrays; the GPU versions (kernels_gpu.cu) are enqueued on the
// rank's stream and a worker waits for them. Every function returns a promise.
#include <cstring>

#include "addon.h"
#include "bridge.h"
#include "device_memory.h"
#include "gpu.h"
#include "kernels_cpu.h"
#include "rng.h"

namespace tsmpi {

namespace {

ElementKind KindArg(const Napi::CallbackInfo& info, size_t index) {
  const double code = NumberArg(info, index);
  if (!isElementKind(static_cast<int>(code))) throw Napi::TypeError::New(info.Env(), "unknown element kind");
  return static_cast<ElementKind>(static_cast<int>(code));
}

ElementKind KindOf(const Napi::TypedArray& array) { return static_cast<ElementKind>(array.TypedArrayType()); }

// philox(c0, c1, c2, c3, k0, k1) -> Uint32Array(4): one Philox-4x32-10 block (for tests).
Napi::Value Philox(const Napi::CallbackInfo& info) {
  uint32_t word[6];
  for (size_t i = 0; i < 6; ++i) word[i] = static_cast<uint32_t>(Uint64Arg(info, i));
  const Philox4 r = philox4x32_10(word[0], word[1], word[2], word[3], word[4], word[5]);
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), 4);
  std::memcpy(out.Data(), r.v, sizeof r.v);
  return out;
}

// piCountCpu(seed, stream, offset, n) -> Promise<number>
Napi::Value PiCountCpu(const Napi::CallbackInfo& info) {
  const uint64_t seed = Uint64Arg(info, 0), stream = Uint64Arg(info, 1), offset = Uint64Arg(info, 2),
                 n = Uint64Arg(info, 3);
  auto count = std::make_shared<uint64_t>(0);
  Job job;
  job.work = [=] { *count = cpu::piCount(seed, static_cast<uint32_t>(stream), offset, n); };
  job.settle = [count](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(*count)); };
  return StartJob(info.Env(), std::move(job));
}

// saxpyCpu(a, x, y) -> Promise<void>; x and y of one float kind and length.
Napi::Value SaxpyCpu(const Napi::CallbackInfo& info) {
  const double a = NumberArg(info, 0);
  Napi::TypedArray x = TypedArrayArg(info, 1), y = TypedArrayArg(info, 2);
  const ElementKind kind = KindOf(x);
  if (kind != KindOf(y) || x.ElementLength() != y.ElementLength() ||
      (kind != ElementKind::Float32 && kind != ElementKind::Float64))
    throw Napi::TypeError::New(info.Env(), "saxpyCpu expects two Float32Arrays or Float64Arrays of one length");
  void* xs = ElementsOf(x);
  void* ys = ElementsOf(y);
  const size_t n = y.ElementLength();
  Job job;
  job.work = [=] {
    if (kind == ElementKind::Float32) cpu::saxpy(static_cast<float>(a), static_cast<const float*>(xs), static_cast<float*>(ys), n);
    else cpu::saxpy(a, static_cast<const double*>(xs), static_cast<double*>(ys), n);
  };
  job.keepAlive = {x, y};
  return StartJob(info.Env(), std::move(job));
}

// sumCpu(x) -> Promise<number>
Napi::Value SumCpu(const Napi::CallbackInfo& info) {
  Napi::TypedArray x = TypedArrayArg(info, 0);
  const ElementKind kind = KindOf(x);
  const void* xs = ElementsOf(x);
  const size_t n = x.ElementLength();
  auto total = std::make_shared<double>(0);
  Job job;
  job.work = [=] { *total = cpu::sum(kind, xs, n); };
  job.settle = [total](Napi::Env env) { return Napi::Number::New(env, *total); };
  job.keepAlive = {x};
  return StartJob(info.Env(), std::move(job));
}

// A job that waits on the GPU for what was just enqueued, then reads the result slot (if any).
Napi::Value WaitForGpu(Napi::Env env, void* slot, std::function<Napi::Value(Napi::Env, void*)> read,
                       std::vector<Napi::Object> keepAlive) {
  void* event = nullptr;
  try {
    event = gpu::recordEvent();
  } catch (...) {
    gpu::releaseResultSlot(slot);
    throw;
  }
  Job job;
  job.work = [event] { gpu::waitEvent(event); };
  if (read) job.settle = [slot, read](Napi::Env e) { return read(e, slot); };
  job.cleanup = [slot] { gpu::releaseResultSlot(slot); };
  job.keepAlive = std::move(keepAlive);
  return StartJob(env, std::move(job));
}

// Enqueues GPU work that writes a page-locked result slot, then waits for it and reads the slot.
Napi::Value WaitForResult(Napi::Env env, const std::function<void(void*)>& enqueue,
                          std::function<Napi::Value(Napi::Env, void*)> read, std::vector<Napi::Object> keepAlive) {
  void* slot = gpu::acquireResultSlot();
  try {
    enqueue(slot);
  } catch (...) {
    gpu::releaseResultSlot(slot);
    throw;
  }
  return WaitForGpu(env, slot, std::move(read), std::move(keepAlive));
}

// piCountGpu(seed, stream, offset, n) -> Promise<number>
Napi::Value PiCountGpu(const Napi::CallbackInfo& info) {
  const uint64_t seed = Uint64Arg(info, 0), stream = Uint64Arg(info, 1), offset = Uint64Arg(info, 2),
                 n = Uint64Arg(info, 3);
  return Guarded(info.Env(), [&] {
    return WaitForResult(
        info.Env(), [&](void* slot) { gpu::enqueuePiCount(seed, static_cast<uint32_t>(stream), offset, n, slot); },
        [](Napi::Env env, void* s) { return Napi::Number::New(env, static_cast<double>(*static_cast<unsigned long long*>(s))); },
        {});
  });
}


// saxpyGpu(kind, a, x, y, n) -> Promise<void>; x and y are DeviceMemory.
Napi::Value SaxpyGpu(const Napi::CallbackInfo& info) {
  const ElementKind kind = KindArg(info, 0);
  const double a = NumberArg(info, 1);
  DeviceMemory* x = DeviceMemory::From(info[2]);
  DeviceMemory* y = DeviceMemory::From(info[3]);
  const uint64_t n = Uint64Arg(info, 4);
  return Guarded(info.Env(), [&] {
    gpu::enqueueSaxpy(kind, a, x->Pointer(), y->Pointer(), n);
    return WaitForGpu(info.Env(), nullptr, nullptr, {info[2].As<Napi::Object>(), info[3].As<Napi::Object>()});
  });
}

// sumGpu(kind, x, n) -> Promise<number>
Napi::Value SumGpu(const Napi::CallbackInfo& info) {
  const ElementKind kind = KindArg(info, 0);
  DeviceMemory* x = DeviceMemory::From(info[1]);
  const uint64_t n = Uint64Arg(info, 2);
  return Guarded(info.Env(), [&] {
    return WaitForResult(
        info.Env(), [&](void* slot) { gpu::enqueueSum(kind, x->Pointer(), n, slot); },
        [](Napi::Env env, void* s) { return Napi::Number::New(env, *static_cast<double*>(s)); }, {info[1].As<Napi::Object>()});
  });
}


// synchronizeGpu() -> Promise<void>: resolves when everything enqueued so far has finished.
Napi::Value SynchronizeGpu(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&] { return WaitForGpu(info.Env(), nullptr, nullptr, {}); });
}

// eventRecordGpu() -> External: a timing event recorded on the rank's stream now (destroyed when
// collected).
Napi::Value EventRecordGpu(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() -> Napi::Value {
    void* event = gpu::recordTimingEvent();
    return Napi::External<void>::New(info.Env(), event, [](Napi::Env, void* e) { gpu::destroyEvent(e); });
  });
}

// eventElapsedGpu(start, end) -> number: milliseconds between two completed events (lib/ waits
// for them with synchronizeGpu first, so this never blocks).
Napi::Value EventElapsedGpu(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal() || !info[1].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected two events");
  void* start = info[0].As<Napi::External<void>>().Data();
  void* end = info[1].As<Napi::External<void>>().Data();
  return Guarded(info.Env(), [&] { return Napi::Number::New(info.Env(), gpu::elapsedMs(start, end)); });
}

}  // namespace

void InitBuiltins(Napi::Env env, Napi::Object exports) {
  exports.Set("philox", Napi::Function::New(env, Philox, "philox"));
  exports.Set("piCountCpu", Napi::Function::New(env, PiCountCpu, "piCountCpu"));
  exports.Set("saxpyCpu", Napi::Function::New(env, SaxpyCpu, "saxpyCpu"));
  exports.Set("sumCpu", Napi::Function::New(env, SumCpu, "sumCpu"));
  exports.Set("piCountGpu", Napi::Function::New(env, PiCountGpu, "piCountGpu"));
  exports.Set("saxpyGpu", Napi::Function::New(env, SaxpyGpu, "saxpyGpu"));
  exports.Set("sumGpu", Napi::Function::New(env, SumGpu, "sumGpu"));
  exports.Set("synchronizeGpu", Napi::Function::New(env, SynchronizeGpu, "synchronizeGpu"));
  exports.Set("eventRecordGpu", Napi::Function::New(env, EventRecordGpu, "eventRecordGpu"));
  exports.Set("eventElapsedGpu", Napi::Function::New(env, EventElapsedGpu, "eventElapsedGpu"));
}

}  // namespace tsmpi
