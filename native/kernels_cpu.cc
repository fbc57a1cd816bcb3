// CPU implementations of the built-in kernels (declared in kernels_cpu.h).
#include "kernels_cpu.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "rng.h"

namespace tsmpi::cpu {

namespace {

uint64_t piCountBlocks(uint64_t firstBlock, uint64_t lastBlock, uint64_t first, uint64_t last,
                       uint32_t stream, uint32_t k0, uint32_t k1) {
  uint64_t count = 0;
  for (uint64_t block = firstBlock;; ++block) {
    count += piBlockCount(block, first, last, stream, k0, k1);
    if (block == lastBlock) break;
  }
  return count;
}

}  // namespace

uint64_t piCount(uint64_t seed, uint32_t stream, uint64_t offset, uint64_t n) {
  if (n == 0) return 0;
  const uint64_t first = offset, last = offset + (n - 1);
  const uint64_t firstBlock = first / 2, lastBlock = last / 2;
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t blocks = lastBlock - firstBlock + 1;
  const uint64_t perThreadMin = uint64_t{1} << 18;
  const uint64_t cores = std::max(1u, std::thread::hardware_concurrency());
  const uint64_t threads = std::min<uint64_t>(cores, (blocks + perThreadMin - 1) / perThreadMin);
  if (threads <= 1) return piCountBlocks(firstBlock, lastBlock, first, last, stream, k0, k1);

  std::vector<uint64_t> counts(threads, 0);
  std::vector<std::thread> pool;
  const uint64_t chunk = blocks / threads;
  for (uint64_t t = 0; t < threads; ++t) {
    const uint64_t from = firstBlock + t * chunk;
    const uint64_t to = t + 1 == threads ? lastBlock : from + chunk - 1;
    pool.emplace_back([=, &counts] {
      counts[t] = piCountBlocks(from, to, first, last, stream, k0, k1);
    });
  }
  uint64_t total = 0;
  for (uint64_t t = 0; t < threads; ++t) {
    pool[t].join();
    total += counts[t];
  }
  return total;
}

double sum(ElementKind kind, const void* data, size_t n) {
  return withElementType(kind, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(data);
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += static_cast<double>(x[i]);
    return total;
  });
}

}  // namespace tsmpi::cpu
