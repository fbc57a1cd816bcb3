/**
 * The executor: what `PoolExecutor` and `CommExecutor` share. It offers the API of
 * `concurrent.futures` / mpi4py.futures (`submit`, `map`, `starmap`, `shutdown`, `numWorkers`)
 * and the habits of `multiprocessing.Pool` (`apply`, `applyAsync`, `mapAsync`, `starmapAsync`,
 * `imap`, `imapUnordered`), and the executor's lifetime (start, break, shutdown). It is a façade
 * over the files that do the work: `scheduler.ts` (the queue, the workers' states, dealing chunks
 * and collecting results), `map-iterator.ts` (a map call's iterator), `async-result.ts`
 * (`applyAsync`'s result) and `options.ts` (the options and their validation).
 *
 * Scheduling (dynamic load balancing, see `scheduler.ts`): chunks are dealt in submission order,
 * each message (a batch of chunks) to an idle worker, as mpi4py deals tasks; a busy worker gets
 * a second message (up to `prefetch`, default 2) only when both are measured as quick.
 *
 * Errors: a task that throws rejects its own promise (or ends its map's iteration, its chunk
 * failing as a whole) with the error's class, message and the worker's stack, headed by the
 * worker. A task whose arguments cannot be serialized fails alone with `ERR_TSMPI_TYPE` (a chunk
 * that cannot be sent is split and its tasks sent one by one). A worker that dies: the chunks
 * of the message it was running reject with `ERR_TSMPI_WORKER_LOST`; they are not retried (a
 * task that killed its worker, by memory or a crash, would kill the next one too, and a task
 * may have had side effects); the messages queued behind it never started, and go back to the
 * front of the queue.
 *
 * A broken executor (concurrent.futures' `BrokenExecutor`): when its initializer fails, or its
 * workers cannot start or keep dying (`PoolExecutor`), every pending task rejects with the
 * reason (`ERR_TSMPI_BROKEN`; `ERR_TSMPI_LAUNCH` when no worker could start), and so does every
 * later call; `shutdown` still resolves.
 *
 * `submit` returns a `Future` (`future.ts`): `cancel()` takes a task off the queue; once dealt
 * to a worker it runs. `wait`/`asCompleted` (`wait.ts`) wait on futures of any executors.
 *
 * Not supported yet: cancelling a running task, or the quick chunks a worker holds behind the
 * one it runs (they run); keyword arguments.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { AsyncResult } from "./async-result.js";
import { checkChunksize, checkIterable, knownLength, poolChunksize, zipped } from "./chunking.js";
import { MapIterator } from "./map-iterator.js";
import {
  checkMapOptions,
  executorSettings,
  isMapOptions,
  type ExecutorOptions,
  type FirstArg,
  type MapOptions,
  type ShutdownOptions,
} from "./options.js";
import type { OpenMessage } from "./protocol.js";
import { Future } from "./future.js";
import { Scheduler, type Chunk, type WorkerLink } from "./scheduler.js";
import { taskName, type TaskFunction } from "./tasks.js";

export { AsyncResult } from "./async-result.js";
export type { ExecutorOptions, FirstArg, MapOptions, ShutdownOptions } from "./options.js";
export type { WorkerLink } from "./scheduler.js";

/** An async iterable that fails on its first `next()`: how `map` reports what `submit` would reject. */
// biome-ignore lint/correctness/useYield: it exists to reject its first next(), so it never yields
async function* failing<T>(err: unknown): AsyncGenerator<T> {
  throw err;
}

/** A future that failed at once (a refused submit): it rejects when awaited, as `submit`'s promise did. */
function failedFuture<T>(err: Error): Future<T> {
  const f = new Future<T>();
  f.setException(err);
  return f;
}

/** Executors alive in this process, shut down when it has nothing else to do (as concurrent.futures joins its pools at exit). */
const live = new Set<Executor>();
let exitHook = false;

function watchExit(ex: Executor): void {
  live.add(ex);
  if (exitHook) return;
  exitHook = true;
  // Before tsmpi's own beforeExit (which finalizes the runtime): stop messages must go out first.
  process.prependListener("beforeExit", () => {
    for (const e of [...live]) void e.shutdown({ wait: false });
  });
}

/**
 * What both executors share. Not constructed directly: use `new PoolExecutor()` or
 * `CommExecutor.open(comm)`.
 */
