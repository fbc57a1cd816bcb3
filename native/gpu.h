// The CUDA runtime side of the addon: this rank's device and stream, device memory, events and
// the built-in kernels. Implemented by gpu_runtime.cu + kernels_gpu.cu when nvcc built the addon
// (TSMPI_WITH_CUDA=1), by gpu_stub.cc otherwise. Plain C++ (no Node-API) so nvcc compiles it.
//
// Ordering: everything that touches data is enqueued from the main thread on the rank's one
// stream, in call order, and returns at once; a worker thread then waits for an event recorded
// after it (waitEvent). Errors throw tsmpi::Failure with code ERR_TSMPI_CUDA or ERR_TSMPI_NO_GPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "element_kind.h"

namespace tsmpi::gpu {

// Whether this build has CUDA compiled in.
bool compiled();
// cudaRuntimeGetVersion() of the compiled-in runtime (e.g. 13000), 0 without CUDA.
int runtimeVersion();
// Devices the CUDA runtime can use; when 0, `reason` says why (no driver, too old a driver, ...).
int deviceCount(std::string* reason);

// Selects `device` for this process and creates the rank's stream (main thread, once).
void init(int device);
// Makes the selected device current on the calling (worker) thread.
void bindThread();
// The rank's stream (a cudaStream_t, which is also a CUstream for the driver API).
void* stream();

// Device memory, stream-ordered on the rank's stream.
void* allocate(size_t bytes);
void release(void* pointer) noexcept;
// A synchronous copy between host and device (host to device when `toDevice`) on the rank's
// stream: it waits for the work enqueued before it.
void copy(void* device, void* host, size_t bytes, bool toDevice);
// The same for worker threads, after waitEvent: on a side stream, blocking that thread only.
void copyFromWorker(void* device, void* host, size_t bytes, bool toDevice);

// An event recorded on the rank's stream now; waitEvent blocks until it completed, then frees it.
void* recordEvent();
void waitEvent(void* event);

// Timing events (as cupy.cuda.Event): recorded on the rank's stream now; elapsedMs gives the
// milliseconds between two that have completed (after a synchronize), destroyEvent frees one.
void* recordTimingEvent();
float elapsedMs(void* start, void* end);
void destroyEvent(void* event) noexcept;

// Page-locked host slots of 16 bytes for kernel results copied back asynchronously.
void* acquireResultSlot();
void releaseResultSlot(void* slot) noexcept;

// Built-in kernels, enqueued on the rank's stream. Results land in a result slot.
void enqueuePiCount(uint64_t seed, uint32_t stream, uint64_t offset, uint64_t n, void* slot);
void enqueueSaxpy(ElementKind kind, double a, const void* x, void* y, size_t n);
void enqueueSum(ElementKind kind, const void* x, size_t n, void* slot);

}  // namespace tsmpi::gpu
