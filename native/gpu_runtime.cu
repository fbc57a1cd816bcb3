// CUDA runtime side of gpu.h: device selection, the rank's stream, device memory, events and
// page-locked result slots. Built by nvcc only when CUDA is compiled in (binding.gyp).
#include <cuda_runtime.h>

#include <mutex>
#include <string>
#include <vector>

#include "failure.h"
#include "gpu.h"

namespace tsmpi::gpu {

namespace {

int gDevice = -1;
cudaStream_t gStream = nullptr;      // the rank's stream: every kernel and ordered copy
cudaStream_t gSideStream = nullptr;  // non-blocking: worker-thread copies after waitEvent
bool gMemoryPools = false;           // stream-ordered cudaMallocAsync/cudaFreeAsync available
std::mutex gSlotMutex;
std::vector<void*> gFreeSlots;
constexpr size_t kSlotBytes = 16, kSlotsPerChunk = 256;

std::string describe(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  throw Failure("ERR_TSMPI_CUDA", std::string(what) + " failed: " + describe(err));
}

// A copy on `stream` between host and device, returning once it is done (after everything
// enqueued on the stream before it).
void copyAndWait(cudaStream_t stream, void* device, void* host, size_t bytes, bool toDevice) {
  if (bytes == 0) return;
  const cudaError_t err = toDevice ? cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream)
                                   : cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream);
  check(err, toDevice ? "cudaMemcpyAsync (host to device)" : "cudaMemcpyAsync (device to host)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

void requireDevice() {
  if (gDevice < 0) throw Failure("ERR_TSMPI_INTERNAL", "no CUDA device selected (gpu::init not called)");
}

}  // namespace

bool compiled() { return true; }

int runtimeVersion() {
  int version = 0;
  cudaRuntimeGetVersion(&version);
  return version;
}

int deviceCount(std::string* reason) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (reason) *reason = "cudaGetDeviceCount failed: " + describe(err);
    return 0;
  }
  if (count == 0 && reason) *reason = "the CUDA runtime sees no device";
  return count;
}

void init(int device) {
  if (gDevice == device) return;
  if (gDevice >= 0) throw Failure("ERR_TSMPI_INTERNAL", "a CUDA device was already selected for this process");
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&gStream, cudaStreamDefault), "cudaStreamCreate");
  check(cudaStreamCreateWithFlags(&gSideStream, cudaStreamNonBlocking), "cudaStreamCreate");
  int pools = 0;
  if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device) != cudaSuccess) {
    cudaGetLastError();
    pools = 0;
  }
  gMemoryPools = pools != 0;
  gDevice = device;
}

void bindThread() {
  requireDevice();
  check(cudaSetDevice(gDevice), "cudaSetDevice");
}

void* stream() { return gStream; }

void* allocate(size_t bytes) {
  requireDevice();
  if (bytes == 0) return nullptr;
  void* pointer = nullptr;
  if (gMemoryPools) {
    check(cudaMallocAsync(&pointer, bytes, gStream), "cudaMallocAsync");
  } else {
    check(cudaMalloc(&pointer, bytes), "cudaMalloc");
  }
  return pointer;
}

void release(void* pointer) noexcept {
  if (pointer == nullptr || gDevice < 0) return;
  // Errors are dropped: this also runs from garbage-collection finalizers and at exit.
  if ((gMemoryPools ? cudaFreeAsync(pointer, gStream) : cudaFree(pointer)) != cudaSuccess) cudaGetLastError();
}

void copy(void* device, void* host, size_t bytes, bool toDevice) {
  requireDevice();
  copyAndWait(gStream, device, host, bytes, toDevice);
}

void copyFromWorker(void* device, void* host, size_t bytes, bool toDevice) {
  bindThread();
  copyAndWait(gSideStream, device, host, bytes, toDevice);
}

void* recordEvent() {
  requireDevice();
  cudaEvent_t event = nullptr;
  // Blocking sync: the waiting worker thread sleeps instead of spinning on a CPU core.
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming | cudaEventBlockingSync), "cudaEventCreate");
  const cudaError_t err = cudaEventRecord(event, gStream);
  if (err != cudaSuccess) {
    cudaEventDestroy(event);
    check(err, "cudaEventRecord");
  }
  return event;
}

void waitEvent(void* event) {
  bindThread();
  const cudaError_t err = cudaEventSynchronize(static_cast<cudaEvent_t>(event));
  cudaEventDestroy(static_cast<cudaEvent_t>(event));
  check(err, "kernel execution (cudaEventSynchronize)");
}

void* recordTimingEvent() {
  requireDevice();
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventBlockingSync), "cudaEventCreate");
  const cudaError_t err = cudaEventRecord(event, gStream);
  if (err != cudaSuccess) {
    cudaEventDestroy(event);
    check(err, "cudaEventRecord");
  }
  return event;
}

float elapsedMs(void* start, void* end) {
  requireDevice();
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)), "cudaEventElapsedTime");
  return ms;
}

void destroyEvent(void* event) noexcept {
  if (event != nullptr && cudaEventDestroy(static_cast<cudaEvent_t>(event)) != cudaSuccess) cudaGetLastError();
}

void* acquireResultSlot() {
  requireDevice();
  std::lock_guard<std::mutex> lock(gSlotMutex);
  if (gFreeSlots.empty()) {
    void* chunk = nullptr;
    check(cudaMallocHost(&chunk, kSlotBytes * kSlotsPerChunk), "cudaMallocHost");
    for (size_t i = 0; i < kSlotsPerChunk; ++i) gFreeSlots.push_back(static_cast<char*>(chunk) + i * kSlotBytes);
  }
  void* slot = gFreeSlots.back();
  gFreeSlots.pop_back();
  return slot;
}

void releaseResultSlot(void* slot) noexcept {
  if (slot == nullptr) return;
  std::lock_guard<std::mutex> lock(gSlotMutex);
  gFreeSlots.push_back(slot);
}

}  // namespace tsmpi::gpu
