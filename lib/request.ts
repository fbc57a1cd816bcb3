/**
 * `Request`: a nonblocking operation in progress (`MPI_Request`), with `wait`/`test`/`cancel`
 * and the `waitall`/`waitany`/`waitsome`/`testall`/`testany`/`testsome` family, as in mpi4py.
 *
 * A request that completed and was waited on or successfully tested becomes inactive (MPI's
 * `MPI_REQUEST_NULL`): `test()` keeps returning true, `wait()` returns `undefined` at once and
 * the `*any`/`*some` calls skip it.
 *
 * Persistent requests (`Prequest`, `prequest.ts`) are requests that start inactive and are
 * restarted by `Start()`; inactive ones behave as above.
 *
 * Not supported yet: generalized requests.
 *
 * @module
 */
import { UNDEFINED, ANY_SOURCE, ANY_TAG } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import type { Status } from "./status.js";

/** What a completed operation reports into a {@link Status}. @internal */
export interface Completion {
  source: number;
  tag: number;
  count: number;
  byteCount: number;
  cancelled?: boolean;
}

function fill(status: Status | undefined, c: Completion | undefined): void {
  if (!status) return;
  status.source = c?.source ?? ANY_SOURCE;
  status.tag = c?.tag ?? ANY_TAG;
  status.count = c?.count ?? 0;
  status.byteCount = c?.byteCount ?? 0;
  status.cancelled = c?.cancelled ?? false;
  status.error = 0;
}

/**
 * A nonblocking operation. Returned by `isend`, `irecv`, `issend`, `Isend`, `Irecv`, `Ibcast`, ...
 * `wait()` resolves with the received value (receives) or `undefined` (sends).
 *
 * @example
 * ```ts
 * const r = comm.irecv(0, 7);
 * await comm.send("hi", comm.rank, 7);
 * console.log(await r.wait()); // "hi"
 * ```
 */
export class Request<T = unknown> {
  #done = false;
  #error: unknown = undefined;
  #failed = false;
  #value: T | undefined = undefined;
  #info: Completion | undefined = undefined;
  #active = true;
  #waiters: (() => void)[] = [];
  readonly #cancel: (() => boolean) | undefined;

  /** @internal Requests are made by communicator methods, not by users. */
  constructor(cancel?: () => boolean) {
    this.#cancel = cancel;
  }

  /** @internal A request that is already complete. */
  static completed<T>(value: T, info?: Completion): Request<T> {
    const r = new Request<T>();
    r._complete(value, info);
    return r;
  }

  /** @internal Marks the operation complete. */
  _complete(value: T, info?: Completion): void {
    if (this.#done) return;
    this.#done = true;
    this.#value = value;
    this.#info = info;
    this.#wake();
  }

  /** @internal Marks the operation failed. */
  _fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#failed = true;
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }

  /**
   * @internal Makes a new request inactive and complete with an empty status: a persistent
   * request before its first `Start()` (`wait`/`test` return at once, the `*any` calls skip it).
   */
  _deactivate(): void {
    this.#done = true;
    this.#active = false;
    this.#failed = false;
    this.#value = undefined;
    this.#info = undefined;
  }

  /** @internal Makes the request active and pending again: a persistent request's `Start()`. */
  _restart(): void {
    this.#done = false;
    this.#active = true;
    this.#failed = false;
    this.#error = undefined;
    this.#value = undefined;
    this.#info = undefined;
  }

