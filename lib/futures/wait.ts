/**
 * Waiting on many futures, as `concurrent.futures.wait` and `as_completed`: the futures may
 * come from several executors (or be made by hand). A future counts as done once FINISHED or
 * cancelled and acknowledged (CANCELLED_AND_NOTIFIED, see `future.ts`); duplicates count once.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import type { Future } from "./future.js";
import { checkTimeout } from "./options.js";

/** `wait` returns when any future finishes or is cancelled. */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait` returns when any future finishes with an exception (or all are done). */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait` returns when all futures are done. */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When `wait` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** What `wait` returns: the futures done and those not done, as concurrent.futures' `DoneAndNotDoneFutures`. */
export interface DoneAndNotDone<T> {
  done: Set<Future<T>>;
  notDone: Set<Future<T>>;
}

/**
 * A future as `asCompleted` yields it: the very object given (`===`), typed without `then`.
 * TypeScript types a `for await` variable as the awaited value, and a `Future` is a thenable,
 * so typed as `Future<T>` the variable would read as `T`; call `result()` (or cast back with
 * `f as Future<T>`, e.g. for a `Map` lookup).
 */
export type CompletedFuture<T> = Omit<Future<T>, "then">;

function checkFutures<T>(futures: Iterable<Future<T>>, what: string): Set<Future<T>> {
  if (futures === null || typeof (futures as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new TsmpiError("ERR_TSMPI_ARG", `${what}: futures must be an iterable of futures, got ${typeof futures}`);
  }
  const fs = new Set(futures);
  for (const f of fs) {
    if (typeof (f as Future<T>)?.addWaiter !== "function")
      throw new TsmpiError("ERR_TSMPI_ARG", `${what}: futures must hold only Future objects (from submit), got ${typeof f}`);
  }
  return fs;
}

/** Resolves when `ready()` holds after a future changes state, or after `timeout` seconds. */
function until(pending: Set<Future<unknown>>, ready: () => boolean, timeout: number | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      for (const f of pending) f.removeWaiter(check);
      resolve();
    };
    const check = (): void => {
      if (ready()) finish();
    };
    for (const f of pending) f.addWaiter(check);
    if (timeout !== undefined) timer = setTimeout(finish, timeout * 1000);
  });
}

/**
 * Waits for the futures (`concurrent.futures.wait`): until one is done (`FIRST_COMPLETED`),
 * one failed (`FIRST_EXCEPTION`, or all done), all are done (`ALL_COMPLETED`, the default),
 * or `timeout` seconds passed. Never rejects on the futures' errors.
 * @returns the futures done and not done.
 * @example
 * ```ts
 * const fs = [pool.submit(slow, 1), pool.submit(fast, 2)];
 * const { done, notDone } = await wait(fs, { returnWhen: FIRST_COMPLETED });
 * ```
 */
export async function wait<T>(
  futures: Iterable<Future<T>>,
  opts: { timeout?: number; returnWhen?: ReturnWhen } = {},
): Promise<DoneAndNotDone<T>> {
  const fs = checkFutures(futures, "wait()");
  const { returnWhen = ALL_COMPLETED } = opts;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new TsmpiError(
      "ERR_TSMPI_ARG",
      `returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${String(returnWhen)}`,
    );
  }
  const timeout = opts.timeout === undefined ? undefined : checkTimeout(opts.timeout);
  const split = (): DoneAndNotDone<T> => {
    const done = new Set<Future<T>>();
    const notDone = new Set<Future<T>>();
    for (const f of fs) (f.finished ? done : notDone).add(f);
    return { done, notDone };
  };
  const ready = (): boolean => {
    const { done, notDone } = split();
    if (notDone.size === 0) return true;
    if (returnWhen === FIRST_COMPLETED) return done.size > 0;
    if (returnWhen === FIRST_EXCEPTION) return [...done].some((f) => f.failed);
    return false;
  };
  if (!ready() && timeout !== 0) await until(split().notDone as Set<Future<unknown>>, ready, timeout);
  return split();
}

/**
 * Yields the futures as they finish (`concurrent.futures.as_completed`): those already done
 * first, then each as it finishes or is cancelled; duplicates once. Each is the future given,
 * typed as {@link CompletedFuture} (without `then`: see there).
 * @throws TsmpiError (the iteration rejects) `ERR_TSMPI_TIMEOUT` when some are not done within
 *   `timeout` seconds of the call, saying how many.
 * @example
 * ```ts
 * for await (const f of asCompleted(fs, { timeout: 60 })) console.log(await f.result());
 * ```
 */
export function asCompleted<T>(futures: Iterable<Future<T>>, opts: { timeout?: number } = {}): AsyncIterableIterator<CompletedFuture<T>> {
  const fs = checkFutures(futures, "asCompleted()");
  const timeout = opts.timeout === undefined ? undefined : checkTimeout(opts.timeout);
  return new AsCompleted(fs, timeout);
}

/**
 * `asCompleted`'s iterator. Written by hand, not as an async generator: an async generator
 * awaits what it yields, and a future is a thenable (it would yield results, not futures).
 */
class AsCompleted<T> implements AsyncIterableIterator<CompletedFuture<T>> {
  readonly #total: number;
  readonly #end: number | undefined;
  /** Done and not yet yielded, in the order they finished (those done at the call first). */
  readonly #ready: Future<T>[] = [];
  readonly #pending = new Set<Future<T>>();
  readonly #listeners = new Map<Future<T>, () => void>();
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(fs: Set<Future<T>>, timeout: number | undefined) {
    this.#total = fs.size;
    this.#end = timeout === undefined ? undefined : performance.now() + timeout * 1000;
    for (const f of fs) {
      if (f.finished) {
        this.#ready.push(f);
        continue;
      }
      this.#pending.add(f);
      const fn = (): void => {
        this.#unlisten(f);
        this.#pending.delete(f);
        this.#ready.push(f);
        this.#wake?.();
      };
      this.#listeners.set(f, fn);
      f.addWaiter(fn);
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<CompletedFuture<T>>> {
    for (;;) {
      if (this.#closed) return { value: undefined, done: true };
      const f = this.#ready.shift();
      if (f) return { value: f, done: false };
      if (this.#pending.size === 0) return this.return();
      const left = this.#end === undefined ? undefined : this.#end - performance.now();
      if (left !== undefined && left < 0) {
        const n = this.#pending.size;
        await this.return();
        throw new TsmpiError("ERR_TSMPI_TIMEOUT", `${n} (of ${this.#total}) futures unfinished`);
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        if (left !== undefined) timer = setTimeout(resolve, left + 1);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** Ends the iteration (a `break` out of `for await`): the futures are no longer listened to. */
  async return(): Promise<IteratorResult<CompletedFuture<T>>> {
    this.#closed = true;
    for (const f of [...this.#listeners.keys()]) this.#unlisten(f);
    this.#ready.length = 0;
    return { value: undefined, done: true };
  }

  #unlisten(f: Future<T>): void {
    const fn = this.#listeners.get(f);
    if (fn) f.removeWaiter(fn);
    this.#listeners.delete(f);
  }
}
