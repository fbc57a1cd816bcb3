/**
 * The native addon (`build/Release/tsmpi_native.node`, sources in `native/`): the ONE place that
 * declares its surface and loads it. Loading is lazy and never throws: where the addon is
 * missing, fails to load or is turned off with `TSMPI_NATIVE=0`, {@link getBinding} returns
 * `null` and every caller uses its pure-JavaScript twin (`lib/gpu/kernels/*.ts`).
 *
 * The live backend ({@link getBackend}) is `"cuda"` when the addon has CUDA compiled in, the CUDA
 * runtime sees at least one device and `TSMPI_CUDA` is not `0`; otherwise `"cpu"`.
 *
 * Not supported yet: loading a prebuilt addon from another path, Windows and macOS builds.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { CudaCompileError } from "./gpu/cuda-error.js";
import { TsmpiError, describeValue, type TsmpiErrorCode } from "./errors.js";
import type { TypedArray } from "./serializer.js";

/** Version of the exported surface; `native/addon.cc` carries the same number. */
export const ABI = 6;

/** One device allocation owned by a JS object (`native/device_memory.cc`). */
export interface NativeDeviceMemory {
  readonly byteLength: number;
  /** The device address (0n once freed). */
  readonly address: bigint;
  free(): void;
  /** Copies `src` to the start of the allocation, after all work enqueued before (blocks). */
  upload(src: TypedArray): void;
  /** Copies the first `dst.byteLength` bytes into `dst`, after all work enqueued before (blocks). */
  download(dst: TypedArray): void;
  uploadAsync(src: TypedArray): Promise<void>;
  downloadAsync(dst: TypedArray): Promise<void>;
}

/** A compiled user kernel (an opaque external; unloaded when collected). */
export interface NativeKernelHandle {
  readonly __nativeKernel: unique symbol;
}

/** A recorded CUDA timing event (an opaque external). */
export interface NativeEventHandle {
  readonly __nativeEvent: unique symbol;
}

/** A CUDA device as the driver reports it. */
export interface NativeDevice {
  index: number;
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** `"major.minor"`, e.g. `"9.0"`. */
  computeCapability: string;
}

/**
 * This rank's shared-memory inbox and its handles on the inboxes of the other ranks of its host
 * (`native/shm_channel.cc`; driven by `lib/transport/shm.ts`).
 */
export interface NativeShmChannel {
  /** The inbox's memfd; peers open it as `/proc/<pid>/fd/<memfd>`. */
  readonly memfd: number;
  /** The write end of this rank's wake-up pipe; peers open it the same way. */
  readonly wakeWrite: number;
  /** The read end of the wake-up pipe, handed over once to the event loop (which then owns it). */
  takeWakeRead(): number;
  /** Maps the inbox of the rank in host slot `slot` (process `pid`) and opens its wake-up pipe. */
  connect(slot: number, pid: number, memfd: number, wakeWrite: number): void;
  /** Reads the ring of the rank in `slot` from now on (a peer may write to this inbox even where connecting to it failed). */
  watch(slot: number): void;
  /** Writes what fits of a message from logical byte `offset` on; returns the new offset (the message's logical length once all is written). */
  send(slot: number, frames: readonly Buffer[], offset: number): number;
  /** Messages that have arrived (at most `budget`), polling up to `spinUs` for the first; `yieldBetween` calls sched_yield between polls. */
  receive(spinUs: number, yieldBetween: boolean, budget: number): Buffer[][];
  /** Asks senders for a wake-up; false when a message is already waiting (receive first). */
  arm(): boolean;
  close(): void;
}

