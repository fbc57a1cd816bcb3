// dlopen-based access to the CUDA driver API and NVRTC (declared in driver.h). The few types and
// constants used are declared here (values from cuda.h / nvrtc.h), so no CUDA header is needed.
#include "driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "failure.h"

namespace tsmpi::driver {

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;

constexpr int kAttrComputeCapabilityMajor = 75;      // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrComputeCapabilityMinor = 76;      // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kFuncAttrMaxDynamicSharedBytes = 8;    // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
constexpr int kJitErrorLogBuffer = 5;                // CU_JIT_ERROR_LOG_BUFFER
constexpr int kJitErrorLogBufferSize = 6;            // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
constexpr unsigned kDefaultSharedLimit = 48 * 1024;  // dynamic shared memory without opt-in

struct DriverApi {
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule*, const void*, unsigned, int*, void**) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char**) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
};

struct NvrtcApi {
  nvrtcResult (*nvrtcVersion)(int*, int*) = nullptr;
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                                    const char* const*) = nullptr;
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*) = nullptr;
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcAddNameExpression)(nvrtcProgram, const char*) = nullptr;
  nvrtcResult (*nvrtcGetLoweredName)(nvrtcProgram, const char*, const char**) = nullptr;
  const char* (*nvrtcGetErrorString)(nvrtcResult) = nullptr;
  // Optional (newer NVRTC): CUBIN output and the list of supported architectures.
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcGetNumSupportedArchs)(int*) = nullptr;
  nvrtcResult (*nvrtcGetSupportedArchs)(int*) = nullptr;
};

DriverApi gDriver;
NvrtcApi gNvrtc;

template <typename Fn>
bool bind(void* handle, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  return out != nullptr;
}

std::string dlerrorText() {
  const char* text = dlerror();
  return text ? text : "unknown dlopen error";
}

std::string cuError(CUresult result) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (gDriver.cuGetErrorName) gDriver.cuGetErrorName(result, &name);
  if (gDriver.cuGetErrorString) gDriver.cuGetErrorString(result, &text);
  return std::string(name ? name : "CUDA_ERROR_" + std::to_string(result)) + ": " + (text ? text : "unknown error");
}

void checkCu(CUresult result, const std::string& what) {
  if (result != 0) throw Failure("ERR_TSMPI_CUDA", what + " failed: " + cuError(result));
}

DriverStatus loadDriver() {
  DriverStatus status;
  void* handle = nullptr;
  std::string errors;
  for (const char* soname : {"libcuda.so.1", "libcuda.so"}) {
    handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      status.library = soname;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + dlerrorText();
  }
  if (!handle) {
    status.reason = "driver library libcuda.so.1 not found (" + errors + ")";
    return status;
  }
  DriverApi api;
  const bool complete =
      bind(handle, "cuInit", api.cuInit) && bind(handle, "cuDriverGetVersion", api.cuDriverGetVersion) &&
      bind(handle, "cuDeviceGetCount", api.cuDeviceGetCount) && bind(handle, "cuDeviceGet", api.cuDeviceGet) &&
      bind(handle, "cuDeviceGetName", api.cuDeviceGetName) &&
      bind(handle, "cuDeviceTotalMem_v2", api.cuDeviceTotalMem) &&
      bind(handle, "cuDeviceGetAttribute", api.cuDeviceGetAttribute) &&
      bind(handle, "cuDevicePrimaryCtxRetain", api.cuDevicePrimaryCtxRetain) &&
      bind(handle, "cuCtxSetCurrent", api.cuCtxSetCurrent) &&
      bind(handle, "cuModuleLoadDataEx", api.cuModuleLoadDataEx) &&
      bind(handle, "cuModuleGetFunction", api.cuModuleGetFunction) &&
      bind(handle, "cuModuleUnload", api.cuModuleUnload) && bind(handle, "cuFuncSetAttribute", api.cuFuncSetAttribute) &&
      bind(handle, "cuLaunchKernel", api.cuLaunchKernel) && bind(handle, "cuGetErrorName", api.cuGetErrorName) &&
      bind(handle, "cuGetErrorString", api.cuGetErrorString);
  if (!complete) {
    status.reason = "driver library " + status.library + " lacks a needed entry point (" + dlerrorText() + ")";
    return status;
  }
  gDriver = api;
  gDriver.cuDriverGetVersion(&status.version);
  const CUresult init = gDriver.cuInit(0);
  if (init != 0) {
    status.reason = "no CUDA device visible (cuInit: " + cuError(init) + ")";
    return status;
  }
  status.loaded = true;
  int count = 0;
  const CUresult counted = gDriver.cuDeviceGetCount(&count);
  if (counted != 0) {
    status.reason = "no CUDA device visible (cuDeviceGetCount: " + cuError(counted) + ")";
    return status;
  }
  for (int index = 0; index < count; ++index) {
    CUdevice device = 0;
    char name[256] = {0};
    size_t bytes = 0;
    Device info{index, "", 0, 0, 0};
    if (gDriver.cuDeviceGet(&device, index) != 0) continue;
    gDriver.cuDeviceGetName(name, sizeof name - 1, device);
    gDriver.cuDeviceTotalMem(&bytes, device);
    gDriver.cuDeviceGetAttribute(&info.major, kAttrComputeCapabilityMajor, device);
    gDriver.cuDeviceGetAttribute(&info.minor, kAttrComputeCapabilityMinor, device);
    info.name = name;
    info.totalMemory = bytes;
    status.devices.push_back(info);
  }
  if (status.devices.empty()) status.reason = "no CUDA device visible (the driver reports 0 devices)";
  return status;
}

