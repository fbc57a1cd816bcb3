/**
 * The error class of tsmpi, {@link TsmpiError}, with stable string codes, and its one subclass,
 * {@link CudaCompileError}: a user kernel that did not compile, with the compiler's log.
 *
 * Callers branch on `err.code`, never on the message text. Messages name the argument, the
 * allowed range and the value given: `dest must be an integer in [0, 4) or PROC_NULL, got 7`.
 *
 * @module
 */

/** Every code a {@link TsmpiError} can carry. Codes are stable across releases. */
export type TsmpiErrorCode =
  | "ERR_TSMPI_ARG" // an argument of the wrong type or shape
  | "ERR_TSMPI_RANK" // a source/dest rank out of range
  | "ERR_TSMPI_ROOT" // a collective root out of range
  | "ERR_TSMPI_TAG" // a tag out of range
  | "ERR_TSMPI_COUNT" // a count, length or displacement out of range or inconsistent
  | "ERR_TSMPI_TYPE" // a value of a kind the call cannot carry (e.g. not a typed array)
  | "ERR_TSMPI_OP" // an op that cannot apply to the given data
  | "ERR_TSMPI_TRUNCATE" // a receive buffer too small for the message
  | "ERR_TSMPI_COMM" // a freed or otherwise unusable communicator
  | "ERR_TSMPI_REQUEST" // misuse of a Request or a Message (e.g. receiving a matched message twice)
  | "ERR_TSMPI_BUFFER" // a buffered send that does not fit the attached buffer, or finds none; attaching twice
  | "ERR_TSMPI_FINALIZED" // a call after the runtime shut down
  | "ERR_TSMPI_TIMEOUT" // an operation or rendezvous that did not finish in time
  | "ERR_TSMPI_ABORT" // the job is being aborted (another rank failed or called abort)
  | "ERR_TSMPI_TRANSPORT" // the transport failed (socket error, lost peer)
  | "ERR_TSMPI_RENDEZVOUS" // rank start-up could not join the job
  | "ERR_TSMPI_LAUNCH" // the launcher could not start the job
  | "ERR_TSMPI_NO_GPU" // a GPU-only feature where no usable GPU stack exists
  | "ERR_TSMPI_CUDA" // a CUDA call or kernel compilation failed
  | "ERR_TSMPI_TASK" // tsmpi/futures: a task function the workers cannot find, or a task that failed on its worker
  | "ERR_TSMPI_CANCELLED" // tsmpi/futures: a task cancelled before it started (shutdown, map timeout)
  | "ERR_TSMPI_SHUTDOWN" // tsmpi/futures: a task submitted to an executor that was shut down
  | "ERR_TSMPI_WORKER_LOST" // tsmpi/futures: the worker running a task died (killed, out of memory)
  | "ERR_TSMPI_BROKEN" // tsmpi/futures: the executor is broken (its initializer failed, or its workers keep dying); it runs no more tasks
  | "ERR_TSMPI_INTERNAL"; // a bug in tsmpi: please report it

/**
 * An error raised by tsmpi. `code` is stable; `cause` keeps the underlying error, if any.
 *
 * @example
 * ```ts
 * try { await comm.send(1, 99); } catch (e) {
 *   if (e instanceof TsmpiError && e.code === "ERR_TSMPI_RANK") console.error(e.message);
 * }
 * ```
 */
export class TsmpiError extends Error {
  /** The stable error code, e.g. `ERR_TSMPI_RANK`. */
  readonly code: TsmpiErrorCode;

  constructor(code: TsmpiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return "TsmpiError";
  }
}

/**
 * A kernel failed to compile or load: code `ERR_TSMPI_CUDA`, with the compiler's output in
 * {@link CudaCompileError.log} (also appended to the message).
 *
 * @example
 * ```ts
 * try { cuda.kernel(src, "k"); } catch (e) {
 *   if (e instanceof CudaCompileError) console.error(e.log);
 * }
 * ```
 */
export class CudaCompileError extends TsmpiError {
  /** What NVRTC (or the JIT linker) printed, line for line. */
  readonly log: string;

  constructor(message: string, log: string, options?: { cause?: unknown }) {
    super("ERR_TSMPI_CUDA", log ? `${message}:\n${log}` : message, options);
    this.log = log;
  }
}

/** Renders a value for an error message: short, unambiguous (`"7"` vs `7`), never throwing. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value !== "object") return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as { length?: number }).length ?? value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  return value.constructor?.name ?? "object";
}
