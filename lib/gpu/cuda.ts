/**
 * `tsmpi/cuda` (also exported by `tsmpi`): this rank's GPU from TypeScript. Device memory ({@link DeviceArray}), built-in
 * kernels (Monte Carlo pi counting, saxpy, sum), and user kernels from CUDA C source compiled at
 * run time with NVRTC. Each rank uses GPU `localRank % deviceCount` (after
 * `CUDA_VISIBLE_DEVICES`). Without a GPU (no CUDA build, no driver, no device, `TSMPI_CUDA=0`)
 * the same code runs on the CPU: DeviceArrays live in host memory and the built-ins run in the
 * addon's C++ or, without the addon (`TSMPI_NATIVE=0`), in JavaScript. `cuda.backend` says which.
 * Only user kernels need a real GPU. The buffer-tier message calls (`comm.Send`, `comm.Allreduce`,
 * ...) take DeviceArrays and stage them through host memory. Importing this module loads nothing:
 * the addon loads, and CUDA is probed, on first use.
 *
 * Timing: `cuda.event()` and `cuda.elapsedTime(start, end)` (GPU only), as CuPy's events.
 *
 * Not supported yet: several GPUs per rank, user-chosen streams, DeviceArray views,
 * device-to-device transfers between ranks (messages stage through host memory), AMD/ROCm.
 *
 * @example
 * ```ts
 * import { cuda, DeviceArray } from "tsmpi/cuda";
 * const x = DeviceArray.from(new Float32Array([1, 2, 3]));
 * const y = cuda.toDevice(new Float32Array([1, 1, 1]));
 * await cuda.saxpy(2, x, y);            // y = 2x + y on the GPU, or on the CPU
 * console.log(cuda.backend, y.toHost(), await cuda.sum(y));
 * ```
 *
 * @module
 */
import { piCount, saxpy, sum, synchronize, type FloatOperand, type PiCountOptions } from "./builtins.js";
import { DeviceArray, type TypedArrayKind } from "./device-array.js";
import { elapsedTime, event, type CudaEvent } from "./event.js";
import { TsmpiError, describeValue } from "../errors.js";
import { f32, f64, i32, i64, kernel, u32, u64, type Kernel, type KernelScalar } from "./kernel.js";
import { getBinding, type NativeDevice } from "../native.js";
import { backendReason, getBackend, type Backend } from "./backend.js";
import { selectedDevice } from "./device.js";
import { nativeInfo, type NativeInfo } from "./native-info.js";
import type { TypedArray } from "../serializer.js";

export { DeviceArray, isDeviceArray, type TypedArrayKind } from "./device-array.js";
export { Kernel, KernelScalar, type Dim3, type KernelArg, type LaunchConfig, type ScalarType, type KernelParam } from "./kernel.js";
export { CudaCompileError } from "../errors.js";
export { CudaEvent } from "./event.js";
export { nativeInfo, type NativeInfo } from "./native-info.js";
export type { Backend } from "./backend.js";
export type { NativeDevice, AddonState } from "../native.js";
export type { FloatOperand, PiCountOptions } from "./builtins.js";

/** A CUDA device: index, name, memory in bytes and compute capability (`"9.0"`). */
export type DeviceInfo = NativeDevice;

