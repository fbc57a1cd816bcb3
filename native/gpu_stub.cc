// gpu.h for an addon built without CUDA (no nvcc at install time, or TSMPI_CUDA=0): reports no
// device, and every GPU entry point fails with ERR_TSMPI_NO_GPU (lib/ never calls them then).
#include "failure.h"
#include "gpu.h"

namespace tsmpi::gpu {

namespace {

[[noreturn]] void notCompiled() {
  throw Failure("ERR_TSMPI_NO_GPU", "CUDA was not compiled into the tsmpi addon (no nvcc at install time, or TSMPI_CUDA=0)");
}

}  // namespace

bool compiled() { return false; }
int runtimeVersion() { return 0; }

int deviceCount(std::string* reason) {
  if (reason) *reason = "CUDA was not compiled into the tsmpi addon (no nvcc at install time, or TSMPI_CUDA=0)";
  return 0;
}

void init(int) { notCompiled(); }
void bindThread() { notCompiled(); }
void* stream() { return nullptr; }
void* allocate(size_t) { notCompiled(); }
void release(void*) noexcept {}
void copy(void*, void*, size_t, bool) { notCompiled(); }
void copyFromWorker(void*, void*, size_t, bool) { notCompiled(); }
void* recordEvent() { notCompiled(); }
void waitEvent(void*) { notCompiled(); }
void* recordTimingEvent() { notCompiled(); }
float elapsedMs(void*, void*) { notCompiled(); }
void destroyEvent(void*) noexcept {}
void* acquireResultSlot() { notCompiled(); }
void releaseResultSlot(void*) noexcept {}
void enqueuePiCount(uint64_t, uint32_t, uint64_t, uint64_t, void*) { notCompiled(); }
void enqueueSaxpy(ElementKind, double, const void*, void*, size_t) { notCompiled(); }
void enqueueSum(ElementKind, const void*, size_t, void*) { notCompiled(); }

}  // namespace tsmpi::gpu