// Candidate NVRTC libraries, newest first: sonames on the loader path, then the CUDA toolkit.
std::vector<std::string> nvrtcCandidates() {
  std::vector<std::string> names = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"};
  std::vector<std::string> candidates;
  if (const char* explicitPath = std::getenv("TSMPI_NVRTC")) candidates.push_back(explicitPath);
  candidates.insert(candidates.end(), names.begin(), names.end());
  std::vector<std::string> homes;
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* home = std::getenv(variable)) homes.push_back(home);
#ifdef TSMPI_CUDA_HOME
  homes.push_back(TSMPI_CUDA_HOME);
#endif
  homes.push_back("/usr/local/cuda");
  for (const std::string& home : homes)
    for (const std::string& name : names) candidates.push_back(home + "/lib64/" + name);
  return candidates;
}

NvrtcStatus loadNvrtc() {
  NvrtcStatus status;
  const int driverMajor = driverStatus().version / 1000;
  void* chosen = nullptr;
  NvrtcApi chosenApi;
  for (const std::string& candidate : nvrtcCandidates()) {
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    NvrtcApi api;
    const bool complete =
        bind(handle, "nvrtcVersion", api.nvrtcVersion) && bind(handle, "nvrtcCreateProgram", api.nvrtcCreateProgram) &&
        bind(handle, "nvrtcDestroyProgram", api.nvrtcDestroyProgram) &&
        bind(handle, "nvrtcCompileProgram", api.nvrtcCompileProgram) &&
        bind(handle, "nvrtcGetProgramLogSize", api.nvrtcGetProgramLogSize) &&
        bind(handle, "nvrtcGetProgramLog", api.nvrtcGetProgramLog) && bind(handle, "nvrtcGetPTXSize", api.nvrtcGetPTXSize) &&
        bind(handle, "nvrtcGetPTX", api.nvrtcGetPTX) &&
        bind(handle, "nvrtcAddNameExpression", api.nvrtcAddNameExpression) &&
        bind(handle, "nvrtcGetLoweredName", api.nvrtcGetLoweredName) &&
        bind(handle, "nvrtcGetErrorString", api.nvrtcGetErrorString);
    if (!complete) {
      dlclose(handle);
      continue;
    }
    bind(handle, "nvrtcGetCUBINSize", api.nvrtcGetCUBINSize);
    bind(handle, "nvrtcGetCUBIN", api.nvrtcGetCUBIN);
    bind(handle, "nvrtcGetNumSupportedArchs", api.nvrtcGetNumSupportedArchs);
    bind(handle, "nvrtcGetSupportedArchs", api.nvrtcGetSupportedArchs);
    int major = 0, minor = 0;
    api.nvrtcVersion(&major, &minor);
    // Code from an NVRTC newer than the driver may not load: keep looking for one that fits.
    const bool fits = driverMajor == 0 || major <= driverMajor;
    if (chosen && !fits) {
      dlclose(handle);
      continue;
    }
    if (chosen) dlclose(chosen);
    chosen = handle;
    chosenApi = api;
    status.library = candidate;
    status.major = major;
    status.minor = minor;
    if (fits) break;
  }
  if (!chosen) {
    status.reason =
        "runtime compiler libnvrtc not found (tried libnvrtc.so.13, .so.12, .so.11.2, libnvrtc.so on the loader path "
        "and in $CUDA_HOME/lib64 and /usr/local/cuda/lib64; set TSMPI_NVRTC to its path)";
    return status;
  }
  gNvrtc = chosenApi;
  status.loaded = true;
  return status;
}

