#!/usr/bin/env python3
"""CuPy counterparts of `tsmpirun -n 1 -m tsmpi/bench gpupi` and `gpucopy`, for runs side by side
(scripts/gpu-check.sh interleaves them; scripts/gpu-compare.mjs puts both in one table).

  python3 scripts/cupy-bench.py pi   [-n SAMPLES] [-l LOOPS] [-s SKIP] [--seed S] [--stream K] [--json]
  python3 scripts/cupy-bench.py copy [-m MIN] [-n MAX] [-l LOOPS] [-s SKIP] [--json]

pi: the same computation as tsmpi's built-in `cuda.piCount` (native/rng.h), written as a CuPy
user would, in a RawKernel: sample s uses the Philox-4x32-10 block with counter (lo32(s/2),
hi32(s/2), stream, 0) and key (lo32(seed), hi32(seed)); even samples take words 0 and 1 as
(x, y), odd samples words 2 and 3; a point is inside when, with x and y cut to their top 26
bits, x*x + y*y < 2^52. So the count equals tsmpi's for the same (seed, stream, n), which the
comparison checks. Timed per call: the kernel alone between two CUDA events (counter reset and
kernel), and the wall time of the whole call (reset, kernel, reading the count back), as the
awaited `cuda.piCount` call is timed. Launch shape as tsmpi's: 256 threads, 16 blocks per SM,
grid-stride loop.

copy: host<->device copies of float32 arrays (pageable numpy memory, as JS typed arrays are):
h2d-new = cupy.asarray(a), h2d-into = d.set(a), d2h-new = d.get(), d2h-into = d.get(out=a),
each followed by a stream synchronize so the time covers the copy.

Output: one line per measurement, or with --json the JSON lines tsmpi's bench prints
({"bench": "pi"|"copy", "impl": "cupy", ...}).
"""
import argparse
import json
import sys
import time

PI_SOURCE = r"""
__device__ __forceinline__ void philox4x32_10(unsigned int c[4], unsigned int k0, unsigned int k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    const unsigned int hi0 = __umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
    const unsigned int hi1 = __umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
    const unsigned int n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
  }
}

__device__ __forceinline__ unsigned int inside(unsigned int x, unsigned int y) {
  const unsigned long long a = x >> 6, b = y >> 6;
  return a * a + b * b < (1ull << 52) ? 1u : 0u;
}

// Points inside among samples [first, last] (inclusive), two per Philox block.
extern "C" __global__ void pi_count(unsigned long long first, unsigned long long last, unsigned int stream,
                                    unsigned int k0, unsigned int k1, unsigned long long* out) {
  const unsigned long long first_block = first / 2, blocks = last / 2 - first_block + 1;
  const unsigned long long step = (unsigned long long)gridDim.x * blockDim.x;
  unsigned long long count = 0;
  for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < blocks; i += step) {
    const unsigned long long block = first_block + i, even = 2 * block;
    unsigned int c[4] = {(unsigned int)block, (unsigned int)(block >> 32), stream, 0u};
    philox4x32_10(c, k0, k1);
    if (even >= first && even <= last) count += inside(c[0], c[1]);
    if (even + 1 >= first && even + 1 <= last) count += inside(c[2], c[3]);
  }
  for (int offset = 16; offset > 0; offset >>= 1) count += __shfl_down_sync(0xffffffffu, count, offset);
  if ((threadIdx.x & 31) == 0) atomicAdd(out, count);
}
"""

THREADS = 256


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def device_name(cp):
    dev = cp.cuda.Device()
    name = cp.cuda.runtime.getDeviceProperties(dev.id)["name"]
    return f"cuda:{dev.id} {name.decode() if isinstance(name, bytes) else name}"


