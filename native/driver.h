// The CUDA driver API and NVRTC, reached through dlopen (libcuda.so.1, libnvrtc.so*) and never
// linked, so the addon loads on machines without them. Used for device discovery and for user
// kernels compiled from source at run time. Plain C++: builds with or without CUDA.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tsmpi::driver {

struct Device {
  int index;
  std::string name;
  uint64_t totalMemory;
  int major, minor;  // compute capability
};

struct DriverStatus {
  bool loaded = false;      // libcuda was opened and cuInit succeeded
  std::string library;      // what was opened, e.g. "libcuda.so.1"
  int version = 0;          // cuDriverGetVersion, e.g. 12040
  std::string reason;       // why not usable (empty when usable)
  std::vector<Device> devices;
};

struct NvrtcStatus {
  bool loaded = false;
  std::string library;      // e.g. "libnvrtc.so.13"
  int major = 0, minor = 0;
  std::string reason;
};

// Both probes run once per process (main thread) and are cached.
const DriverStatus& driverStatus();
const NvrtcStatus& nvrtcStatus();

// A kernel compiled by NVRTC and loaded into the device's primary context.
struct UserKernel {
  void* module = nullptr;
  void* function = nullptr;
  int device = -1;
  std::string name;
};

// Compiles `source` with NVRTC for `device` and loads function `name` (an extern "C" name or a
// C++ name expression such as "scale<float>"). Throws Failure: ERR_TSMPI_NO_GPU when libcuda or
// NVRTC is missing, ERR_TSMPI_CUDA with the compiler's log when compilation fails.
UserKernel* compile(const std::string& source, const std::string& name, const std::vector<std::string>& options,
                    int device);

// Enqueues the kernel on `stream` (a CUstream); `params` point at each argument's value.
void launch(const UserKernel& kernel, const unsigned grid[3], const unsigned block[3], unsigned sharedMem,
            void* stream, void** params);

// Unloads the module (main thread; errors ignored).
void unload(UserKernel* kernel) noexcept;

}  // namespace tsmpi::driver
