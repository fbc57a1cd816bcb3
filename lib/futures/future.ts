/**
 * `Future<T>`: what `Executor.submit` returns, as `concurrent.futures.Future`. A task's future
 * moves PENDING → RUNNING → FINISHED (with a result or an exception), or PENDING → CANCELLED;
 * `cancel()` succeeds only before the task was dealt to a worker. It is also a thenable, so
 * `await pool.submit(f, x)` and `.then/.catch/.finally` work as with the promise `submit`
 * returned before.
 *
 * CANCELLED and CANCELLED_AND_NOTIFIED are told apart as in CPython: `cancel()` makes a future
 * done at once (its callbacks run, `result()` rejects), but `wait`/`asCompleted` count it as
 * finished only once its executor acknowledged the cancellation (`setRunningOrNotifyCancel`).
 * An executor's futures are acknowledged at once (the task leaves the queue synchronously); only
 * a future created and driven by hand can stay CANCELLED.
 *
 * "Running" means dealt to a worker (as CPython's ProcessPoolExecutor marks a future running
 * when it enters the call queue): a task sent to a busy worker behind another message counts
 * as running, and cannot be cancelled.
 *
 * Not supported yet: cancelling a running task.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { checkTimeout } from "./options.js";

/** A future's state, with CPython's names. */
export type FutureState = "PENDING" | "RUNNING" | "CANCELLED" | "CANCELLED_AND_NOTIFIED" | "FINISHED";

/** A done callback: gets the future (done or cancelled). */
export type DoneCallback<T> = (future: Future<T>) => void;

/** An internal listener: `anyDone` ones (`result()`) wake on cancel() too, the others (`wait`) only once finished or notified. */
interface Waiter {
  fn: () => void;
  anyDone: boolean;
}

/** Reports an exception thrown by a done callback (CPython logs it): it must not reach the executor. */
function reportCallbackError(err: unknown, future: string): void {
  const e = err instanceof Error ? err : new Error(String(err));
  process.emitWarning(`exception calling callback for ${future}: ${e.stack ?? e.message}`, { type: "TsmpiFutureCallbackWarning" });
}

