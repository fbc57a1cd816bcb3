// Philox-4x32-10 counter-based random numbers and the Monte Carlo pi sample test, shared
// verbatim by the CUDA kernels (nvcc), the CPU kernels (g++) and, line for line, by the
// JavaScript twin in lib/gpu/kernels/philox.ts. Every backend therefore draws the same numbers and
// counts the same points for the same (seed, stream, offset, n).
//
// Sample s (a 64-bit index) uses the Philox block with counter {lo32(s/2), hi32(s/2), stream, 0}
// and key {lo32(seed), hi32(seed)}; even samples take output words 0 and 1 as (x, y), odd
// samples words 2 and 3. A point is inside the quarter circle when, with x and y cut to their
// top 26 bits, x*x + y*y < 2^52: exact integer arithmetic (also exact in a JS double), so no
// floating-point rounding can make the backends disagree.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define TSMPI_HD __host__ __device__ __forceinline__
#else
#define TSMPI_HD inline
#endif

namespace tsmpi {

struct Philox4 {
  uint32_t v[4];
};

// Random123's philox4x32 with 10 rounds (known-answer vectors checked in test/native.test.ts).
TSMPI_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                               uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// 1 when the point (x, y), each a uniform 32-bit word, lies inside the quarter circle.
TSMPI_HD uint32_t insideQuarterCircle(uint32_t x, uint32_t y) {
  const uint64_t a = x >> 6, b = y >> 6;  // top 26 bits: a*a + b*b < 2^53, exact everywhere
  return (a * a + b * b < (static_cast<uint64_t>(1) << 52)) ? 1u : 0u;
}

// Points inside among the two samples of Philox block `block`, counting only those whose sample
// index lies in [first, last] (inclusive, so last = 2^64 - 1 is representable).
TSMPI_HD uint32_t piBlockCount(uint64_t block, uint64_t first, uint64_t last, uint32_t stream,
                               uint32_t k0, uint32_t k1) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                  stream, 0u, k0, k1);
  const uint64_t even = block * 2;
  uint32_t count = 0;
  if (even >= first && even <= last) count += insideQuarterCircle(r.v[0], r.v[1]);
  if (even + 1 >= first && even + 1 <= last) count += insideQuarterCircle(r.v[2], r.v[3]);
  return count;
}

}  // namespace tsmpi
