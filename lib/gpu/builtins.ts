/**
 * The built-in kernels every rank can call: Monte Carlo pi sample counting, saxpy and sum. Each
 * runs on the live backend: the GPU (CUDA kernels compiled into the addon), else the addon's C++
 * on the libuv threadpool, else the JS twins in `lib/gpu/kernels/` (no addon, or `TSMPI_NATIVE=0`).
 * piCount gives the identical count on all three; saxpy rounds identically on all three; sum
 * agrees exactly between C++ and JS and to rounding on the GPU.
 *
 * The array arguments take DeviceArrays or host typed arrays (see {@link saxpy}).
 *
 * Not supported yet: other reductions (min/max/dot), strided or partial-range kernels, reusing
 * the device copy of a host array across calls (each call copies it again: keep data that
 * several calls use in a DeviceArray).
 *
 * @module
 */
import { DeviceArray, checkDeviceArray, deviceStorage, isDeviceArray, kindCode, kindOf, type TypedArrayKind } from "./device-array.js";
import { TsmpiError, describeValue } from "../errors.js";
import { getBinding, type NativeDeviceMemory } from "../native.js";
import { getBackend } from "./backend.js";
import { gpuBinding } from "./device.js";
import type { TypedArray } from "../serializer.js";
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

/** A built-in's array argument: a DeviceArray, or a host typed array (copied to the GPU and back there). */
interface Operand {
  name: string;
  kind: TypedArrayKind;
  length: number;
  device?: DeviceArray;
  host?: TypedArray;
}

/** Checks a built-in's array argument: a live DeviceArray or a host typed array. */
function operand(value: unknown, name: string): Operand {
  if (isDeviceArray(value)) {
    checkDeviceArray(value, name);
    return { name, kind: value.kind, length: value.length, device: value };
  }
  const kind = kindOf(value);
  if (kind === undefined)
    throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a DeviceArray or a typed array, got ${describeValue(value)}`);
  return { name, kind, length: (value as TypedArray).length, host: value as TypedArray };
}

/** How an operand reads in a message: `x (Float32Array DeviceArray of 3)`. */
function described(op: Operand): string {
  return `${op.name} ${op.kind.name}${op.device ? " DeviceArray" : ""} of ${op.length}`;
}

type Storage = ReturnType<typeof deviceStorage>;

/**
 * Runs `run` on the storage of `operands` on the live backend. On `"cpu"` host arrays are used
 * as they are (no copy). On `"cuda"` each host array is copied into a temporary DeviceArray, and
 * the ones in `written` are copied back into the caller's array after `run` (as numba does with
 * numpy arguments); the temporaries are freed however it ends.
 */
async function onBackend<R>(
  operands: readonly Operand[],
  written: readonly Operand[],
  run: (storage: Storage[]) => Promise<R>,
): Promise<R> {
  const staged = new Map<Operand, DeviceArray>();
  try {
    if (getBackend() === "cuda") {
      for (const op of operands) if (op.host) staged.set(op, new DeviceArray(op.kind, op.length));
      await Promise.all([...staged].map(([op, temp]) => temp.stageFromHost(op.host!)));
    }
    const storage = operands.map((op): Storage => {
      const device = op.device ?? staged.get(op);
      return device ? deviceStorage(device) : { host: op.host! };
    });
    const result = await run(storage);
    await Promise.all(
      written.map((op) => {
        const temp = staged.get(op);
        return temp ? (deviceStorage(temp) as { device: NativeDeviceMemory }).device.downloadAsync(op.host!) : undefined;
      }),
    );
    return result;
  } finally {
    for (const temp of staged.values()) temp.free();
  }
}

/** What saxpy takes: a Float32Array or Float64Array, on the host or as a DeviceArray (the kind is checked when called). */
export type FloatOperand = DeviceArray | Float32Array | Float64Array;

/**
 * `y = a * x + y`, element-wise, in place on `y`. Float32 arrays compute in float32 (`a` is
 * rounded to float32), Float64 arrays in float64; no fused multiply-add, so every backend gives
 * the same bits. Resolves when done.
 *
 * `x` and `y` may be DeviceArrays or host typed arrays, in any mix (as a numba kernel takes numpy
 * arrays): on the GPU a host array is copied to the device for the call and `y`'s result copied
 * back into it; on the `"cpu"` backend host arrays are used in place.
 *
 * @param a - the scalar.
 * @param x - a Float32Array or Float64Array, or a DeviceArray of one.
 * @param y - of the same kind and length as `x`; overwritten.
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` (neither a DeviceArray nor a typed array, other kinds,
 *   kinds differ), `ERR_TSMPI_COUNT` (lengths differ), `ERR_TSMPI_ARG` (a bad `a`, a freed
 *   array) — as rejections.
 * @example
 * ```ts
 * await cuda.saxpy(2, x, y);                                                 // DeviceArrays
 * const hy = new Float32Array([1, 1, 1]);
 * await cuda.saxpy(2, new Float32Array([1, 2, 3]), hy);                      // hy is [3, 5, 7]
 * ```
 */
export async function saxpy(a: number, x: FloatOperand, y: FloatOperand): Promise<void> {
  if (typeof a !== "number") throw new TsmpiError("ERR_TSMPI_ARG", `a must be a number, got ${describeValue(a)}`);
  const ox = operand(x, "x");
  const oy = operand(y, "y");
  if (ox.kind !== oy.kind || (ox.kind !== Float32Array && ox.kind !== Float64Array)) {
    throw new TsmpiError(
      "ERR_TSMPI_TYPE",
      `x and y must both be Float32Arrays or both Float64Arrays (host or DeviceArray), got ${described(ox)} and ${described(oy)}`,
    );
  }
  if (ox.length !== oy.length) {
    throw new TsmpiError("ERR_TSMPI_COUNT", `x and y must have the same length, got x.length ${ox.length} and y.length ${oy.length}`);
  }
  return onBackend([ox, oy], [oy], async ([xs, ys]) => {
    if ("device" in xs! && "device" in ys!) return gpuBinding().saxpyGpu(kindCode(ox.kind), a, xs.device, ys.device, oy.length);
    if ("host" in xs! && "host" in ys!) {
      const hx = xs.host as Float32Array | Float64Array;
      const hy = ys.host as Float32Array | Float64Array;
      const binding = getBinding();
      return binding ? binding.saxpyCpu(a, hx, hy) : saxpyJs(a, hx, hy);
    }
    throw new TsmpiError("ERR_TSMPI_INTERNAL", "x and y live on different backends");
  });
}

/**
 * The sum of all elements of `x`, accumulated in float64 (BigInt kinds converted to numbers).
 * A host typed array is copied to the GPU for the call on the `"cuda"` backend (so the result
 * rounds as it does for a DeviceArray), used in place on `"cpu"`.
 *
 * @param x - a DeviceArray or a typed array of any kind.
 * @returns the sum.
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` (neither a DeviceArray nor a typed array), `ERR_TSMPI_ARG`
 *   (freed) — as rejections.
 * @example
 * ```ts
 * const total = await cuda.sum(DeviceArray.from(new Float64Array([1, 2, 3]))); // 6
 * await cuda.sum(new Int32Array([1, 2, 3]));                                  // 6
 * ```
 */
export async function sum(x: DeviceArray | TypedArray): Promise<number> {
  const ox = operand(x, "x");
  return onBackend([ox], [], async ([storage]) => {
    if ("device" in storage!) return gpuBinding().sumGpu(kindCode(ox.kind), storage.device, ox.length);
    const binding = getBinding();
    return binding ? binding.sumCpu(storage!.host) : sumJs(storage!.host);
  });
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
