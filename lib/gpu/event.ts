/**
 * Timing GPU work from the host, as `cupy.cuda.Event` with `cupy.cuda.get_elapsed_time` or
 * numba's `cuda.event()` with `cuda.event_elapsed_time`: `cuda.event()` records a point in this
 * rank's stream, after all GPU work enqueued so far, and `cuda.elapsedTime(start, end)` resolves
 * to the GPU time between two such points, once both have been reached.
 *
 * Not supported yet: events on the `"cpu"` backend (there is no stream to record in), waiting
 * for one event alone (`elapsedTime` waits for all work enqueued before it is called), events
 * on other streams or shared between processes.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import type { NativeEventHandle } from "../native.js";
import { gpuBinding } from "./device.js";

let handleOf: (event: CudaEvent) => NativeEventHandle;

/** A recorded point in this rank's GPU stream, made by `cuda.event()`. */
export class CudaEvent {
  readonly #handle: NativeEventHandle;

  /** @internal Use `cuda.event()`. */
  constructor(handle: NativeEventHandle) {
    this.#handle = handle;
  }

  static {
    handleOf = (e) => e.#handle;
  }

  toString(): string {
    return "CudaEvent";
  }
}

/**
 * Records an event in this rank's stream now: it is reached when all GPU work enqueued before
 * it (kernels, built-ins, copies) has finished.
 *
 * @returns the event.
 * @throws {TsmpiError} `ERR_TSMPI_NO_GPU` on the `"cpu"` backend, with the reason.
 * @example
 * ```ts
 * const start = cuda.event();
 * const count = cuda.piCount(2 ** 32);   // enqueued, not yet awaited
 * const end = cuda.event();
 * console.log(await count, "in", await cuda.elapsedTime(start, end), "ms of GPU time");
 * ```
 */
export function event(): CudaEvent {
  return new CudaEvent(gpuBinding().eventRecordGpu());
}

/**
 * The GPU time in milliseconds from `start` to `end` (resolution about 0.5 us), once the GPU has
 * reached both (it waits, without blocking the event loop, for all work enqueued so far).
 *
 * @param start - an event from {@link event}.
 * @param end - an event recorded after `start`.
 * @returns milliseconds, as a float.
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` when an argument is not a CudaEvent, `ERR_TSMPI_NO_GPU`
 *   on the `"cpu"` backend (as rejections).
 */
export async function elapsedTime(start: CudaEvent, end: CudaEvent): Promise<number> {
  for (const [name, value] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (!(value instanceof CudaEvent))
      throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a CudaEvent from cuda.event(), got ${describeValue(value)}`);
  }
  const binding = gpuBinding();
  await binding.synchronizeGpu();
  return binding.eventElapsedGpu(handleOf(start), handleOf(end));
}
