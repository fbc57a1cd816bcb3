/**
 * The live backend of DeviceArray and the built-in kernels, decided once per process: `"cuda"`
 * when the native addon (`lib/native.ts`) has CUDA compiled in, the CUDA runtime sees at least
 * one device and `TSMPI_CUDA` is not `0`; otherwise `"cpu"`, with the reason. Also what stops user
 * kernels, which need NVRTC besides.
 *
 * Not supported yet: other GPU stacks (AMD/ROCm), changing the backend after its first use.
 *
 * @module
 */
import { bindingStatus, getBinding, type NativeBinding } from "../native.js";
import { textSetting } from "../config.js";

/** The live backend of DeviceArray and the built-in kernels. */
export type Backend = "cuda" | "cpu";

let backendState: { backend: Backend; reason: string | null } | undefined;

/** A CUDA version as the runtime and driver encode it (`12040`) in words (`"12.4"`); `null` for 0. */
export function cudaVersion(encoded: number): string | null {
  return encoded > 0 ? `${Math.floor(encoded / 1000)}.${(encoded % 1000) / 10}` : null;
}

/** Why CUDA cannot be used by DeviceArray and the built-ins, or `null` when it can. */
function cudaProblem(binding: NativeBinding | null): string | null {
  if (textSetting("TSMPI_CUDA") === "0") return "CUDA turned off by TSMPI_CUDA=0";
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

/**
 * Everything that stops user kernels (NVRTC + driver + a device): an empty list when they can
 * run. Each entry is one sentence, e.g. `driver library libcuda.so.1 not found (...)`.
 */
export function kernelProblems(): string[] {
  const binding = getBinding();
  const problems: string[] = [];
  const backend = cudaProblem(binding);
  if (backend !== null) problems.push(backend);
  if (binding && textSetting("TSMPI_CUDA") !== "0") {
    const nvrtc = binding.nvrtcInfo().reason;
    if (nvrtc !== null) problems.push(nvrtc);
  }
  return problems;
}
