/**
 * User kernels: CUDA C source compiled at run time with NVRTC (like CuPy's RawKernel or PyCUDA's
 * SourceModule), cached per process, launched asynchronously on this rank's stream.
 *
 * Scalar arguments: a plain JS number gets its C type from the kernel's signature when it can be
 * read from the source (`lib/gpu/kernel-signature.ts`); otherwise, or to be explicit, type it with
 * `cuda.f32(x)`, `cuda.f64`, `cuda.i32`, `cuda.u32`, `cuda.i64`, `cuda.u64`. Typed scalars that
 * contradict a readable signature are rejected, as are DeviceArrays of the wrong element kind.
 *
 * Each pending launch waits on a libuv threadpool thread (sleeping, not spinning), so keep the
 * number of launches in flight at once below the pool size (`UV_THREADPOOL_SIZE`, default 4) or
 * file and DNS work queues behind them.
 *
 * Not supported yet: `#include` of CUDA headers (NVRTC sees no include path unless given `-I`
 * options), struct/vector arguments, cooperative launches, streams other than the rank's one,
 * CUDA graphs, compiling without blocking the event loop (compilation is synchronous; cached).
 *
 * @module
 */
import { deviceStorage, isDeviceArray, type DeviceArray } from "./device-array.js";
import { TsmpiError, describeValue } from "../errors.js";
import { parseKernelSignature, type KernelParam, type ScalarType } from "./kernel-signature.js";
import type { NativeKernelHandle } from "../native.js";
import { kernelProblems } from "./backend.js";
import { gpuBinding, selectedDevice } from "./device.js";

export type { ScalarType, KernelParam } from "./kernel-signature.js";

interface ScalarInfo {
  size: number;
  integer: boolean;
  min: bigint;
  max: bigint;
  write(view: DataView, offset: number, value: number | bigint): void;
}

const int = (size: number, signed: boolean, write: ScalarInfo["write"]): ScalarInfo => {
  const bits = BigInt(size * 8);
  return { size, integer: true, min: signed ? -(2n ** (bits - 1n)) : 0n, max: signed ? 2n ** (bits - 1n) - 1n : 2n ** bits - 1n, write };
};
const float = (size: number, write: ScalarInfo["write"]): ScalarInfo => ({ size, integer: false, min: 0n, max: 0n, write });

const SCALAR_INFO: Record<ScalarType, ScalarInfo> = {
  i8: int(1, true, (v, o, x) => v.setInt8(o, Number(x))),
  u8: int(1, false, (v, o, x) => v.setUint8(o, Number(x))),
  i16: int(2, true, (v, o, x) => v.setInt16(o, Number(x), true)),
  u16: int(2, false, (v, o, x) => v.setUint16(o, Number(x), true)),
  i32: int(4, true, (v, o, x) => v.setInt32(o, Number(x), true)),
  u32: int(4, false, (v, o, x) => v.setUint32(o, Number(x), true)),
  i64: int(8, true, (v, o, x) => v.setBigInt64(o, BigInt(x), true)),
  u64: int(8, false, (v, o, x) => v.setBigUint64(o, BigInt(x), true)),
  f32: float(4, (v, o, x) => v.setFloat32(o, Number(x), true)),
  f64: float(8, (v, o, x) => v.setFloat64(o, Number(x), true)),
};

/** Checks a scalar value against its C type; returns it (booleans become 0/1). */
function checkScalar(type: ScalarType, value: unknown, what: string): number | bigint {
  const info = SCALAR_INFO[type];
  const v = typeof value === "boolean" && info.integer ? Number(value) : value;
  if (!info.integer) {
    if (typeof v === "number") return v;
    throw new TsmpiError("ERR_TSMPI_ARG", `${what} must be a number for ${type}, got ${describeValue(value)}`);
  }
  const isInteger = typeof v === "bigint" || (typeof v === "number" && Number.isSafeInteger(v));
  if (isInteger && BigInt(v as number | bigint) >= info.min && BigInt(v as number | bigint) <= info.max) return v as number | bigint;
  throw new TsmpiError(
    "ERR_TSMPI_ARG",
    `${what} must be an integer in [${info.min}, ${info.max}] for ${type}, got ${describeValue(value)}`,
  );
}

/**
 * A kernel argument with an explicit C type, made by `cuda.f32(2.5)`, `cuda.i32(n)` & co.
 */
