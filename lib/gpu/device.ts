/**
 * This rank's GPU: device `localRank % deviceCount` among the devices visible after
 * `CUDA_VISIBLE_DEVICES`, chosen on first use and selected in the native addon once, before the
 * first GPU call.
 *
 * Not supported yet: several GPUs per rank, a device chosen by the user.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import { getBinding, type NativeBinding } from "../native.js";
import { backendReason, getBackend } from "./backend.js";

let device: number | null | undefined;
let deviceReady = false;

/**
 * This rank's local rank as the environment says it: `TSMPI_LOCAL_RANK` (set by the runtime in
 * every launch mode), else 0. Not the public `localRank()` of `tsmpi` (`{ rank, size }` from the
 * runtime): lib/gpu/ reads the environment, as it imports nothing of the job layer.
 */
export function localRankFromEnv(): number {
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
    device = getBackend() === "cuda" ? localRankFromEnv() % getBinding()!.runtimeInfo().deviceCount : null;
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
