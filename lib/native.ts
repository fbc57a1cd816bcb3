/**
 * The native addon (`build/Release/tsmpi_native.node`, sources in `native/`): the ONE place that
 * declares its surface and loads it. Loading is lazy and never throws: where the addon is
 * missing, fails to load or is turned off with `TSMPI_NATIVE=0`, {@link getBinding} returns
 * `null` and every caller uses its pure-JavaScript twin (`lib/gpu/kernels/*.ts`).
 *
 * What the GPU code makes of the addon lives in `lib/gpu/`: the live backend (`backend.ts`), this
 * rank's device (`device.ts`) and the report of `tsmpirun --info` (`native-info.ts`).
 *
 * Not supported yet: loading a prebuilt addon from another path, Windows and macOS builds.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { CudaCompileError, TsmpiError, type TsmpiErrorCode } from "./errors.js";
import { textSetting } from "./config.js";
import type { TypedArray } from "./serializer.js";

/** Version of the exported surface; `native/addon.cc` carries the same number. */
export const ABI = 7;

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
  /**
   * Sets TCP keepalive on socket `fd` with the probe interval and count libuv fixes (1 s, 10),
   * and TCP_USER_TIMEOUT; false when the system refused.
   */
  tcpKeepalive(fd: number, idleS: number, intervalS: number, count: number, userTimeoutMs: number): boolean;
  /** Makes this rank's inbox: `slots` ranks on this host, this one in `slot`, `ringBytes` per sender. */
  /** `maxRecord` bounds one message's bytes in a ring (a longer one is a corrupt ring; default 2^31). */
  ShmChannel: new (
    slots: number,
    slot: number,
    ringBytes: number,
    maxRecord?: number,
  ) => NativeShmChannel;
}

/** How the addon fared: loaded, turned off (`TSMPI_NATIVE=0`), not built, or failed to load. */
export type AddonState = "loaded" | "disabled" | "missing" | "failed";

interface LoadResult {
  binding: NativeBinding | null;
  addon: AddonState;
  reason?: string;
}

let loaded: LoadResult | undefined;

function errorFactory(code: string, message: string, log?: string): Error {
  if (log !== undefined) return new CudaCompileError(message, log);
  return new TsmpiError(code as TsmpiErrorCode, message);
}

function load(): LoadResult {
  if (textSetting("TSMPI_NATIVE") === "0") return { binding: null, addon: "disabled", reason: "turned off by TSMPI_NATIVE=0" };
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
    return {
      binding: null,
      addon: "failed",
      reason: `stale build: the addon has ABI ${binding.abi}, tsmpi expects ${ABI} (run \`npm rebuild tsmpi\`)`,
    };
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