export class KernelScalar {
  /**
   * @param type - the C type: `f32` float, `f64` double, `i32` int, `u32` unsigned, `i64` long long, `u64` unsigned long long (also i8/u8/i16/u16).
   * @param value - a number (a BigInt too for i64/u64), checked against the type's range.
   * @throws {TsmpiError} `ERR_TSMPI_ARG` when the value does not fit the type.
   */
  constructor(
    readonly type: ScalarType,
    readonly value: number | bigint,
  ) {
    if (!(type in SCALAR_INFO))
      throw new TsmpiError("ERR_TSMPI_TYPE", `type must be one of ${Object.keys(SCALAR_INFO).join(", ")}, got ${describeValue(type)}`);
    this.value = checkScalar(type, value, `cuda.${type} value`);
  }

  /** `cuda.f32(2.5)`. */
  toString(): string {
    return `cuda.${this.type}(${describeValue(this.value)})`;
  }
}

/** A C `float` argument. @example `cuda.f32(2.0)` */
export const f32 = (value: number): KernelScalar => new KernelScalar("f32", value);
/** A C `double` argument. @example `cuda.f64(Math.PI)` */
export const f64 = (value: number): KernelScalar => new KernelScalar("f64", value);
/** A C `int` argument (32-bit). @example `cuda.i32(n)` */
export const i32 = (value: number): KernelScalar => new KernelScalar("i32", value);
/** A C `unsigned int` argument. @example `cuda.u32(n)` */
export const u32 = (value: number): KernelScalar => new KernelScalar("u32", value);
/** A C `long long` / `int64_t` argument. @example `cuda.i64(2n ** 40n)` */
export const i64 = (value: number | bigint): KernelScalar => new KernelScalar("i64", value);
/** A C `unsigned long long` / `uint64_t` / `size_t` argument. @example `cuda.u64(n)` */
export const u64 = (value: number | bigint): KernelScalar => new KernelScalar("u64", value);

/** What a kernel accepts per argument: a DeviceArray (a pointer), a typed scalar, or a plain value typed by the signature. */
export type KernelArg = DeviceArray | KernelScalar | number | bigint | boolean;

/** Grid or block dimensions: `n` or `[x]`, `[x, y]`, `[x, y, z]`. */
export type Dim3 = number | readonly [number] | readonly [number, number] | readonly [number, number, number];

/** How to launch: grid and block dimensions, and dynamic shared memory in bytes. */
export interface LaunchConfig {
  grid: Dim3;
  block: Dim3;
  /** Dynamic shared memory per block in bytes (default 0; above 48 KiB it is opted into). */
  sharedMem?: number;
}

const GRID_MAX = [2 ** 31 - 1, 65535, 65535];
const BLOCK_MAX = [1024, 1024, 64];

