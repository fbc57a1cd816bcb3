// The built-in kernels on the CPU: plain C++ loops run on the libuv threadpool by the addon.
// Their JavaScript twins are lib/gpu/kernels/*.ts and their CUDA versions native/kernels_gpu.cu;
// piCount is bit-identical on all three, saxpy too (no fused multiply-add), sum sums in index
// order here and in JS (the GPU sums in a fixed tree order, so it may differ in the last bits).
#pragma once
#include <cstddef>
#include <cstdint>

#include "element_kind.h"

namespace tsmpi::cpu {

// Points inside the quarter circle among samples [offset, offset + n) of stream `stream` under
// `seed` (see rng.h). Splits the range over the machine's cores; exact for any n.
uint64_t piCount(uint64_t seed, uint32_t stream, uint64_t offset, uint64_t n);

// y[i] = a * x[i] + y[i], rounded after the multiply and after the add.
template <typename T>
void saxpy(T a, const T* x, T* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T product = a * x[i];
    y[i] = product + y[i];
  }
}

// The sum of n elements of the given kind, accumulated in double in index order.
double sum(ElementKind kind, const void* data, size_t n);

}  // namespace tsmpi::cpu
