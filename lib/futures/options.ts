/**
 * The options of the executors and of their calls (`map`, `shutdown`), and their validation at
 * the boundary: a bad option throws `ERR_TSMPI_ARG` naming it, its allowed range and the value.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import { checkChunksize } from "./chunking.js";
import type { TaskFunction } from "./tasks.js";

/** Options of `map`, `starmap`, `imap`, `imapUnordered`. */
export interface MapOptions {
  /** Tasks per chunk (one message each way per chunk); default 1. */
  chunksize?: number;
  /** Yield results as chunks complete, not in input order. */
  unordered?: boolean;
  /**
   * Seconds from the call until every result must be in (concurrent.futures' `timeout`): a
   * result not in by then rejects the iteration with `ERR_TSMPI_TIMEOUT` and the chunks that
   * have not started are cancelled.
   */
  timeout?: number;
  /**
   * Chunks submitted ahead of the consumer (Python 3.14's `buffersize`): the input is read
   * lazily, so it may be endless. Default: the whole input is submitted at once.
   */
  buffersize?: number;
  /** Called as chunks complete: tasks done so far and the total (undefined until the input is read to its end). */
  onProgress?: (done: number, total: number | undefined) => void;
}

/** Options of `shutdown`. */
export interface ShutdownOptions {
  /** Wait until every pending task finished and the workers stopped (default true). */
  wait?: boolean;
  /** Cancel the tasks that have not started: their promises reject with `ERR_TSMPI_CANCELLED` (default false). */
  cancelFutures?: boolean;
}

/** Options common to the executors. */
export interface ExecutorOptions {
  /**
   * Messages of chunks a worker holds at once (the one it runs and those queued behind it);
   * default 2. Only quick work is sent ahead (see the README, "Scheduling"); 1 sends a message
   * to idle workers only.
   */
  prefetch?: number;
  /**
   * At most this many chunks in one message (adaptive batching of quick chunks, see the
   * README); default 256; 1 sends every chunk in a message of its own.
   */
  maxBatch?: number;
}

/** The first parameter's type of a task function (anything for one without parameters). */
export type FirstArg<F extends TaskFunction> = Parameters<F> extends [] ? unknown : Parameters<F>[0];

/** `prefetch` and `maxBatch` with their defaults, validated. */
export function executorSettings(opts: ExecutorOptions): { prefetch: number; maxBatch: number } {
  const prefetch = opts.prefetch ?? 2;
  if (!Number.isSafeInteger(prefetch) || prefetch < 1)
    throw new TsmpiError("ERR_TSMPI_ARG", `prefetch must be an integer >= 1, got ${describeValue(prefetch)}`);
  const maxBatch = opts.maxBatch ?? 256;
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1)
    throw new TsmpiError("ERR_TSMPI_ARG", `maxBatch must be an integer >= 1, got ${describeValue(maxBatch)}`);
  return { prefetch, maxBatch };
}

/** Validates a number of seconds (`timeout`). */
export function checkTimeout(value: unknown, name = "timeout"): number {
  if (typeof value !== "number" || !(value >= 0))
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a number of seconds >= 0, got ${describeValue(value)}`);
  return value;
}

/** Validates the options of a map call: known keys only, each in its range. */
export function checkMapOptions(opts: MapOptions): void {
  if (opts === null || typeof opts !== "object")
    throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(opts)}`);
  const known = new Set(["chunksize", "unordered", "timeout", "buffersize", "onProgress"]);
  for (const k of Object.keys(opts))
    if (!known.has(k)) throw new TsmpiError("ERR_TSMPI_ARG", `unknown map option ${JSON.stringify(k)} (known: ${[...known].join(", ")})`);
  checkChunksize(opts.chunksize);
  if (opts.timeout !== undefined) checkTimeout(opts.timeout);
  if (opts.buffersize !== undefined && (!Number.isSafeInteger(opts.buffersize) || opts.buffersize < 1)) {
    throw new TsmpiError("ERR_TSMPI_ARG", `buffersize must be an integer >= 1, got ${describeValue(opts.buffersize)}`);
  }
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function")
    throw new TsmpiError("ERR_TSMPI_ARG", `onProgress must be a function, got ${describeValue(opts.onProgress)}`);
}

/** Whether `map`'s last argument is its options (a plain object, not an iterable). */
export function isMapOptions(value: unknown): value is MapOptions {
  return (
    value !== null &&
    typeof value === "object" &&
    !(Symbol.iterator in (value as object)) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}
