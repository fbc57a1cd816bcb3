/**
 * The report of the native addon and the CUDA stack that `tsmpirun --info` prints and
 * `cuda.info()` returns: whether the addon loaded, CUDA versions, devices, the backend and this
 * rank's device.
 *
 * Not supported yet: per-device memory in use, the driver's own limits (clocks, MIG slices).
 *
 * @module
 */
import { bindingStatus, getBinding, type AddonState, type NativeDevice } from "../native.js";
import { backendReason, cudaVersion, getBackend, type Backend } from "./backend.js";
import { localRankFromEnv, selectedDevice } from "./device.js";

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
    rank = localRankFromEnv();
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