std::mutex gContextMutex;
std::vector<CUcontext> gContexts;  // primary context per device, retained once

void makeCurrent(int device) {
  std::lock_guard<std::mutex> lock(gContextMutex);
  if (gContexts.size() <= static_cast<size_t>(device)) gContexts.resize(device + 1, nullptr);
  if (!gContexts[device]) {
    CUdevice handle = 0;
    checkCu(gDriver.cuDeviceGet(&handle, device), "cuDeviceGet");
    checkCu(gDriver.cuDevicePrimaryCtxRetain(&gContexts[device], handle), "cuDevicePrimaryCtxRetain");
  }
  checkCu(gDriver.cuCtxSetCurrent(gContexts[device]), "cuCtxSetCurrent");
}

std::string nvrtcError(nvrtcResult result) {
  const char* text = gNvrtc.nvrtcGetErrorString ? gNvrtc.nvrtcGetErrorString(result) : nullptr;
  return text ? text : "NVRTC error " + std::to_string(result);
}

bool hasArchOption(const std::vector<std::string>& options) {
  for (const std::string& option : options)
    if (option.rfind("-arch", 0) == 0 || option.rfind("--gpu-architecture", 0) == 0) return true;
  return false;
}

// -arch=sm_XY (a CUBIN) when NVRTC knows the device, else PTX for the newest virtual
// architecture it knows that the device can run (the driver compiles that PTX on load).
std::string archOption(const Device& device) {
  const int wanted = device.major * 10 + device.minor;
  int count = 0;
  if (!gNvrtc.nvrtcGetNumSupportedArchs || !gNvrtc.nvrtcGetSupportedArchs ||
      gNvrtc.nvrtcGetNumSupportedArchs(&count) != 0 || count <= 0)
    return "-arch=compute_" + std::to_string(wanted);
  std::vector<int> archs(count);
  gNvrtc.nvrtcGetSupportedArchs(archs.data());
  int best = 0;
  for (int arch : archs) {
    if (arch == wanted) return "-arch=sm_" + std::to_string(wanted);
    if (arch < wanted && arch > best) best = arch;
  }
  return "-arch=compute_" + std::to_string(best ? best : wanted);
}