/** The shape of {@link cuda}. */
export interface CudaApi {
  /** True when this rank computes on a GPU (`backend === "cuda"`). */
  readonly available: boolean;
  /** `"cuda"` (GPU) or `"cpu"` (host memory and C++/JS kernels). */
  readonly backend: Backend;
  /** Why the backend is `"cpu"`, e.g. `driver library libcuda.so.1 not found (...)`; `null` on `"cuda"`. */
  readonly reason: string | null;
  /** Usable CUDA devices this rank sees (0 on the `"cpu"` backend). */
  readonly deviceCount: number;
  /**
   * The device this rank uses, `localRank % deviceCount` (`TSMPI_LOCAL_RANK` read on first use);
   * `null` on the `"cpu"` backend.
   */
  readonly device: number | null;
  /**
   * Name, memory and compute capability of a device.
   *
   * @param index - a device index in [0, deviceCount); default this rank's device.
   * @throws {TsmpiError} `ERR_TSMPI_NO_GPU` on the `"cpu"` backend, `ERR_TSMPI_ARG` for a bad index.
   * @example `cuda.deviceInfo()` → `{ index: 0, name: "NVIDIA H100 80GB HBM3", totalMemory: 85017755648, computeCapability: "9.0" }`
   */
  deviceInfo(index?: number): DeviceInfo;
  /**
   * A new DeviceArray holding a copy of `host` (as `DeviceArray.from`).
   *
   * @throws {TsmpiError} `ERR_TSMPI_TYPE` when `host` is not a typed array.
   * @example `const d = cuda.toDevice(new Float64Array([1, 2, 3]));`
   */
  toDevice<T extends TypedArray>(host: T): DeviceArray<T>;
  /**
   * A new DeviceArray of `length` elements of `kind` (as `new DeviceArray(kind, length)`).
   *
   * @throws {TsmpiError} `ERR_TSMPI_TYPE` for an unknown kind, `ERR_TSMPI_COUNT` for a bad length.
   * @example `const d = cuda.empty(Float32Array, 1024);`
   */
  empty<T extends TypedArray>(kind: TypedArrayKind<T>, length: number): DeviceArray<T>;
  /** Compiles a user kernel from CUDA C source (see {@link kernel}). */
  kernel(source: string, name: string, options?: readonly string[]): Kernel;
  /** A kernel argument of C type `float`. @throws {TsmpiError} `ERR_TSMPI_ARG` for a non-number. @example `cuda.f32(2.0)` */
  f32(value: number): KernelScalar;
  /** A kernel argument of C type `double`. @example `cuda.f64(Math.PI)` */
  f64(value: number): KernelScalar;
  /** A kernel argument of C type `int`. @throws {TsmpiError} `ERR_TSMPI_ARG` outside [-2^31, 2^31). @example `cuda.i32(n)` */
  i32(value: number): KernelScalar;
  /** A kernel argument of C type `unsigned int`. @throws {TsmpiError} `ERR_TSMPI_ARG` outside [0, 2^32). @example `cuda.u32(n)` */
  u32(value: number): KernelScalar;
  /** A kernel argument of C type `long long`/`int64_t`. @throws {TsmpiError} `ERR_TSMPI_ARG` outside [-2^63, 2^63). @example `cuda.i64(2n ** 40n)` */
  i64(value: number | bigint): KernelScalar;
  /** A kernel argument of C type `unsigned long long`/`size_t`. @throws {TsmpiError} `ERR_TSMPI_ARG` outside [0, 2^64). @example `cuda.u64(n)` */
  u64(value: number | bigint): KernelScalar;
  /** Monte Carlo pi sample count (see {@link piCount}). */
  piCount(n: number, options?: PiCountOptions): Promise<number>;
  /** `y = a * x + y` on DeviceArrays or host Float32/Float64 arrays (see {@link saxpy}). */
  saxpy(a: number, x: FloatOperand, y: FloatOperand): Promise<void>;
  /** Float64-accumulated sum of a DeviceArray or host typed array (see {@link sum}). */
  sum(x: DeviceArray | TypedArray): Promise<number>;
  /** Resolves when all GPU work enqueued so far has finished (see {@link synchronize}). */
  synchronize(): Promise<void>;
  /** Records a timing event in this rank's stream now (GPU only; see {@link event}). */
  event(): CudaEvent;
  /** GPU milliseconds between two events, once both are reached (see {@link elapsedTime}). */
  elapsedTime(start: CudaEvent, end: CudaEvent): Promise<number>;
  /** The native addon and CUDA stack report (see {@link nativeInfo}). */
  info(): NativeInfo;
}

function deviceInfo(index: number | null = selectedDevice()): DeviceInfo {
  if (getBackend() !== "cuda" || index === null) throw new TsmpiError("ERR_TSMPI_NO_GPU", `no usable CUDA GPU: ${backendReason()}`);
  const devices = getBinding()!.driverInfo().devices;
  const device = Number.isInteger(index) ? devices[index] : undefined;
  if (!device) {
    throw new TsmpiError("ERR_TSMPI_ARG", `index must be an integer in [0, ${devices.length}), got ${describeValue(index)}`);
  }
  return { ...device };
}

/**
 * This rank's GPU (or its CPU stand-in): properties, memory, built-in and user kernels.
 *
 * @example
 * ```ts
 * import { cuda } from "tsmpi/cuda";
 * if (cuda.available) console.log(cuda.device, cuda.deviceInfo().name);
 * else console.log("CPU fallback:", cuda.reason);
 * ```
 */
export const cuda: CudaApi = Object.freeze({
  get available() {
    return getBackend() === "cuda";
  },
  get backend() {
    return getBackend();
  },
  get reason() {
    return backendReason();
  },
  get deviceCount() {
    return getBackend() === "cuda" ? getBinding()!.runtimeInfo().deviceCount : 0;
  },
  get device() {
    return selectedDevice();
  },
  deviceInfo,
  toDevice: <T extends TypedArray>(host: T) => DeviceArray.from(host),
  empty: <T extends TypedArray>(kind: TypedArrayKind<T>, length: number) => new DeviceArray(kind, length),
  kernel,
  f32,
  f64,
  i32,
  u32,
  i64,
  u64,
  piCount,
  saxpy,
  sum,
  synchronize,
  event,
  elapsedTime,
  info: nativeInfo,
});
