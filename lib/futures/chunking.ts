/**
 * Cutting a map's input into chunks: each chunk travels as one message and runs on one worker.
 *
 * Chunk sizes follow the anchors: `map`/`starmap` of the executors default to 1, as
 * `concurrent.futures` and mpi4py.futures; the `multiprocessing.Pool` habits (`Pool.map` here is
 * the executor's `map` with `chunksize: "pool"`, and `imap`/`imapUnordered` default to 1) use
 * Pool's rule for a sized input: `ceil(length / (4 * workers))`.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";

/** `multiprocessing.Pool.map`'s default chunk size for `length` items on `workers` workers. */
export function poolChunksize(length: number, workers: number): number {
  return Math.max(1, Math.ceil(length / (4 * Math.max(1, workers))));
}

/** Validates a chunk size option (a positive integer). */
export function checkChunksize(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TsmpiError("ERR_TSMPI_ARG", `chunksize must be an integer >= 1, got ${describeValue(value)}`);
  }
  return value;
}

/** The items of `iterable` in arrays of `size` (the last one shorter). */
export function* chunked<T>(iterable: Iterable<T>, size: number): Generator<T[]> {
  let chunk: T[] = [];
  for (const item of iterable) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Argument lists from several iterables, stopping at the shortest (Python's `zip`). */
export function* zipped(iterables: readonly Iterable<unknown>[]): Generator<unknown[]> {
  const its = iterables.map((it) => it[Symbol.iterator]());
  try {
    for (;;) {
      const args: unknown[] = [];
      for (const it of its) {
        const r = it.next();
        if (r.done) return;
        args.push(r.value);
      }
      yield args;
    }
  } finally {
    for (const it of its) it.return?.();
  }
}

/** The length of an input when it is known without consuming it (arrays, typed arrays, Sets, Maps). */
export function knownLength(iterable: Iterable<unknown>): number | undefined {
  if (Array.isArray(iterable) || ArrayBuffer.isView(iterable) || typeof iterable === "string")
    return (iterable as { length: number }).length;
  if (iterable instanceof Set || iterable instanceof Map) return iterable.size;
  return undefined;
}

/** Checks that `value` is iterable (the argument named `name`). */
export function checkIterable(value: unknown, name: string): Iterable<unknown> {
  if (value == null || typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an iterable (an array, a generator, ...), got ${describeValue(value)}`);
  }
  return value as Iterable<unknown>;
}