/** The typed surface of `tsmpi_native.node`. Every call has a JS twin or a JS-side refusal. */
export interface NativeBinding {
  readonly abi: number;
  /** Whether nvcc compiled the CUDA part in (the define TSMPI_WITH_CUDA). */
  readonly cudaCompiled: boolean;
  setErrorFactory(factory: (code: string, message: string, log?: string) => Error): void;
  driverInfo(): { library: string | null; version: number; reason: string | null; devices: NativeDevice[] };
  nvrtcInfo(): { library: string | null; version: string | null; reason: string | null };
  runtimeInfo(): { version: number; deviceCount: number; reason: string | null };
  gpuInit(device: number): void;
  DeviceMemory: new (byteLength: number) => NativeDeviceMemory;
  philox(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): Uint32Array;
  piCountCpu(seed: bigint, stream: number, offset: bigint, n: bigint): Promise<number>;
  saxpyCpu(a: number, x: Float32Array | Float64Array, y: Float32Array | Float64Array): Promise<void>;
  sumCpu(x: TypedArray): Promise<number>;
  piCountGpu(seed: bigint, stream: number, offset: bigint, n: bigint): Promise<number>;
  saxpyGpu(kind: number, a: number, x: NativeDeviceMemory, y: NativeDeviceMemory, n: number): Promise<void>;
  sumGpu(kind: number, x: NativeDeviceMemory, n: number): Promise<number>;
  synchronizeGpu(): Promise<void>;
  /** A timing event recorded on the rank's stream now (an opaque external, destroyed when collected). */
  eventRecordGpu(): NativeEventHandle;
  /** Milliseconds between two completed events (call after synchronizeGpu). */
  eventElapsedGpu(start: NativeEventHandle, end: NativeEventHandle): number;
  compileKernel(source: string, name: string, options: readonly string[], device: number): NativeKernelHandle;
  launchKernel(kernel: NativeKernelHandle, dims: Uint32Array, sharedMem: number, params: Uint8Array, offsets: Uint32Array): Promise<void>;
  /**
   * Lets `tracer` and its descendants read this one's memory (Yama's PR_SET_PTRACER), or any
   * same-user process without it (PR_SET_PTRACER_ANY); false when refused.
   */
  allowPeerAccess(tracer?: number): boolean;
  /** The address of a typed array's elements. */
  addressOf(array: TypedArray): bigint;
  /** Copies `length` bytes at `address` in process `pid` into `target` at `targetByteOffset` (process_vm_readv). */
  peerRead(pid: number, address: bigint, length: number, target: TypedArray, targetByteOffset: number): void;
  /**
   * `target = op(target, pid's elements)` for `length` bytes at `address`, read and reduced in one
   * pass; `kind` is a serializer kind code, `op` 0 SUM, 1 PROD, 2 MAX, 3 MIN. False when that
   * kind/op pair is not handled natively.
   */
  peerReduce(pid: number, address: bigint, length: number, target: TypedArray, targetByteOffset: number, kind: number, op: number): boolean;
  /** Pins the calling thread to the `index`-th CPU of its affinity mask (modulo its size); that CPU, or -1 when refused. */
  bindThread(index: number): number;
  /** Fixes glibc malloc's mmap and trim thresholds (bytes); false where malloc is not glibc's or refused. */
  keepHeap(mmapThreshold: number, trimThreshold: number): boolean;
  /** Makes this rank's inbox: `slots` ranks on this host, this one in `slot`, `ringBytes` per sender. */
  /** `maxRecord` bounds one message's bytes in a ring (a longer one is a corrupt ring; default 2^31). */
  ShmChannel: new (slots: number, slot: number, ringBytes: number, maxRecord?: number) => NativeShmChannel;
}

/** How the addon fared: loaded, turned off (`TSMPI_NATIVE=0`), not built, or failed to load. */
export type AddonState = "loaded" | "disabled" | "missing" | "failed";

/** The live backend of DeviceArray and the built-in kernels. */
export type Backend = "cuda" | "cpu";

interface LoadResult {
  binding: NativeBinding | null;
  addon: AddonState;
  reason?: string;
}

let loaded: LoadResult | undefined;
let backendState: { backend: Backend; reason: string | null } | undefined;

function errorFactory(code: string, message: string, log?: string): Error {
  if (log !== undefined) return new CudaCompileError(message, log);
  return new TsmpiError(code as TsmpiErrorCode, message);
}

