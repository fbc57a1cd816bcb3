// The built-in kernels on the GPU (declared in gpu.h). Each enqueue* function runs on the main
// thread and only enqueues work on the rank's stream; results are copied into a page-locked
// result slot that the caller reads after waitEvent. The CPU versions are kernels_cpu.cc.
#include <cuda_runtime.h>

#include <string>

#include "failure.h"
#include "gpu.h"
#include "rng.h"

namespace tsmpi::gpu {

namespace {

constexpr int kThreads = 256;     // threads per block of every built-in kernel
constexpr int kSumBlocks = 1024;  // at most this many partial sums: a fixed, deterministic tree

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw Failure("ERR_TSMPI_CUDA", std::string(what) + " failed: " + cudaGetErrorName(err) + ": " +
                                      cudaGetErrorString(err));
}

cudaStream_t rankStream() { return static_cast<cudaStream_t>(stream()); }

// Device scratch shared by all built-in kernels: safe because they all run on the one stream.
struct Scratch {
  unsigned long long* count;
  double* partials;  // kSumBlocks partial sums, then the total
};

Scratch& scratch() {
  static Scratch s = [] {
    Scratch fresh{};
    void* memory = nullptr;
    check(cudaMalloc(&memory, sizeof(unsigned long long) + sizeof(double) * (kSumBlocks + 1)), "cudaMalloc");
    fresh.count = static_cast<unsigned long long*>(memory);
    fresh.partials = reinterpret_cast<double*>(fresh.count + 1);
    return fresh;
  }();
  return s;
}

unsigned gridFor(size_t work, unsigned cap) {
  int device = 0, sms = 1;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  const size_t wanted = (work + kThreads - 1) / kThreads;
  size_t limit = static_cast<size_t>(sms) * 16;
  if (cap != 0 && limit > cap) limit = cap;
  return static_cast<unsigned>(wanted < 1 ? 1 : (wanted < limit ? wanted : limit));
}

// The sum over the block, valid in thread 0. blockDim.x is a multiple of 32.
template <typename T>
__device__ T blockSum(T value) {
  __shared__ T warpTotals[32];
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  if (lane == 0) warpTotals[warp] = value;
  __syncthreads();
  value = threadIdx.x < (blockDim.x >> 5) ? warpTotals[threadIdx.x] : T(0);
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

__global__ void piCountKernel(uint64_t firstBlock, uint64_t blocks, uint64_t first, uint64_t last,
                              uint32_t stream, uint32_t k0, uint32_t k1, unsigned long long* out) {
  unsigned long long count = 0;
  const uint64_t step = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < blocks; i += step)
    count += piBlockCount(firstBlock + i, first, last, stream, k0, k1);
  count = blockSum(count);
  if (threadIdx.x == 0) atomicAdd(out, count);
}

// Rounded multiply then rounded add, never contracted into an FMA: equal to the CPU bit for bit.
__device__ float multiplyAdd(float a, float x, float y) { return __fadd_rn(__fmul_rn(a, x), y); }
__device__ double multiplyAdd(double a, double x, double y) { return __dadd_rn(__dmul_rn(a, x), y); }

template <typename T>
__global__ void saxpyKernel(T a, const T* x, T* y, size_t n) {
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = multiplyAdd(a, x[i], y[i]);
}

template <typename T>
__global__ void sumPartialsKernel(const T* x, size_t n, double* partials) {
  double total = 0;
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    total += static_cast<double>(x[i]);
  total = blockSum(total);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void sumFinalKernel(const double* partials, unsigned count, double* out) {
  double total = 0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) total += partials[i];
  total = blockSum(total);
  if (threadIdx.x == 0) *out = total;
}

}  // namespace

void enqueuePiCount(uint64_t seed, uint32_t streamId, uint64_t offset, uint64_t n, void* slot) {
  auto* result = static_cast<unsigned long long*>(slot);
  if (n == 0) {
    *result = 0;
    return;
  }
  const uint64_t first = offset, last = offset + (n - 1);
  const uint64_t firstBlock = first / 2, blocks = last / 2 - firstBlock + 1;
  Scratch& s = scratch();
  check(cudaMemsetAsync(s.count, 0, sizeof(unsigned long long), rankStream()), "cudaMemsetAsync");
  piCountKernel<<<gridFor(blocks, 0), kThreads, 0, rankStream()>>>(
      firstBlock, blocks, first, last, streamId, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
      s.count);
  check(cudaGetLastError(), "piCount kernel launch");
  check(cudaMemcpyAsync(result, s.count, sizeof(unsigned long long), cudaMemcpyDeviceToHost, rankStream()),
        "cudaMemcpyAsync");
}

void enqueueSaxpy(ElementKind kind, double a, const void* x, void* y, size_t n) {
  if (n == 0) return;
  const unsigned grid = gridFor(n, 0);
  if (kind == ElementKind::Float32) {
    saxpyKernel<float><<<grid, kThreads, 0, rankStream()>>>(static_cast<float>(a), static_cast<const float*>(x),
                                                            static_cast<float*>(y), n);
  } else if (kind == ElementKind::Float64) {
    saxpyKernel<double><<<grid, kThreads, 0, rankStream()>>>(a, static_cast<const double*>(x),
                                                             static_cast<double*>(y), n);
  } else {
    throw Failure("ERR_TSMPI_TYPE", "saxpy supports Float32Array and Float64Array only");
  }
  check(cudaGetLastError(), "saxpy kernel launch");
}

void enqueueSum(ElementKind kind, const void* x, size_t n, void* slot) {
  auto* result = static_cast<double*>(slot);
  if (n == 0) {
    *result = 0;
    return;
  }
  Scratch& s = scratch();
  const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads < kSumBlocks ? (n + kThreads - 1) / kThreads
                                                                                          : kSumBlocks);
  withElementType(kind, [&](auto zero) {
    using T = decltype(zero);
    sumPartialsKernel<T><<<blocks, kThreads, 0, rankStream()>>>(static_cast<const T*>(x), n, s.partials);
    return 0;
  });
  check(cudaGetLastError(), "sum kernel launch");
  sumFinalKernel<<<1, kThreads, 0, rankStream()>>>(s.partials, blocks, s.partials + kSumBlocks);
  check(cudaGetLastError(), "sum kernel launch");
  check(cudaMemcpyAsync(result, s.partials + kSumBlocks, sizeof(double), cudaMemcpyDeviceToHost, rankStream()),
        "cudaMemcpyAsync");
}

}  // namespace tsmpi::gpu