/**
 * The result of a task submitted to an executor (`concurrent.futures.Future`). Await it, or
 * poll it (`done`, `running`, `cancelled`), wait for it with a timeout (`result`,
 * `exception`), cancel it before it runs (`cancel`), or be called back (`addDoneCallback`).
 * @example
 * ```ts
 * const f = pool.submit(isPrime, 97n);
 * f.addDoneCallback((g) => console.log("done", g.done()));
 * if (!f.cancel()) console.log(await f.result(10)); // 10 s at most
 * ```
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state: FutureState = "PENDING";
  #value: T | undefined;
  #error: Error | undefined;
  #cancelMessage: string | undefined;
  /** The done callbacks, bound to this future (so that `Future<T>` stays covariant in T: a `Future<number>` is a `Future<unknown>`). */
  #callbacks: (() => void)[] | undefined;
  /** Internal listeners (wait, asCompleted, result): called once FINISHED or CANCELLED_AND_NOTIFIED, or on cancel() for `anyDone` ones. */
  #waiters: Waiter[] | undefined;
  #promise: Promise<T> | undefined;
  readonly #onCancel: (() => void) | undefined;

  /**
   * Executors create futures (`submit`); tests and other executors may too.
   * @param onCancel called once by a successful `cancel()` of a pending future (the executor takes its task off the queue).
   */
  constructor(onCancel?: () => void) {
    this.#onCancel = onCancel;
  }

  /** The state, with CPython's names. */
  get state(): FutureState {
    return this.#state;
  }

  /**
   * Cancels the task unless it is running or done.
   * @param msg why (as asyncio's `cancel(msg)`): the message of the error `result()` rejects with.
   * @returns true when the future is (now) cancelled (the task will never run), false when it
   *   is running or finished.
   */
  cancel(msg?: string): boolean {
    if (this.#state === "RUNNING" || this.#state === "FINISHED") return false;
    if (this.#state === "CANCELLED" || this.#state === "CANCELLED_AND_NOTIFIED") return true;
    this.#state = "CANCELLED";
    this.#cancelMessage = msg;
    if (this.#onCancel) {
      this.#onCancel();
      this.#state = "CANCELLED_AND_NOTIFIED";
    }
    this.#settled();
    return true;
  }

  /** True if the future was cancelled. */
  cancelled(): boolean {
    return this.#state === "CANCELLED" || this.#state === "CANCELLED_AND_NOTIFIED";
  }

  /** True while the task runs (dealt to a worker, not finished). */
  running(): boolean {
    return this.#state === "RUNNING";
  }

  /** True once the task finished or the future was cancelled. */
  done(): boolean {
    return this.#state !== "PENDING" && this.#state !== "RUNNING";
  }

  /** Resolves once done, or rejects with `ERR_TSMPI_TIMEOUT` after `timeout` seconds. */
  async #wait(timeout: number | undefined, what: string): Promise<void> {
    const secs = timeout === undefined ? undefined : checkTimeout(timeout);
    if (this.done()) return;
    await new Promise<void>((resolve, reject) => {
      const w = {
        fn: () => {
          clearTimeout(timer);
          resolve();
        },
        anyDone: true,
      };
      const timer =
        secs === undefined
          ? undefined
          : setTimeout(() => {
              this.#removeWaiter(w.fn);
              reject(new TsmpiError("ERR_TSMPI_TIMEOUT", `${what} was not ready within ${secs} s`));
            }, secs * 1000);
      this.#listen(w);
    });
  }

  /**
   * The task's value, once done: waits at most `timeout` seconds (none: as long as it takes).
   * @throws TsmpiError (rejects) `ERR_TSMPI_TIMEOUT` when not done in time, `ERR_TSMPI_CANCELLED`
   *   when cancelled; or the task's own error.
   */
  async result(timeout?: number): Promise<T> {
    await this.#wait(timeout, "the result");
    if (this.cancelled()) throw this.#cancelledError();
    if (this.#error !== undefined) throw this.#error;
    return this.#value as T;
  }

  /**
   * The task's error (`undefined` when it succeeded), once done: waits at most `timeout` seconds.
   * @throws TsmpiError (rejects) `ERR_TSMPI_TIMEOUT` when not done in time, `ERR_TSMPI_CANCELLED` when cancelled.
   */
  async exception(timeout?: number): Promise<Error | undefined> {
    await this.#wait(timeout, "the exception");
    if (this.cancelled()) throw this.#cancelledError();
    return this.#error;
  }

  /**
   * Calls `fn(future)` once the future is done or cancelled (at once if it already is). An
   * exception thrown by `fn` is reported as a process warning, never thrown into the executor.
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    if (typeof fn !== "function") throw new TsmpiError("ERR_TSMPI_ARG", `the done callback must be a function, got ${typeof fn}`);
    if (!this.done()) {
      if (!this.#callbacks) this.#callbacks = [];
      this.#callbacks.push(() => fn(this));
      return;
    }
    try {
      fn(this);
    } catch (err) {
      reportCallbackError(err, String(this));
    }
  }

  // ------------------------------------------------------------ for executors and tests

  /**
   * For executors (and tests): the task is about to run. @returns false if the future was
   * cancelled (it becomes CANCELLED_AND_NOTIFIED: `wait`/`asCompleted` now count it as
   * done), true if it is now RUNNING.
   * @throws TsmpiError `ERR_TSMPI_INTERNAL` in any other state (CPython's InvalidStateError).
   */
  setRunningOrNotifyCancel(): boolean {
    if (this.#state === "CANCELLED") {
      this.#state = "CANCELLED_AND_NOTIFIED";
      this.#notify(false);
      return false;
    }
    if (this.#state !== "PENDING") throw this.#invalid("setRunningOrNotifyCancel");
    this.#state = "RUNNING";
    return true;
  }

  /** For executors (and tests): the task returned `value`. @throws TsmpiError `ERR_TSMPI_INTERNAL` once done. */
  setResult(value: T): void {
    if (this.done()) throw this.#invalid("setResult");
    this.#value = value;
    this.#state = "FINISHED";
    this.#settled();
  }

  /** For executors (and tests): the task failed with `error`. @throws TsmpiError `ERR_TSMPI_INTERNAL` once done. */
  setException(error: Error): void {
    if (this.done()) throw this.#invalid("setException");
    this.#error = error;
    this.#state = "FINISHED";
    this.#settled();
  }

  /**
   * @internal For `wait`/`asCompleted`: calls `fn` once FINISHED or CANCELLED_AND_NOTIFIED
   * (not at once if it already is: the caller checks). Remove it with {@link removeWaiter}.
   */
  addWaiter(fn: () => void): void {
    this.#listen({ fn, anyDone: false });
  }

  /** @internal Removes a waiter added by {@link addWaiter}. */
  removeWaiter(fn: () => void): void {
    this.#removeWaiter(fn);
  }

  /** @internal True once FINISHED or CANCELLED_AND_NOTIFIED: what `wait`/`asCompleted` count as done. */
  get finished(): boolean {
    return this.#state === "FINISHED" || this.#state === "CANCELLED_AND_NOTIFIED";
  }

  /** @internal True once FINISHED with an exception (for `wait`'s FIRST_EXCEPTION). */
  get failed(): boolean {
    return this.#state === "FINISHED" && this.#error !== undefined;
  }

  /** Adds an internal listener (the list is made on first use: most futures are never waited on). */
  #listen(w: Waiter): void {
    if (!this.#waiters) this.#waiters = [];
    this.#waiters.push(w);
  }

  #removeWaiter(fn: () => void): void {
    const i = this.#waiters?.findIndex((w) => w.fn === fn) ?? -1;
    if (i >= 0) this.#waiters!.splice(i, 1);
  }

  #cancelledError(): TsmpiError {
    return new TsmpiError("ERR_TSMPI_CANCELLED", this.#cancelMessage ?? "the future was cancelled");
  }

  #invalid(what: string): TsmpiError {
    return new TsmpiError("ERR_TSMPI_INTERNAL", `${what}() on a future in state ${this.#state}: ${this}`);
  }

  /** Done (finished or cancelled): wakes the waiters, then runs the callbacks once. */
  #settled(): void {
    this.#notify(true);
    const callbacks = this.#callbacks ?? [];
    this.#callbacks = undefined;
    for (const fn of callbacks) {
      try {
        fn();
      } catch (err) {
        reportCallbackError(err, String(this));
      }
    }
  }

  /** Wakes the waiters that this state change concerns (all when `finished`; else those waiting for any done state). */
  #notify(settledNow: boolean): void {
    const waiters = this.#waiters;
    if (!waiters) return;
    const all = this.finished;
    this.#waiters = undefined;
    for (const w of waiters) {
      if (all || (settledNow && w.anyDone)) w.fn();
      else this.#listen(w);
    }
  }

  // ------------------------------------------------------------ thenable

  /** One promise per future, made on the first `then` (a future nobody awaits costs none, and rejects unhandled nowhere). */
  #asPromise(): Promise<T> {
    this.#promise ??= new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        if (this.cancelled()) reject(this.#cancelledError());
        else if (this.#error !== undefined) reject(this.#error);
        else resolve(this.#value as T);
      };
      if (this.done()) settle();
      else this.#listen({ fn: settle, anyDone: true });
    });
    return this.#promise;
  }

  /** Awaiting a future awaits its result (rejects as `result()` does). */
  // biome-ignore lint/suspicious/noThenProperty: a Future is a thenable on purpose, so that `await pool.submit(...)` keeps working
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    // biome-ignore lint/suspicious/noExplicitAny: as Promise's own typing, so handlers written for promises (`(e: Error) => ...`) fit
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#asPromise().then(onfulfilled, onrejected);
  }

  /** As `Promise.prototype.catch`, on the result. */
  // biome-ignore lint/suspicious/noExplicitAny: as Promise's own typing
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#asPromise().catch(onrejected);
  }

  /** As `Promise.prototype.finally`, on the result. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#asPromise().finally(onfinally);
  }

  /** As CPython's repr: `<Future state=finished returned number>`. */
  toString(): string {
    const s = this.#state === "CANCELLED_AND_NOTIFIED" ? "cancelled" : this.#state.toLowerCase();
    if (this.#state !== "FINISHED") return `<Future state=${s}>`;
    if (this.#error !== undefined) return `<Future state=finished raised ${this.#error.name}>`;
    const v = this.#value;
    return `<Future state=finished returned ${v === null ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v}>`;
  }

  get [Symbol.toStringTag](): string {
    return "Future";
  }
}