function load(): LoadResult {
  if (process.env.TSMPI_NATIVE === "0") return { binding: null, addon: "disabled", reason: "turned off by TSMPI_NATIVE=0" };
  // lib/native.ts runs from lib/ (sources) or dist/lib/ (built): the addon is under the package root.
  const candidates = ["../build/Release/tsmpi_native.node", "../../build/Release/tsmpi_native.node"].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const file = candidates.find((p) => existsSync(p));
  if (!file) {
    return { binding: null, addon: "missing", reason: "build/Release/tsmpi_native.node was not built (run `npm rebuild tsmpi` to retry)" };
  }
  let binding: NativeBinding;
  try {
    binding = createRequire(import.meta.url)(file) as NativeBinding;
  } catch (error) {
    return { binding: null, addon: "failed", reason: `loading ${file} failed: ${(error as Error).message}` };
  }
  if (binding.abi !== ABI) {
    return { binding: null, addon: "failed", reason: `stale build: the addon has ABI ${binding.abi}, tsmpi expects ${ABI} (run \`npm rebuild tsmpi\`)` };
  }
  binding.setErrorFactory(errorFactory);
  return { binding, addon: "loaded" };
}

function loadOnce(): LoadResult {
  loaded ??= load();
  return loaded;
}

/**
 * The native addon, loaded on first call; `null` when it is turned off, missing or broken
 * ({@link bindingStatus} says which and why).
 */
export function getBinding(): NativeBinding | null {
  return loadOnce().binding;
}

/** Whether the addon loaded and, if not, why. */
export function bindingStatus(): { addon: AddonState; reason?: string } {
  const { addon, reason } = loadOnce();
  return reason === undefined ? { addon } : { addon, reason };
}

function cudaVersion(encoded: number): string | null {
  return encoded > 0 ? `${Math.floor(encoded / 1000)}.${(encoded % 1000) / 10}` : null;
}

/** Why CUDA cannot be used by DeviceArray and the built-ins, or `null` when it can. */
function cudaProblem(binding: NativeBinding | null): string | null {
  if (process.env.TSMPI_CUDA === "0") return "CUDA turned off by TSMPI_CUDA=0";
  if (!binding) {
    const { addon, reason } = bindingStatus();
    return `the native addon is ${addon} (${reason}), so CUDA cannot be reached`;
  }
  if (!binding.cudaCompiled) return "CUDA was not compiled into the native addon (no nvcc at install time, or TSMPI_CUDA=0)";
  const runtime = binding.runtimeInfo();
  if (runtime.deviceCount > 0) return null;
  const driver = binding.driverInfo();
  if (driver.reason !== null) return driver.reason;
  return (
    `the CUDA runtime ${cudaVersion(runtime.version)} compiled into the addon cannot use the ${driver.devices.length} device(s) ` +
    `of driver ${cudaVersion(driver.version)} (${runtime.reason}); reinstall tsmpi with a CUDA toolkit no newer than the driver`
  );
}

/** The live backend, decided once per process. */
export function getBackend(): Backend {
  backendState ??= (() => {
    const reason = cudaProblem(getBinding());
    return { backend: reason === null ? ("cuda" as const) : ("cpu" as const), reason };
  })();
  return backendState.backend;
}

/** Why the backend is `"cpu"` (`null` on `"cuda"`). */
export function backendReason(): string | null {
  getBackend();
  return backendState!.reason;
}

let device: number | null | undefined;
let deviceReady = false;

/** This rank's local rank: `TSMPI_LOCAL_RANK` (set by the runtime in every launch mode), else 0. */
export function localRank(): number {
  const raw = process.env.TSMPI_LOCAL_RANK ?? "0";
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || raw.trim() === "") {
    throw new TsmpiError("ERR_TSMPI_ARG", `TSMPI_LOCAL_RANK must be a non-negative integer, got ${describeValue(raw)}`);
  }
  return value;
}

/**
 * The device this rank uses: `localRank % deviceCount` among the devices visible after
 * `CUDA_VISIBLE_DEVICES`, decided on first call; `null` on the `"cpu"` backend.
 *
 * @throws {TsmpiError} `ERR_TSMPI_ARG` when `TSMPI_LOCAL_RANK` is not a non-negative integer.
 */
export function selectedDevice(): number | null {
  if (device === undefined) {
    device = getBackend() === "cuda" ? localRank() % getBinding()!.runtimeInfo().deviceCount : null;
  }
  return device;
}

