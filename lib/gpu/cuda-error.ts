/**
 * The error of a user kernel that NVRTC (or the driver's loader) rejected.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";

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