std::string programLog(nvrtcProgram program) {
  size_t size = 0;
  if (gNvrtc.nvrtcGetProgramLogSize(program, &size) != 0 || size <= 1) return "";
  std::string log(size, '\0');
  gNvrtc.nvrtcGetProgramLog(program, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

// The compiled image: the CUBIN when there is one, else the PTX (NUL-terminated).
std::string programImage(nvrtcProgram program) {
  size_t size = 0;
  std::string image;
  if (gNvrtc.nvrtcGetCUBINSize && gNvrtc.nvrtcGetCUBINSize(program, &size) == 0 && size > 0) {
    image.resize(size);
    if (gNvrtc.nvrtcGetCUBIN(program, image.data()) == 0) return image;
  }
  const nvrtcResult result = gNvrtc.nvrtcGetPTXSize(program, &size);
  if (result != 0 || size == 0) throw Failure("ERR_TSMPI_CUDA", "nvrtcGetPTXSize failed: " + nvrtcError(result));
  image.assign(size, '\0');
  gNvrtc.nvrtcGetPTX(program, image.data());
  return image;
}

}  // namespace

const DriverStatus& driverStatus() {
  static const DriverStatus status = loadDriver();
  return status;
}

const NvrtcStatus& nvrtcStatus() {
  static const NvrtcStatus status = loadNvrtc();
  return status;
}

UserKernel* compile(const std::string& source, const std::string& name, const std::vector<std::string>& options,
                    int device) {
  const DriverStatus& drv = driverStatus();
  const NvrtcStatus& rtc = nvrtcStatus();
  if (!drv.loaded) throw Failure("ERR_TSMPI_NO_GPU", drv.reason);
  if (!rtc.loaded) throw Failure("ERR_TSMPI_NO_GPU", rtc.reason);
  if (device < 0 || static_cast<size_t>(device) >= drv.devices.size())
    throw Failure("ERR_TSMPI_NO_GPU", "no CUDA device visible with index " + std::to_string(device));

  std::vector<std::string> all = options;
  if (!hasArchOption(options)) all.push_back(archOption(drv.devices[device]));
  std::vector<const char*> argv;
  for (const std::string& option : all) argv.push_back(option.c_str());

  nvrtcProgram program = nullptr;
  nvrtcResult result = gNvrtc.nvrtcCreateProgram(&program, source.c_str(), (name + ".cu").c_str(), 0, nullptr, nullptr);
  if (result != 0) throw Failure("ERR_TSMPI_CUDA", "nvrtcCreateProgram failed: " + nvrtcError(result));
  struct Guard {
    nvrtcProgram* program;
    ~Guard() { gNvrtc.nvrtcDestroyProgram(program); }
  } guard{&program};

  const bool named = gNvrtc.nvrtcAddNameExpression(program, name.c_str()) == 0;
  result = gNvrtc.nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  const std::string log = programLog(program);
  if (result != 0)
    throw Failure("ERR_TSMPI_CUDA", "compiling kernel " + name + " with NVRTC failed (" + nvrtcError(result) + ")",
                  log);
  const char* lowered = nullptr;
  const std::string symbol =
      named && gNvrtc.nvrtcGetLoweredName(program, name.c_str(), &lowered) == 0 && lowered ? lowered : name;
  const std::string image = programImage(program);

  makeCurrent(device);
  char jitLog[8192] = {0};
  int jitOptions[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize};
  void* jitValues[] = {jitLog, reinterpret_cast<void*>(static_cast<uintptr_t>(sizeof jitLog - 1))};
  CUmodule module = nullptr;
  const CUresult loaded = gDriver.cuModuleLoadDataEx(&module, image.data(), 2, jitOptions, jitValues);
  if (loaded != 0)
    throw Failure("ERR_TSMPI_CUDA", "loading kernel " + name + " (cuModuleLoadDataEx) failed: " + cuError(loaded),
                  jitLog);
  CUfunction function = nullptr;
  const CUresult found = gDriver.cuModuleGetFunction(&function, module, symbol.c_str());
  if (found != 0) {
    gDriver.cuModuleUnload(module);
    throw Failure("ERR_TSMPI_CUDA", "kernel " + name + " not found in the compiled source (" + cuError(found) +
                                        "); is it a __global__ function?");
  }
  return new UserKernel{module, function, device, name};
}

void launch(const UserKernel& kernel, const unsigned grid[3], const unsigned block[3], unsigned sharedMem,
            void* stream, void** params) {
  makeCurrent(kernel.device);
  auto* function = static_cast<CUfunction>(kernel.function);
  if (sharedMem > kDefaultSharedLimit)
    checkCu(gDriver.cuFuncSetAttribute(function, kFuncAttrMaxDynamicSharedBytes, static_cast<int>(sharedMem)),
            "cuFuncSetAttribute (sharedMem " + std::to_string(sharedMem) + " bytes)");
  checkCu(gDriver.cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedMem,
                                 static_cast<CUstream>(stream), params, nullptr),
          "cuLaunchKernel(" + kernel.name + ")");
}

void unload(UserKernel* kernel) noexcept {
  if (!kernel) return;
  if (kernel->module && gDriver.cuModuleUnload) gDriver.cuModuleUnload(static_cast<CUmodule>(kernel->module));
  delete kernel;
}

}  // namespace tsmpi::driver