  /** @internal Settles this request as `inner` settles, with its value, status and error. */
  _follow(inner: Request<T>): void {
    inner._onDone(() => (inner.#failed ? this._fail(inner.#error) : this._complete(inner.#value as T, inner.#info)));
  }

  /** @internal Runs `fn` once the operation completes (at once if it has). */
  _onDone(fn: () => void): void {
    if (this.#done) fn();
    else this.#waiters.push(fn);
  }

  /** True once the operation completed (whether or not it was waited on). */
  get done(): boolean {
    return this.#done;
  }

  /** False once the completed request was waited on or successfully tested. */
  get active(): boolean {
    return this.#active;
  }

  /** Takes the result and makes the request inactive; throws the operation's error. */
  #finish(status?: Status): T {
    if (!this.#active) {
      fill(status, undefined);
      return undefined as T;
    }
    this.#active = false;
    fill(status, this.#info);
    if (this.#failed) throw this.#error;
    const v = this.#value;
    this.#value = undefined;
    return v as T;
  }

  /**
   * Waits for completion (`MPI_Wait`) and returns the received value, or `undefined` for a send
   * or an inactive request. Fills `status` when given.
   * @throws TsmpiError the operation's error (e.g. `ERR_TSMPI_TRUNCATE`), as a rejection.
   */
  async wait(status?: Status): Promise<T> {
    if (!this.#done) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#finish(status);
  }

  /**
   * True when the operation has completed (`MPI_Test`); then the request becomes inactive and
   * `status` is filled. True also for an inactive request. Never waits, so a loop calling
   * `test()` must `await` something between calls to let messages arrive.
   * @throws TsmpiError the operation's error, once it has failed.
   */
  test(status?: Status): boolean {
    if (!this.#done) return false;
    this.#finish(status);
    return true;
  }

  /**
   * Like {@link test}, but also returns the value: `[flag, value]` (mpi4py's `req.test()`).
   */
  get(status?: Status): [boolean, T | undefined] {
    if (!this.#done) return [false, undefined];
    return [true, this.#finish(status)];
  }

  /**
   * Asks to cancel the operation (`MPI_Cancel`). A receive not yet matched is withdrawn and
   * completes with `status.cancelled === true` and value `undefined`; a send, or a receive
   * already matched, completes normally.
   */
  cancel(): void {
    if (this.#done || !this.#cancel) return;
    if (this.#cancel()) this._complete(undefined as T, { source: ANY_SOURCE, tag: ANY_TAG, count: 0, byteCount: 0, cancelled: true });
  }

  /**
   * Waits for all requests (`MPI_Waitall`); resolves with each one's value (`undefined` for
   * sends and inactive requests), in order. Rejects with the first error, after all finished.
   */
  static async waitall<R extends readonly Request<unknown>[]>(
    requests: R,
    statuses?: Status[],
  ): Promise<{ [K in keyof R]: R[K] extends Request<infer V> ? V : never }> {
    checkList(requests, "requests");
    await Promise.all(requests.map((r) => (r.#done ? undefined : new Promise<void>((res) => r.#waiters.push(res)))));
    let firstError: unknown;
    let failed = false;
    const values = requests.map((r, i) => {
      try {
        return r.#finish(statuses?.[i]);
      } catch (err) {
        if (!failed) [failed, firstError] = [true, err];
        return undefined;
      }
    });
    if (failed) throw firstError;
    return values as never;
  }

  /**
   * Waits for any one request (`MPI_Waitany`): resolves `[index, value]` of the first active one
   * to complete (the lowest index among those already complete). `[UNDEFINED, undefined]` when
   * all are inactive.
   */
  static async waitany<V>(requests: readonly Request<V>[], status?: Status): Promise<[number, V | undefined]> {
    checkList(requests, "requests");
    const active = requests.filter((r) => r.#active);
    if (active.length === 0) {
      fill(status, undefined);
      return [UNDEFINED, undefined];
    }
    await Request.#anyDone(active);
    const i = requests.findIndex((r) => r.#active && r.#done);
    return [i, requests[i]!.#finish(status)];
  }

  /**
   * Waits until at least one active request completes (`MPI_Waitsome`): resolves
   * `[indices, values]` of all completed active ones, or `[undefined, undefined]` when all
   * are inactive.
   */
  static async waitsome<V>(
    requests: readonly Request<V>[],
    statuses?: Status[],
  ): Promise<[number[] | undefined, (V | undefined)[] | undefined]> {
    checkList(requests, "requests");
    if (!requests.some((r) => r.#active)) return [undefined, undefined];
    await Request.#anyDone(requests.filter((r) => r.#active));
    return Request.testsome(requests, statuses);
  }

  /**
   * Resolves once any of `requests` has completed (at once if one has). The waiter it adds to
   * each request is removed from all of them when the first fires, so calling it in a loop
   * over long-lived requests does not pile up waiters.
   */
  static #anyDone(requests: readonly Request<unknown>[]): Promise<void> {
    if (requests.some((r) => r.#done)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const fire = (): void => {
        for (const r of requests) {
          const i = r.#waiters.indexOf(fire);
          if (i >= 0) r.#waiters.splice(i, 1);
        }
        resolve();
      };
      for (const r of requests) r.#waiters.push(fire);
    });
  }

  /** @internal Waiters registered on this request (for tests of their removal). */
  get _waiterCount(): number {
    return this.#waiters.length;
  }

  /**
   * Tests all requests (`MPI_Testall`): `[true, values]` and all become inactive when every
   * one has completed, else `[false, undefined]` and none changes.
   */
  static testall<V>(requests: readonly Request<V>[], statuses?: Status[]): [boolean, (V | undefined)[] | undefined] {
    checkList(requests, "requests");
    if (!requests.every((r) => r.#done || !r.#active)) return [false, undefined];
    return [true, requests.map((r, i) => r.#finish(statuses?.[i]))];
  }

  /**
   * Tests for any completed active request (`MPI_Testany`): `[index, true, value]` for the
   * lowest such index, `[UNDEFINED, false, undefined]` when none has completed yet, and
   * `[UNDEFINED, true, undefined]` when all are inactive.
   */
  static testany<V>(requests: readonly Request<V>[], status?: Status): [number, boolean, V | undefined] {
    checkList(requests, "requests");
    if (!requests.some((r) => r.#active)) {
      fill(status, undefined);
      return [UNDEFINED, true, undefined];
    }
    const i = requests.findIndex((r) => r.#active && r.#done);
    if (i < 0) return [UNDEFINED, false, undefined];
    return [i, true, requests[i]!.#finish(status)];
  }

  /**
   * Tests all active requests (`MPI_Testsome`): `[indices, values]` of those completed (possibly
   * empty), or `[undefined, undefined]` when all are inactive.
   * @throws the error of the first completed request that failed; only that one becomes
   *   inactive, so the values of the others are returned by the next call.
   */
  static testsome<V>(requests: readonly Request<V>[], statuses?: Status[]): [number[] | undefined, (V | undefined)[] | undefined] {
    checkList(requests, "requests");
    if (!requests.some((r) => r.#active)) return [undefined, undefined];
    const failed = requests.findIndex((r) => r.#active && r.#done && r.#failed);
    if (failed >= 0) requests[failed]!.#finish(statuses?.[0]); // throws
    const indices: number[] = [];
    const values: (V | undefined)[] = [];
    requests.forEach((r, i) => {
      if (r.#active && r.#done) {
        indices.push(i);
        values.push(r.#finish(statuses?.[indices.length - 1]));
      }
    });
    return [indices, values];
  }

  /** Cancels every request (`MPI_Cancel` on each). */
  static cancelall(requests: readonly Request<unknown>[]): void {
    checkList(requests, "requests");
    for (const r of requests) r.cancel();
  }
}

function checkList(requests: readonly unknown[], name: string): void {
  if (!Array.isArray(requests) || !requests.every((r) => r instanceof Request)) {
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of Request, got ${describeValue(requests)}`);
  }
}
