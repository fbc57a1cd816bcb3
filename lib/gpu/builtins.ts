/**
 * The built-in kernels every rank can call: Monte Carlo pi sample counting, saxpy and sum. Each
 * runs on the live backend: the GPU (CUDA kernels compiled into the addon), else the addon's C++
 * on the libuv threadpool, else the JS twins in `lib/gpu/kernels/` (no addon, or `TSMPI_NATIVE=0`).
 * piCount gives the identical count on all three; saxpy rounds identically on all three; sum
 * agrees exactly between C++ and JS and to rounding on the GPU.
 *
 * Not supported yet: other reductions (min/max/dot), strided or partial-range kernels.
 *
 * @module
 */
import { checkDeviceArray, deviceStorage, kindCode, type DeviceArray } from "./device-array.js";
import { TsmpiError, describeValue } from "../errors.js";
import { getBackend, getBinding, gpuBinding } from "../native.js";
import { piCountJs } from "./kernels/pi.js";
import { saxpyJs } from "./kernels/saxpy.js";
import { sumJs } from "./kernels/sum.js";

/** Options of {@link CudaApi.piCount | cuda.piCount}. */
export interface PiCountOptions {
  /** The generator key, an integer in [0, 2^64). Default 0. */
  seed?: number | bigint;
  /** Index of the first sample, an integer in [0, 2^64 - n]. Default 0. */
  offset?: number | bigint;
  /** Independent stream, an integer in [0, 2^32). Default this rank (`TSMPI_RANK`, else 0). */
  stream?: number;
}

const TWO64 = 2n ** 64n;

function toUint64(value: unknown, name: string, max: bigint): bigint {
  const ok = typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value));
  const big = ok ? BigInt(value as number | bigint) : -1n;
  if (big < 0n || big > max) {
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an integer in [0, ${max}], got ${describeValue(value)}`);
  }
  return big;
}

function defaultStream(): number {
  const rank = Number(process.env.TSMPI_RANK ?? 0);
  return Number.isSafeInteger(rank) && rank >= 0 ? rank % 2 ** 32 : 0;
}

/**
 * Counts how many of `n` random points in the unit square fall inside the quarter circle
 * (so `4 * count / n` estimates pi). Points come from Philox-4x32-10: sample `s` of stream
 * `stream` under `seed` is the same on every backend, so the count is identical for the same
 * (seed, stream, offset, n). Each rank defaults to its own stream, so ranks draw independent
 * points; use `offset` to split one stream into disjoint chunks.
 *
 * @param n - number of samples, an integer in [0, 2^53].
 * @param options - `seed`, `offset`, `stream` (see {@link PiCountOptions}).
 * @returns the number of points inside (exact).
 * @throws {TsmpiError} `ERR_TSMPI_COUNT` for a bad `n`, `ERR_TSMPI_ARG` for bad options (as rejections).
 * @example
 * ```ts
 * const n = 10_000_000;
 * const inside = await cuda.piCount(n, { seed: 42 });
 * const pi = 4 * (await comm.allreduce(inside, Op.SUM)) / (n * comm.size);
 * ```
 */
export async function piCount(n: number, options: PiCountOptions = {}): Promise<number> {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TsmpiError("ERR_TSMPI_COUNT", `n must be an integer in [0, 2^53], got ${describeValue(n)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(options)}`);
  }
  const count = BigInt(n);
  const seed = toUint64(options.seed ?? 0, "seed", TWO64 - 1n);
  const offset = toUint64(options.offset ?? 0, "offset", TWO64 - count);
  const stream = options.stream ?? defaultStream();
  if (!Number.isInteger(stream) || stream < 0 || stream >= 2 ** 32) {
    throw new TsmpiError("ERR_TSMPI_ARG", `stream must be an integer in [0, 2^32), got ${describeValue(stream)}`);
  }
  if (n === 0) return 0;
  if (getBackend() === "cuda") return gpuBinding().piCountGpu(seed, stream, offset, count);
  const binding = getBinding();
  return binding ? binding.piCountCpu(seed, stream, offset, count) : piCountJs(seed, stream, offset, count);
}

/**
 * `y = a * x + y`, element-wise, in place on `y`. Float32 arrays compute in float32 (`a` is
 * rounded to float32), Float64 arrays in float64; no fused multiply-add, so every backend gives
 * the same bits. Resolves when done.
 *
 * @param a - the scalar.
 * @param x - a Float32Array or Float64Array DeviceArray.
 * @param y - a DeviceArray of the same kind and length; overwritten.
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` (not DeviceArrays, other kinds, kinds differ),
 *   `ERR_TSMPI_COUNT` (lengths differ), `ERR_TSMPI_ARG` (a freed array) — as rejections.
 * @example
 * ```ts
 * await cuda.saxpy(2, x, y);
 * ```
 */
export async function saxpy(a: number, x: DeviceArray, y: DeviceArray): Promise<void> {
  if (typeof a !== "number") throw new TsmpiError("ERR_TSMPI_ARG", `a must be a number, got ${describeValue(a)}`);
  checkDeviceArray(x, "x");
  checkDeviceArray(y, "y");
  if (x.kind !== y.kind || (x.kind !== Float32Array && x.kind !== Float64Array)) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `x and y must both be Float32Array or both Float64Array DeviceArrays, got ${x.kind.name} and ${y.kind.name}`);
  }
  if (x.length !== y.length) {
    throw new TsmpiError("ERR_TSMPI_COUNT", `x and y must have the same length, got x.length ${x.length} and y.length ${y.length}`);
  }
  const xs = deviceStorage(x);
  const ys = deviceStorage(y);
  if ("device" in xs && "device" in ys) return gpuBinding().saxpyGpu(kindCode(x.kind), a, xs.device, ys.device, y.length);
  if ("host" in xs && "host" in ys) {
    const hx = xs.host as Float32Array | Float64Array;
    const hy = ys.host as Float32Array | Float64Array;
    const binding = getBinding();
    return binding ? binding.saxpyCpu(a, hx, hy) : saxpyJs(a, hx, hy);
  }
  throw new TsmpiError("ERR_TSMPI_INTERNAL", "x and y live on different backends");
}

/**
 * The sum of all elements of `x`, accumulated in float64 (BigInt kinds converted to numbers).
 *
 * @param x - a DeviceArray of any kind.
 * @returns the sum.
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` (not a DeviceArray), `ERR_TSMPI_ARG` (freed) — as rejections.
 * @example
 * ```ts
 * const total = await cuda.sum(DeviceArray.from(new Float64Array([1, 2, 3]))); // 6
 * ```
 */
export async function sum(x: DeviceArray): Promise<number> {
  checkDeviceArray(x, "x");
  const storage = deviceStorage(x);
  if ("device" in storage) return gpuBinding().sumGpu(kindCode(x.kind), storage.device, x.length);
  const binding = getBinding();
  return binding ? binding.sumCpu(storage.host) : sumJs(storage.host);
}

/**
 * Resolves when all GPU work this rank enqueued so far has finished (at once on the `"cpu"`
 * backend, where every call already resolves when done).
 *
 * @example
 * ```ts
 * void k.launch(cfg, args); await cuda.synchronize();
 * ```
 */
export async function synchronize(): Promise<void> {
  if (getBackend() === "cuda") await gpuBinding().synchronizeGpu();
}
