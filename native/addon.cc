// tsmpi_native: the optional native addon of tsmpi. Exports (typed in lib/native.ts, the one
// place that declares this surface): abi, cudaCompiled, setErrorFactory, the probes
// (driverInfo, nvrtcInfo, runtimeInfo, gpuInit), DeviceMemory, the built-in kernels
// (philox, piCount/saxpy/sum for Cpu and Gpu, synchronizeGpu), timing events
// (eventRecordGpu, eventElapsedGpu) and user kernels
// (compileKernel, launchKernel), and single-copy transfers between ranks of one host
// (allowPeerAccess, addressOf, peerRead), the shared-memory channel between them (ShmChannel),
// and TCP keepalive settings Node lacks (tcpKeepalive).
#include <napi.h>

#include "addon.h"
#include "bridge.h"
#include "device_memory.h"

namespace {

// Bumped whenever the exported surface changes, so lib/native.ts can refuse a stale build.
constexpr int kAbi = 7;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tsmpi::InitBridge(env, exports);
  exports.Set("abi", Napi::Number::New(env, kAbi));
  tsmpi::InitProbe(env, exports);
  tsmpi::DeviceMemory::Init(env, exports);
  tsmpi::InitBuiltins(env, exports);
  tsmpi::InitUserKernels(env, exports);
  tsmpi::InitPeerMemory(env, exports);
  tsmpi::InitShmChannel(env, exports);
  tsmpi::InitSocketOptions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tsmpi_native, Init)