function dims(value: unknown, name: string, max: number[]): number[] {
  const list = typeof value === "number" ? [value] : Array.isArray(value) ? [...(value as unknown[])] : undefined;
  if (!list || list.length < 1 || list.length > 3) {
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a positive integer or an array of 1 to 3 of them, got ${describeValue(value)}`);
  }
  while (list.length < 3) list.push(1);
  list.forEach((d, i) => {
    if (!Number.isInteger(d) || (d as number) < 1 || (d as number) > max[i]!) {
      throw new TsmpiError("ERR_TSMPI_ARG", `${name}[${i}] must be an integer in [1, ${max[i]}], got ${describeValue(d)}`);
    }
  });
  return list as number[];
}

function launchDims(config: LaunchConfig): { dims: Uint32Array; sharedMem: number } {
  if (config === null || typeof config !== "object") {
    throw new TsmpiError("ERR_TSMPI_ARG", `config must be { grid, block, sharedMem? }, got ${describeValue(config)}`);
  }
  const grid = dims(config.grid, "grid", GRID_MAX);
  const block = dims(config.block, "block", BLOCK_MAX);
  const threads = block[0]! * block[1]! * block[2]!;
  if (threads > 1024)
    throw new TsmpiError("ERR_TSMPI_ARG", `block must have at most 1024 threads in all, got ${block.join(" x ")} = ${threads}`);
  const sharedMem = config.sharedMem ?? 0;
  if (!Number.isInteger(sharedMem) || sharedMem < 0 || sharedMem > 2 ** 32 - 1) {
    throw new TsmpiError("ERR_TSMPI_ARG", `sharedMem must be an integer number of bytes in [0, 2^32), got ${describeValue(sharedMem)}`);
  }
  return { dims: Uint32Array.from([...grid, ...block]), sharedMem };
}

/** A slot of the packed argument buffer: its C type and value. */
type Packed = { type: ScalarType; value: number | bigint };

function packOne(kernel: string, index: number, arg: unknown, param: KernelParam | undefined): Packed {
  const what = `argument ${index}${param ? ` (${param.ctype})` : ""} of kernel ${kernel}`;
  if (isDeviceArray(arg)) {
    const storage = deviceStorage(arg);
    if (!("device" in storage)) throw new TsmpiError("ERR_TSMPI_INTERNAL", `${what}: ${arg} is not in device memory`);
    if (param?.kind === "scalar") throw new TsmpiError("ERR_TSMPI_TYPE", `${what} is a scalar, got ${arg}`);
    if (param?.kind === "pointer" && param.accepts && !param.accepts.includes(arg.kind.name)) {
      throw new TsmpiError("ERR_TSMPI_TYPE", `${what} needs a DeviceArray of ${param.accepts.join(" or ")}, got ${arg}`);
    }
    return { type: "u64", value: storage.device.address };
  }
  if (arg instanceof KernelScalar) {
    if (param?.kind === "pointer") throw new TsmpiError("ERR_TSMPI_TYPE", `${what} is a pointer: pass a DeviceArray, got ${arg}`);
    if (param?.kind === "scalar" && param.type !== null && param.type !== arg.type) {
      throw new TsmpiError("ERR_TSMPI_TYPE", `${what} is ${param.type}: pass cuda.${param.type}(...), got ${arg}`);
    }
    return { type: arg.type, value: arg.value };
  }
  if (typeof arg === "number" || typeof arg === "bigint" || typeof arg === "boolean") {
    if (param?.kind === "pointer")
      throw new TsmpiError("ERR_TSMPI_TYPE", `${what} is a pointer: pass a DeviceArray, got ${describeValue(arg)}`);
    if (param?.kind !== "scalar" || param.type === null) {
      const why = param ? `its type ${param.ctype} is not a plain scalar` : "the kernel's signature could not be read from the source";
      throw new TsmpiError(
        "ERR_TSMPI_TYPE",
        `${what} is a plain ${typeof arg} but ${why}: give it a type, e.g. cuda.f32(x) or cuda.i32(n)`,
      );
    }
    return { type: param.type, value: checkScalar(param.type, arg, what) };
  }
  throw new TsmpiError(
    "ERR_TSMPI_TYPE",
    `${what} must be a DeviceArray, a number or a typed scalar such as cuda.f32(x), got ${describeValue(arg)}`,
  );
}

/** Packs arguments into one buffer, each aligned to its size, with each argument's offset. */
function packArguments(
  kernel: string,
  args: readonly unknown[],
  params: readonly KernelParam[] | null,
): { bytes: Uint8Array; offsets: Uint32Array } {
  const packed = args.map((arg, i) => packOne(kernel, i, arg, params?.[i]));
  const offsets = new Uint32Array(Math.max(packed.length, 1));
  let end = 0;
  packed.forEach(({ type }, i) => {
    const size = SCALAR_INFO[type].size;
    offsets[i] = Math.ceil(end / size) * size;
    end = offsets[i]! + size;
  });
  const bytes = new Uint8Array(Math.max(end, 8));
  const view = new DataView(bytes.buffer);
  packed.forEach(({ type, value }, i) => SCALAR_INFO[type].write(view, offsets[i]!, value));
  return { bytes, offsets: offsets.subarray(0, packed.length) };
}

/**
 * A compiled user kernel; made by {@link CudaApi.kernel | cuda.kernel}.
 *
 * @example
 * ```ts
 * const k = cuda.kernel(src, "saxpy");
 * await k.launch({ grid: Math.ceil(n / 256), block: 256 }, [y, x, cuda.f32(2), n]);
 * ```
 */
export class Kernel {
  readonly #handle: NativeKernelHandle;

  /** @internal Use `cuda.kernel(source, name, options)`. */
  constructor(
    handle: NativeKernelHandle,
    /** The kernel's name as given. */
    readonly name: string,
    /** The NVRTC options it was compiled with (besides the architecture tsmpi adds). */
    readonly options: readonly string[],
    /** Its parameters as read from the source, or `null` when they could not be read. */
    readonly params: readonly KernelParam[] | null,
  ) {
    this.#handle = handle;
  }

  /**
   * Launches the kernel on this rank's stream, after the GPU work enqueued before it. The
   * launch itself is immediate; the promise resolves when the kernel has finished (waited for
   * off the main thread, so the event loop keeps running).
   *
   * @param config - `{ grid, block, sharedMem? }`.
   * @param args - one per kernel parameter: DeviceArrays for pointers, numbers (typed by the
   *   signature) or `cuda.f32(x)`-style typed scalars.
   * @throws {TsmpiError} `ERR_TSMPI_ARG` (bad config, value out of range, freed array),
   *   `ERR_TSMPI_COUNT` (wrong number of arguments), `ERR_TSMPI_TYPE` (argument of the wrong
   *   kind), `ERR_TSMPI_CUDA` (the launch or the kernel failed) — all as rejections.
   */
  async launch(config: LaunchConfig, args: readonly KernelArg[]): Promise<void> {
    const { dims: d, sharedMem } = launchDims(config);
    if (!Array.isArray(args)) throw new TsmpiError("ERR_TSMPI_ARG", `args must be an array, got ${describeValue(args)}`);
    if (this.params && args.length !== this.params.length) {
      throw new TsmpiError(
        "ERR_TSMPI_COUNT",
        `kernel ${this.name} takes ${this.params.length} arguments (${this.params.map((p) => p.ctype).join(", ")}), got ${args.length}`,
      );
    }
    const { bytes, offsets } = packArguments(this.name, args, this.params);
    await gpuBinding().launchKernel(this.#handle, d, sharedMem, bytes, offsets);
    // Reading `args` here keeps its DeviceArrays reachable (not collected) until the kernel ended.
    void args.length;
  }
}

const cache = new Map<string, Kernel>();

function checkString(value: unknown, name: string): string {
  if (typeof value !== "string" || value.length === 0)
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a non-empty string, got ${describeValue(value)}`);
  return value;
}