/**
 * Selects this rank's device in the addon (once) and returns the binding, for code about to use
 * the GPU.
 *
 * @throws {TsmpiError} `ERR_TSMPI_NO_GPU` on the `"cpu"` backend, with the reason.
 */
export function gpuBinding(): NativeBinding {
  const index = selectedDevice();
  if (index === null) throw new TsmpiError("ERR_TSMPI_NO_GPU", `no usable CUDA GPU: ${backendReason()}`);
  const binding = getBinding()!;
  if (!deviceReady) {
    binding.gpuInit(index);
    deviceReady = true;
  }
  return binding;
}

/**
 * Everything that stops user kernels (NVRTC + driver + a device): an empty list when they can
 * run. Each entry is one sentence, e.g. `driver library libcuda.so.1 not found (...)`.
 */
export function kernelProblems(): string[] {
  const binding = getBinding();
  const problems: string[] = [];
  const backend = cudaProblem(binding);
  if (backend !== null) problems.push(backend);
  if (binding && process.env.TSMPI_CUDA !== "0") {
    const nvrtc = binding.nvrtcInfo().reason;
    if (nvrtc !== null) problems.push(nvrtc);
  }
  return problems;
}

/** What {@link nativeInfo} reports; printed by `tsmpirun --info`. */
export interface NativeInfo {
  /** Whether the addon loaded. */
  addon: AddonState;
  /** Why it did not load (absent when it did). */
  reason?: string;
  /** Whether CUDA was compiled into the addon. */
  cudaCompiled: boolean;
  /** The installed driver's CUDA version, e.g. `"12.4"`; `null` without a driver. */
  driverVersion: string | null;
  /** The compiled-in CUDA runtime's version, e.g. `"13.0"`; `null` without CUDA. */
  runtimeVersion: string | null;
  /** NVRTC's version, e.g. `"13.0"`; `null` when not found. */
  nvrtc: string | null;
  /** Devices the driver shows this process (after `CUDA_VISIBLE_DEVICES`). */
  deviceCount: number;
  devices: NativeDevice[];
  /** The live backend and, on `"cpu"`, why not `"cuda"`. */
  backend: Backend;
  gpuReason: string | null;
  /** This rank's local rank (`TSMPI_LOCAL_RANK`; -1 when malformed) and its device (`null` on `"cpu"`). */
  localRank: number;
  device: number | null;
  /** `CUDA_VISIBLE_DEVICES` as this process sees it (`null` when unset). */
  visibleDevices: string | null;
  /** The libraries opened: the driver's and NVRTC's paths or sonames. */
  driverLibrary: string | null;
  nvrtcLibrary: string | null;
}

/**
 * A report of the native addon and the CUDA stack as this process sees them (probing the
 * driver and NVRTC once). Never throws.
 *
 * @returns addon status, CUDA versions, devices, the backend and this rank's device.
 * @example
 * ```ts
 * const info = nativeInfo();
 * console.log(`${info.addon}, CUDA ${info.cudaCompiled ? info.runtimeVersion : "not compiled"}, ${info.deviceCount} GPU(s)`);
 * ```
 */
export function nativeInfo(): NativeInfo {
  const binding = getBinding();
  const status = bindingStatus();
  const driver = binding?.driverInfo();
  const nvrtc = binding?.nvrtcInfo();
  const backend = getBackend();
  let rank = -1;
  let index: number | null = null;
  try {
    rank = localRank();
    index = selectedDevice();
  } catch {
    // a malformed TSMPI_LOCAL_RANK: reported as localRank -1, no device
  }
  return {
    ...status,
    cudaCompiled: binding?.cudaCompiled ?? false,
    driverVersion: cudaVersion(driver?.version ?? 0),
    runtimeVersion: cudaVersion(binding?.cudaCompiled ? binding.runtimeInfo().version : 0),
    nvrtc: nvrtc?.version ?? null,
    deviceCount: driver?.devices.length ?? 0,
    devices: driver?.devices ?? [],
    backend,
    gpuReason: backendReason(),
    localRank: rank,
    device: index,
    visibleDevices: process.env.CUDA_VISIBLE_DEVICES ?? null,
    driverLibrary: driver?.library ?? null,
    nvrtcLibrary: nvrtc?.library ?? null,
  };
}
