/**
 * `AsyncResult`: what `Executor.applyAsync` returns, as `multiprocessing.pool.AsyncResult`
 * (`ready`, `successful`, `wait`, `get`), over the task's promise.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { checkTimeout } from "./options.js";

/** `Pool.apply_async`'s result: poll it, wait for it, or get the value. */
export class AsyncResult<T> {
  #state: "pending" | "ok" | "error" = "pending";
  readonly #promise: Promise<T>;

  /** @internal */
  constructor(promise: Promise<T>) {
    this.#promise = promise;
    promise.then(
      () => (this.#state = "ok"),
      () => (this.#state = "error"),
    );
  }

  /** True once the task finished (either way). */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /** True when the task finished without an error. @throws TsmpiError `ERR_TSMPI_ARG` when not ready yet, as Pool's. */
  successful(): boolean {
    if (this.#state === "pending")
      throw new TsmpiError("ERR_TSMPI_ARG", "successful() needs a ready result (call ready() or await wait() first)");
    return this.#state === "ok";
  }

  /** Resolves once ready, or after `timeout` seconds, whichever comes first; never rejects. */
  async wait(timeout?: number): Promise<void> {
    const settled = this.#promise.then(
      () => {},
      () => {},
    );
    if (timeout === undefined) return settled;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise<void>((r) => (timer = setTimeout(r, checkTimeout(timeout) * 1000)))]);
    clearTimeout(timer);
  }

  /** The value; rejects with the task's error, or `ERR_TSMPI_TIMEOUT` when not ready within `timeout` seconds. */
  async get(timeout?: number): Promise<T> {
    if (timeout === undefined) return this.#promise;
    await this.wait(timeout);
    if (this.#state === "pending") throw new TsmpiError("ERR_TSMPI_TIMEOUT", `the result was not ready within ${timeout} s`);
    return this.#promise;
  }
}