/**
 * Compiles the `__global__` function `name` from CUDA C `source` with NVRTC for this rank's GPU
 * (once per process for the same source, name and options) and returns it ready to launch.
 * Declare it `extern "C"`, or pass a C++ name expression such as `"scale<float>"`.
 * Compilation blocks the calling thread (typically 0.1 to 1 s; later calls hit the cache).
 *
 * @param source - CUDA C++ source.
 * @param name - the kernel's name.
 * @param options - NVRTC options, e.g. `["-use_fast_math", "-DN=4"]`; tsmpi adds the device's
 *   architecture unless one is given.
 * @returns the compiled {@link Kernel}.
 * @throws {TsmpiError} `ERR_TSMPI_NO_GPU` where the driver (libcuda.so.1), NVRTC (libnvrtc) or a
 *   device is missing, naming each; `ERR_TSMPI_CUDA` ({@link CudaCompileError}, with `log`) when
 *   the source does not compile; `ERR_TSMPI_ARG` for non-string arguments.
 * @example
 * ```ts
 * const k = cuda.kernel(`extern "C" __global__ void scale(float* x, float a, int n) {
 *   int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= a; }`, "scale");
 * await k.launch({ grid: 4, block: 256 }, [x, 2, 1000]);  // a: float, n: int, from the signature
 * ```
 */
export function kernel(source: string, name: string, options: readonly string[] = []): Kernel {
  checkString(source, "source");
  checkString(name, "name");
  if (!Array.isArray(options) || options.some((o) => typeof o !== "string")) {
    throw new TsmpiError("ERR_TSMPI_ARG", `options must be an array of strings, got ${describeValue(options)}`);
  }
  const key = JSON.stringify([name, options, source]);
  const cached = cache.get(key);
  if (cached) return cached;
  const problems = kernelProblems();
  if (problems.length > 0) {
    throw new TsmpiError("ERR_TSMPI_NO_GPU", `cuda.kernel needs a CUDA driver, NVRTC and a GPU: ${problems.join("; ")}`);
  }
  const handle = gpuBinding().compileKernel(source, name, options, selectedDevice()!);
  const compiled = new Kernel(handle, name, Object.freeze([...options]), parseKernelSignature(source, name));
  cache.set(key, compiled);
  return compiled;
}