def bench_pi(args):
    import cupy as cp
    import numpy as np

    n, seed, stream = args.samples, args.seed, args.stream
    if n < 1 or not 0 <= seed < 2**64 or not 0 <= stream < 2**32:
        sys.exit("samples must be >= 1, seed in [0, 2^64), stream in [0, 2^32)")
    kernel = cp.RawKernel(PI_SOURCE, "pi_count")
    sms = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["multiProcessorCount"]
    blocks = (n - 1) // 2 + 1
    grid = max(1, min((blocks + THREADS - 1) // THREADS, sms * 16))
    out = cp.zeros(1, dtype=cp.uint64)
    params = (np.uint64(0), np.uint64(n - 1), np.uint32(stream), np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32), out)
    start, end = cp.cuda.Event(), cp.cuda.Event()
    wall_s, kernel_s, count = [], [], None
    for i in range(args.skip + args.loop):
        t0 = time.perf_counter()
        start.record()
        out.fill(0)
        kernel((grid,), (THREADS,), params)
        end.record()
        got = int(out.get()[0])
        wall = time.perf_counter() - t0
        if count is not None and got != count:
            sys.exit(f"pi_count gave {count}, then {got}, for the same samples")
        count = got
        if i >= args.skip:
            wall_s.append(wall)
            kernel_s.append(cp.cuda.get_elapsed_time(start, end) / 1e3)
    r = {"bench": "pi", "impl": "cupy", "rank": 0, "size": 1, "device": device_name(cp), "n": n, "seed": seed, "stream": stream,
         "count": count, "wallS": wall_s, "kernelS": kernel_s, "grid": grid, "block": THREADS}
    if args.json:
        print(json.dumps(r))
    else:
        w, k = median(wall_s), median(kernel_s)
        print(f"pi cupy {r['device']}: {n} samples, count {count}; wall {w * 1e3:.3f} ms = {n / w:.3e} samples/s; "
              f"kernel {k * 1e3:.3f} ms = {n / k:.3e} samples/s (medians of {len(wall_s)})")


def bench_copy(args):
    import cupy as cp
    import numpy as np

    sync = cp.cuda.get_current_stream().synchronize
    name = device_name(cp)
    if not args.json:
        print(f"# cupy host<->device copies on {name}: GB/s (medians of {args.loop}; pageable host memory)\n#        bytes  op         GB/s")
    size = 4
    while size <= args.max_size:
        if size >= args.min_size:
            host = (np.arange(size // 4) % 1000).astype(np.float32)
            out = np.empty_like(host)
            d = cp.asarray(host)
            ops = {
                "h2d-new": lambda: cp.asarray(host),
                "h2d-into": lambda: d.set(host),
                "d2h-new": lambda: d.get(),
                "d2h-into": lambda: d.get(out=out),
            }
            for op, run in ops.items():
                times = []
                for i in range(args.skip + args.loop):
                    t0 = time.perf_counter()
                    run()
                    sync()
                    if i >= args.skip:
                        times.append(time.perf_counter() - t0)
                if args.json:
                    print(json.dumps({"bench": "copy", "impl": "cupy", "device": name, "op": op, "bytes": size, "timesS": times}))
                else:
                    print(f"{size:14d}  {op:<10}{size / median(times) / 1e9:8.2f}")
            if not np.array_equal(out, host):
                sys.exit("d2h-into copied the wrong data")
            del d
        size *= 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("pi")
    pi.add_argument("-n", "--samples", type=int, default=2**32)
    pi.add_argument("-l", "--loop", type=int, default=10)
    pi.add_argument("-s", "--skip", type=int, default=2)
    pi.add_argument("--seed", type=int, default=2024)
    pi.add_argument("--stream", type=int, default=0)
    pi.add_argument("--json", action="store_true")
    copy = sub.add_parser("copy")
    copy.add_argument("-m", "--min-size", type=int, default=1 << 20)
    copy.add_argument("-n", "--max-size", type=int, default=256 << 20)
    copy.add_argument("-l", "--loop", type=int, default=10)
    copy.add_argument("-s", "--skip", type=int, default=2)
    copy.add_argument("--json", action="store_true")
    args = parser.parse_args()
    (bench_pi if args.command == "pi" else bench_copy)(args)


if __name__ == "__main__":
    main()