export abstract class Executor {
  readonly #s: Scheduler;
  #started: Promise<void> | undefined;
  /** True once the workers' start resolved (stop can then go out synchronously). */
  #startedOk = false;
  #shut: Promise<void> | undefined;
  #stopping = false;

  protected constructor(opts: ExecutorOptions = {}) {
    const { prefetch, maxBatch } = executorSettings(opts);
    const host = { session: () => this.session, openMessage: () => this.openMessage(), ensureStarted: () => this.#ensureStarted() };
    this.#s = new Scheduler(host, prefetch, maxBatch);
    watchExit(this);
  }

  // ------------------------------------------------------------ for subclasses

  /** @internal Starts the workers; each is handed over with `attach` as soon as it is ready. */
  protected abstract startWorkers(): Promise<void>;
  /** @internal Stops the workers once nothing is pending (after `shutdown`). */
  protected abstract stopWorkers(): Promise<void>;
  /** @internal What a worker must know to run this executor's tasks. */
  protected abstract openMessage(): OpenMessage;
  /** The number of workers, before or after they start. */
  abstract get numWorkers(): number;

  /** @internal The session id this executor's chunks carry (workers shared by several executors tell them apart by it). */
  protected session = 0;

  /** @internal Hands over a ready worker: it opens the session and takes chunks from the queue. */
  protected attach(ch: WorkerLink): void {
    this.#s.attach(ch);
  }

  /**
   * @internal A worker died. The chunks of the message it was running may have run: they reject
   * with `ERR_TSMPI_WORKER_LOST` (not retried). The messages behind it never started (a worker
   * runs its messages in order): their chunks go back to the front of the queue. The others go on.
   * @returns whether the worker had answered its open message.
   */
  protected lost(ch: WorkerLink, why: string): boolean {
    return this.#s.lost(ch, why);
  }

  /**
   * @internal Breaks the executor (concurrent.futures' `BrokenExecutor`): every pending task
   * rejects with `err`, and so does every later call (`bootup`, `submit`, `map`, ...). The
   * workers are stopped by `shutdown` as usual.
   */
  protected breakExecutor(err: TsmpiError): void {
    this.#s.breakWith(err);
  }

  /** @internal Whether the executor is broken. */
  protected get isBroken(): boolean {
    return this.#s.isBroken;
  }

  /** @internal Whether shutdown was called (new tasks are refused). */
  protected get isShutdown(): boolean {
    return this.#shut !== undefined;
  }

  /** @internal True while the executor stops its workers (a worker lost then is not replaced). */
  protected get stopping(): boolean {
    return this.#stopping;
  }

  #ensureStarted(): void {
    this.#started ??= this.startWorkers().catch((err) => {
      // No worker could start: the executor is broken; everything queued and later fails with the reason.
      const e =
        err instanceof TsmpiError
          ? err
          : new TsmpiError("ERR_TSMPI_LAUNCH", `the executor's workers could not start: ${(err as Error)?.message ?? err}`, { cause: err });
      this.breakExecutor(e);
      throw e;
    });
    this.#started.then(
      () => (this.#startedOk = true),
      () => {},
    );
  }

  #refusal(what: string): TsmpiError {
    return new TsmpiError("ERR_TSMPI_SHUTDOWN", `${what} after shutdown(): the executor takes no new tasks`);
  }

  // ------------------------------------------------------------ public API

  /**
   * Starts the workers now instead of at the first task, and resolves once they are ready:
   * started, their task modules loaded, the initializer run (mpi4py's `bootup`).
   * @throws TsmpiError (rejects) `ERR_TSMPI_LAUNCH` when no worker could start,
   *   `ERR_TSMPI_BROKEN` when the initializer failed (its error is the `cause`).
   */
  async bootup(): Promise<this> {
    if (this.#s.isBroken) throw this.#s.brokenError();
    if (this.isShutdown) throw this.#refusal("bootup()");
    this.#ensureStarted();
    await this.#started;
    await this.#s.opened();
    if (this.#s.isBroken) throw this.#s.brokenError();
    return this;
  }

  /**
   * Runs `fn(...args)` on a worker (`Executor.submit`).
   * @param fn an exported function of a task module (see the README, "Task pools").
   * @returns a {@link Future} of the result (awaitable, as a promise): cancel it before it
   *   runs, poll it, wait for it with a timeout, or pass it to `wait`/`asCompleted`. It rejects
   *   with the task's error (remote stack included),
   *   `ERR_TSMPI_TYPE` when an argument or the result cannot be serialized,
   *   `ERR_TSMPI_SHUTDOWN` after shutdown, `ERR_TSMPI_CANCELLED` when cancelled by
   *   `shutdown({ cancelFutures: true })`, `ERR_TSMPI_WORKER_LOST` when its worker died,
   *   `ERR_TSMPI_BROKEN` (or `ERR_TSMPI_LAUNCH`) when the executor is broken.
   * @example
   * ```ts
   * const yes = await pool.submit(isPrime, 97n);
   * const f = pool.submit(isPrime, 101n);
   * if (!f.cancel()) console.log(await f.result(10));
   * ```
   */
  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    let name: string;
    try {
      name = taskName(fn);
    } catch (err) {
      return failedFuture(err as Error);
    }
    if (this.#s.isBroken) return failedFuture(this.#s.brokenError());
    if (this.isShutdown) return failedFuture(this.#refusal("submit()"));
    let chunk: Chunk | undefined;
    const future = new Future<Awaited<ReturnType<F>>>(() => {
      if (chunk) this.#s.cancel([chunk], "cancelled by Future.cancel() before it started");
    });
    const settle = (values: unknown[], err?: Error): void => {
      if (!err) future.setResult(values[0] as Awaited<ReturnType<F>>);
      // Cancelled in the queue (shutdown({ cancelFutures })): the future is cancelled, as CPython's.
      else if (err instanceof TsmpiError && err.code === "ERR_TSMPI_CANCELLED" && future.state !== "RUNNING") future.cancel(err.message);
      else if (!future.done()) future.setException(err);
    };
    const onRun = (): void => {
      if (future.state === "PENDING") future.setRunningOrNotifyCancel();
    };
    chunk = this.#s.enqueue(name, { a: [args] }, 1, settle, true, onRun);
    return future;
  }

  /** `Pool.apply`: `submit(fn, ...args)` with the arguments as an array. */
  apply<F extends TaskFunction>(fn: F, args: Parameters<F> | [] = []): Promise<Awaited<ReturnType<F>>> {
    return this.submit(fn, ...(args as Parameters<F>)).result();
  }

  /**
   * `Pool.apply_async`: the result as an {@link AsyncResult}; `callback` gets the value,
   * `errorCallback` the error.
   */
  applyAsync<F extends TaskFunction>(
    fn: F,
    args: Parameters<F> | [] = [],
    opts: { callback?: (value: Awaited<ReturnType<F>>) => void; errorCallback?: (err: Error) => void } = {},
  ): AsyncResult<Awaited<ReturnType<F>>> {
    const p = this.apply(fn, args);
    p.then(opts.callback, opts.errorCallback ?? (() => {}));
    return new AsyncResult(p);
  }

  /**
   * Maps `fn` over the iterables (zipped, stopping at the shortest), as `Executor.map`:
   * results come in input order (or as they complete, with `unordered`), flattened from chunks
   * of `chunksize` tasks. The last argument may be the options.
   * @returns an async iterable of the results; iteration rejects at the first failed chunk,
   *   once the results of the chunks before it were yielded (none of the failed chunk is; the
   *   chunks not started are then cancelled), or with `ERR_TSMPI_TIMEOUT` past `timeout`.
   * @example
   * ```ts
   * for await (const flag of pool.map(isPrime, numbers, { chunksize: 10 })) count += flag ? 1 : 0;
   * ```
   */
  map<F extends TaskFunction>(
    fn: F,
    ...iterablesAndOptions: [...Iterable<unknown>[], MapOptions] | Iterable<unknown>[]
  ): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    const last = iterablesAndOptions[iterablesAndOptions.length - 1];
    const opts = isMapOptions(last) ? last : {};
    const iterables = (isMapOptions(last) ? iterablesAndOptions.slice(0, -1) : iterablesAndOptions) as Iterable<unknown>[];
    try {
      if (iterables.length === 0) throw new TsmpiError("ERR_TSMPI_ARG", "map() needs at least one iterable");
      iterables.forEach((it, i) => checkIterable(it, `iterable ${i + 1}`));
      const single = iterables.length === 1;
      return this.#run(fn, single ? iterables[0]! : zipped(iterables), !single, opts, "map()");
    } catch (err) {
      return failing(err);
    }
  }

  /** `starmap`: maps `fn` over argument lists, `fn(...args)` for each. Options as `map`'s. */
  starmap<F extends TaskFunction>(
    fn: F,
    argLists: Iterable<Parameters<F> | unknown[]>,
    opts: MapOptions = {},
  ): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    try {
      checkIterable(argLists, "argLists");
      return this.#run(fn, argLists as Iterable<unknown>, true, opts, "starmap()");
    } catch (err) {
      return failing(err);
    }
  }

  /** `Pool.imap`: `map` of one iterable, in order; chunksize 1 by default. */
  imap<F extends TaskFunction>(fn: F, iterable: Iterable<FirstArg<F>>, chunksize = 1): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    return this.map(fn, iterable, { chunksize });
  }

  /** `Pool.imap_unordered`: `map` of one iterable, results as they complete. */
  imapUnordered<F extends TaskFunction>(
    fn: F,
    iterable: Iterable<FirstArg<F>>,
    chunksize = 1,
  ): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    return this.map(fn, iterable, { chunksize, unordered: true });
  }

  /**
   * `Pool.map` (`map_async`): all results as one array. Without `chunksize`, Pool's rule for
   * a sized input: `ceil(length / (4 * numWorkers))`.
   */
  async mapAsync<F extends TaskFunction>(fn: F, iterable: Iterable<FirstArg<F>>, chunksize?: number): Promise<Awaited<ReturnType<F>>[]> {
    checkIterable(iterable, "iterable");
    const items = knownLength(iterable) === undefined ? [...iterable] : iterable;
    const out: Awaited<ReturnType<F>>[] = [];
    for await (const v of this.map(fn, items, { chunksize: chunksize ?? poolChunksize(knownLength(items)!, this.numWorkers) })) out.push(v);
    return out;
  }

  /** `Pool.starmap` (`starmap_async`): all results as one array, with Pool's chunk size rule. */
  async starmapAsync<F extends TaskFunction>(
    fn: F,
    argLists: Iterable<Parameters<F> | unknown[]>,
    chunksize?: number,
  ): Promise<Awaited<ReturnType<F>>[]> {
    checkIterable(argLists, "argLists");
    const items = [...argLists];
    const out: Awaited<ReturnType<F>>[] = [];
    for await (const v of this.starmap(fn, items, { chunksize: chunksize ?? poolChunksize(items.length, this.numWorkers) })) out.push(v);
    return out;
  }

  #run<T>(fn: TaskFunction, input: Iterable<unknown>, star: boolean, opts: MapOptions, what: string): AsyncIterableIterator<T> {
    const name = taskName(fn);
    checkMapOptions(opts);
    if (this.#s.isBroken) throw this.#s.brokenError();
    if (this.isShutdown) throw this.#refusal(what);
    const chunksize = checkChunksize(opts.chunksize);
    return new MapIterator<T>(this.#s, { name, input, star, opts, what, chunksize, isShutdown: () => this.isShutdown });
  }

  /**
   * Shuts the executor down: no new tasks are taken; with `cancelFutures` the tasks that have
   * not been dealt to a worker reject with `ERR_TSMPI_CANCELLED`; the workers stop once the rest
   * finished. With `wait` (default) it resolves when they have; otherwise at once. Safe to call
   * more than once, and on a broken executor.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = opts;
    if (cancelFutures) {
      this.#s.cancelAll("cancelled by shutdown({ cancelFutures: true }) before it started");
    }
    // Nothing pending and the workers up: the stop messages go out now, synchronously (at
    // beforeExit they must precede tsmpi's own finalization).
    if (
      this.#shut === undefined &&
      this.#s.outstanding === 0 &&
      this.#s.unopened === 0 &&
      (this.#startedOk || this.#started === undefined)
    ) {
      live.delete(this);
      this.#stopping = true;
      this.#shut = this.#started ? this.stopWorkers() : Promise.resolve();
    }
    this.#shut ??= (async () => {
      live.delete(this);
      if (this.#s.outstanding > 0) await this.#s.idle();
      if (this.#started) {
        await this.#started.catch(() => {});
        // Every worker's answer to the open message in first: a worker must not be stopped
        // with its answer still queued (it would wait for the linger time at its exit).
        await this.#s.opened();
        this.#stopping = true;
        await this.stopWorkers();
      }
    })();
    return wait ? this.#shut : Promise.resolve();
  }

  /** `await using pool = new PoolExecutor()`: shuts down (waiting) at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ wait: true });
  }
}
