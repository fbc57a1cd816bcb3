/**
 * The executor: what `PoolExecutor` and `CommExecutor` share. It queues chunks of tasks, deals
 * them to workers, collects results, and offers the API of `concurrent.futures` /
 * mpi4py.futures (`submit`, `map`, `starmap`, `shutdown`, `numWorkers`) and the habits of
 * `multiprocessing.Pool` (`apply`, `applyAsync`, `mapAsync`, `starmapAsync`, `imap`,
 * `imapUnordered`).
 *
 * Scheduling (dynamic load balancing): a worker holds at most `prefetch` chunks (default 2):
 * the one it runs and the next, so it never waits a round trip between chunks. A chunk goes to
 * the worker holding the fewest; a worker that finishes one gets the next chunk in the queue.
 * Chunks are dealt in submission order.
 *
 * Errors: a task that throws rejects its own promise (or ends its map's iteration) with the
 * error's class, message and the worker's stack, headed by the worker's rank and host. A task
 * whose arguments cannot be serialized fails alone with `ERR_TSMPI_TYPE` (a chunk that cannot
 * be sent is split and its tasks sent one by one). A worker that dies: the tasks it held reject
 * with `ERR_TSMPI_WORKER_LOST`; they are not retried (a task that killed its worker, by memory
 * or a crash, would kill the next one too, and a task may have had side effects).
 *
 * Not supported yet: cancelling a single future (`Future.cancel`); `as_completed`/`wait`
 * helpers (use `Promise.race`/`Promise.all` on `submit`'s promises); keyword arguments.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import { checkChunksize, checkIterable, chunked, knownLength, poolChunksize, zipped } from "./chunking.js";
import { BATCH_TARGET_US, CHUNK_TAG, OPEN_TAG, remoteError, type BatchResult, type ChunkMessage, type OpenMessage, type WorkerPlace } from "./protocol.js";
import { taskName, type TaskFunction } from "./tasks.js";

/** A worker as an executor sees it: where it runs, a way to send to it, its results. */
export interface Channel {
  readonly place: WorkerPlace;
  /** Sends a message; throws at once (`ERR_TSMPI_TYPE`) when it cannot be serialized. */
  send(tag: number, msg: unknown): void;
  /** The next batch of results of this executor's session from this worker. */
  receive(): Promise<BatchResult>;
}

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
  /** Messages of chunks a worker holds at once (the one it runs and those queued behind it); default 2. */
  prefetch?: number;
  /**
   * At most this many chunks in one message (adaptive batching of quick chunks, see the
   * README); default 256; 1 sends every chunk in a message of its own.
   */
  maxBatch?: number;
}

/** The first parameter's type of a task function (anything for one without parameters). */
export type FirstArg<F extends TaskFunction> = Parameters<F> extends [] ? unknown : Parameters<F>[0];

type ChunkResultLike = BatchResult["r"][number];

/** One chunk in the queue or on a worker. */
interface Chunk {
  id: number;
  f: string;
  a?: unknown[][];
  x?: unknown[];
  n: number;
  settle(values: unknown[], error?: Error): void;
  state: "queued" | "sent" | "done";
  worker?: WorkerState;
}

interface WorkerState {
  ch: Channel;
  /** Chunks sent and not returned, by id. */
  held: Map<number, Chunk>;
  /** Messages sent and not answered. */
  inFlight: number;
  alive: boolean;
  pumping: boolean;
  /** Resolves when the worker acknowledged the session (modules loaded, initializer run). */
  opened: Promise<void>;
  markOpened: () => void;
}

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
    if (this.#state === "pending") throw new TsmpiError("ERR_TSMPI_ARG", "successful() needs a ready result (call ready() or await wait() first)");
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

function checkTimeout(value: unknown, name = "timeout"): number {
  if (typeof value !== "number" || !(value >= 0)) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a number of seconds >= 0, got ${describeValue(value)}`);
  return value;
}

function checkMapOptions(opts: MapOptions): void {
  if (opts === null || typeof opts !== "object") throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(opts)}`);
  const known = new Set(["chunksize", "unordered", "timeout", "buffersize", "onProgress"]);
  for (const k of Object.keys(opts)) if (!known.has(k)) throw new TsmpiError("ERR_TSMPI_ARG", `unknown map option ${JSON.stringify(k)} (known: ${[...known].join(", ")})`);
  checkChunksize(opts.chunksize);
  if (opts.timeout !== undefined) checkTimeout(opts.timeout);
  if (opts.buffersize !== undefined && (!Number.isSafeInteger(opts.buffersize) || opts.buffersize < 1)) {
    throw new TsmpiError("ERR_TSMPI_ARG", `buffersize must be an integer >= 1, got ${describeValue(opts.buffersize)}`);
  }
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") throw new TsmpiError("ERR_TSMPI_ARG", `onProgress must be a function, got ${describeValue(opts.onProgress)}`);
}

/** An async iterable that fails on its first `next()`: how `map` reports what `submit` would reject. */
async function* failing<T>(err: unknown): AsyncGenerator<T> {
  throw err;
}

function isOptions(value: unknown): value is MapOptions {
  return value !== null && typeof value === "object" && !(Symbol.iterator in (value as object)) && Object.getPrototypeOf(value) === Object.prototype;
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
  readonly #prefetch: number;
  readonly #maxBatch: number;
  /** Compute time of one task of each function so far (microseconds, smoothed), for batching. */
  readonly #taskUs = new Map<string, number>();
  readonly #workers: WorkerState[] = [];
  #queue: Chunk[] = [];
  #head = 0;
  #nextChunk = 0;
  #outstanding = 0;
  #idle: (() => void)[] = [];
  #started: Promise<void> | undefined;
  /** True once the workers' start resolved (stop can then go out synchronously). */
  #startedOk = false;
  /** Workers whose answer to the open message has not come yet. */
  #unopened = 0;
  #shut: Promise<void> | undefined;
  #stopping = false;

  protected constructor(opts: ExecutorOptions = {}) {
    const prefetch = opts.prefetch ?? 2;
    if (!Number.isSafeInteger(prefetch) || prefetch < 1) throw new TsmpiError("ERR_TSMPI_ARG", `prefetch must be an integer >= 1, got ${describeValue(prefetch)}`);
    this.#prefetch = prefetch;
    const maxBatch = opts.maxBatch ?? 256;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new TsmpiError("ERR_TSMPI_ARG", `maxBatch must be an integer >= 1, got ${describeValue(maxBatch)}`);
    this.#maxBatch = maxBatch;
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

  /** @internal Hands over a ready worker: it opens the session and takes chunks from the queue. */
  protected attach(ch: Channel): void {
    let markOpened!: () => void;
    this.#unopened++;
    let isOpen = false;
    const opened = new Promise<void>(
      (r) =>
        (markOpened = () => {
          if (isOpen) return;
          isOpen = true;
          this.#unopened--;
          r();
        }),
    );
    // The open message counts as one in flight until its answer (an empty batch) comes.
    const w: WorkerState = { ch, held: new Map(), inFlight: 1, alive: true, pumping: false, opened, markOpened };
    ch.send(OPEN_TAG, this.openMessage());
    this.#workers.push(w);
    void this.#pump(w);
    this.#dispatch();
  }

  /** @internal A worker died: the chunks it held reject with `ERR_TSMPI_WORKER_LOST`; the others go on. */
  protected lost(ch: Channel, why: string): void {
    const w = this.#workers.find((x) => x.ch === ch);
    if (!w || !w.alive) return;
    w.alive = false;
    w.markOpened();
    this.#workers.splice(this.#workers.indexOf(w), 1);
    const held = [...w.held.values()];
    w.held.clear();
    const { rank, host, pid } = ch.place;
    for (const c of held) {
      this.#finish(c, [], new TsmpiError("ERR_TSMPI_WORKER_LOST", `worker rank ${rank} on host ${host}${pid ? ` (pid ${pid})` : ""} died while holding this task (${why}); it was not retried`));
    }
    this.#dispatch();
  }

  /** @internal Whether shutdown was called (new tasks are refused). */
  protected get isShutdown(): boolean {
    return this.#shut !== undefined;
  }

  /** @internal The workers alive now. */
  protected get liveWorkers(): number {
    return this.#workers.length;
  }

  // ------------------------------------------------------------ scheduling

  #ensureStarted(): void {
    this.#started ??= this.startWorkers().catch((err) => {
      // No worker could start: everything queued fails with the reason.
      this.#failQueued(err instanceof TsmpiError ? err : new TsmpiError("ERR_TSMPI_LAUNCH", `the executor's workers could not start: ${(err as Error)?.message ?? err}`, { cause: err }));
      throw err;
    });
    this.#started.then(
      () => (this.#startedOk = true),
      () => {},
    );
  }

  /** Queues a chunk; with `dispatch` false the caller dispatches once after queueing many (full first batches). */
  #enqueue(f: string, items: { a?: unknown[][]; x?: unknown[] }, n: number, settle: Chunk["settle"], dispatch = true): Chunk {
    const chunk: Chunk = { id: this.#nextChunk++, f, ...items, n, settle, state: "queued" };
    this.#outstanding++;
    this.#queue.push(chunk);
    this.#ensureStarted();
    if (dispatch) this.#dispatch();
    return chunk;
  }

  #dispatch(): void {
    const workers = this.#workers;
    while (this.#head < this.#queue.length) {
      let best: WorkerState | undefined;
      for (const w of workers) if (w.inFlight < this.#prefetch && (!best || w.inFlight < best.inFlight)) best = w;
      if (!best) break;
      // As many chunks as make about BATCH_TARGET_US of work, by what their tasks took so far
      // (a task not yet measured goes alone).
      const batch: Chunk[] = [];
      let work = 0;
      while (batch.length < this.#maxBatch && this.#head < this.#queue.length) {
        const chunk = this.#queue[this.#head]!;
        if (chunk.state !== "queued") {
          this.#head++;
          continue;
        }
        const est = (this.#taskUs.get(chunk.f) ?? Infinity) * chunk.n;
        if (batch.length > 0 && work + est > BATCH_TARGET_US) break;
        work += est;
        batch.push(chunk);
        this.#head++;
      }
      if (batch.length > 0) this.#send(best, batch);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #wire(chunk: Chunk): ChunkMessage {
    return chunk.x ? { c: chunk.id, f: chunk.f, x: chunk.x } : { c: chunk.id, f: chunk.f, a: chunk.a };
  }

  #send(w: WorkerState, batch: Chunk[]): void {
    try {
      w.ch.send(CHUNK_TAG, { s: this.session, k: batch.map((c) => this.#wire(c)) });
    } catch (err) {
      if (batch.length > 1) {
        // Find the chunk that cannot be sent: each goes in a message of its own.
        for (const c of batch) this.#send(w, [c]);
        return;
      }
      const chunk = batch[0]!;
      if (chunk.n > 1) return this.#split(chunk);
      this.#finish(chunk, [], new TsmpiError("ERR_TSMPI_TYPE", `the arguments of ${chunk.f}() cannot be sent to a worker: ${(err as Error)?.message ?? err}`, { cause: err }));
      return;
    }
    for (const chunk of batch) {
      chunk.state = "sent";
      chunk.worker = w;
      w.held.set(chunk.id, chunk);
    }
    w.inFlight++;
    if (!w.pumping) void this.#pump(w);
  }

  /** @internal The session id this executor's chunks carry (workers shared by several executors tell them apart by it). */
  protected session = 0;

  /** @internal Fails every task not yet sent to a worker (no worker can take them). */
  protected failQueued(err: Error): void {
    this.#failQueued(err);
  }

  /** A chunk that could not be serialized: its tasks go one by one, so only the bad ones fail. */
  #split(chunk: Chunk): void {
    const n = chunk.n;
    const values: unknown[] = new Array(n);
    let pending = n;
    let firstError: { k: number; err: Error } | undefined;
    chunk.state = "done";
    this.#outstanding--;
    const singles: Chunk[] = [];
    for (let k = 0; k < n; k++) {
      const items = chunk.x ? { x: [chunk.x[k]] } : { a: [chunk.a![k]!] };
      const single: Chunk = {
        id: this.#nextChunk++,
        f: chunk.f,
        ...items,
        n: 1,
        state: "queued",
        settle: (v, err) => {
          if (err) {
            if (!firstError || k < firstError.k) firstError = { k, err };
          } else values[k] = v[0];
          if (--pending === 0) {
            if (firstError) chunk.settle(values.slice(0, firstError.k), firstError.err);
            else chunk.settle(values);
          }
        },
      };
      singles.push(single);
      this.#outstanding++;
    }
    // In place of the chunk, at the front of what is still queued.
    this.#queue.splice(this.#head, 0, ...singles);
    this.#dispatch();
  }

  async #pump(w: WorkerState): Promise<void> {
    w.pumping = true;
    try {
      while (w.alive && w.inFlight > 0) {
        const res = await w.ch.receive();
        if (!w.alive) return;
        w.inFlight--;
        if (res.r.length === 0) w.markOpened();
        const done: [Chunk, ChunkResultLike][] = [];
        let tasks = 0;
        for (const r of res.r) {
          const chunk = w.held.get(r.c);
          if (!chunk) continue;
          w.held.delete(r.c);
          done.push([chunk, r]);
          tasks += chunk.n;
        }
        if (tasks > 0) {
          const sample = res.t / tasks;
          for (const [chunk] of done) {
            const old = this.#taskUs.get(chunk.f);
            this.#taskUs.set(chunk.f, old === undefined ? sample : 0.5 * old + 0.5 * sample);
          }
        }
        this.#dispatch();
        for (const [chunk, r] of done) this.#finish(chunk, r.r, r.e ? remoteError(r.e, w.ch.place) : undefined);
      }
    } catch (err) {
      this.lost(w.ch, (err as Error)?.message ?? String(err));
    } finally {
      w.pumping = false;
    }
  }

  #finish(chunk: Chunk, values: unknown[], err?: Error): void {
    if (chunk.state === "done") return;
    chunk.state = "done";
    this.#outstanding--;
    try {
      chunk.settle(values, err);
    } finally {
      if (this.#outstanding === 0) for (const fn of this.#idle.splice(0)) fn();
    }
  }

  #failQueued(err: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const c = this.#queue[i]!;
      if (c.state === "queued") this.#finish(c, [], err);
    }
    this.#queue = [];
    this.#head = 0;
  }

  #cancel(chunks: Iterable<Chunk>, why: string): void {
    for (const c of chunks) if (c.state === "queued") this.#finish(c, [], new TsmpiError("ERR_TSMPI_CANCELLED", why));
  }

  #refusal(what: string): TsmpiError {
    return new TsmpiError("ERR_TSMPI_SHUTDOWN", `${what} after shutdown(): the executor takes no new tasks`);
  }

  // ------------------------------------------------------------ public API

  /**
   * Starts the workers now instead of at the first task, and resolves once they are ready:
   * started, their task modules loaded, the initializer run (mpi4py's `bootup`).
   * @throws TsmpiError `ERR_TSMPI_LAUNCH` (rejects) when no worker could start.
   */
  async bootup(): Promise<this> {
    if (this.isShutdown) throw this.#refusal("bootup()");
    this.#ensureStarted();
    await this.#started;
    await Promise.all(this.#workers.map((w) => w.opened));
    return this;
  }

  /**
   * Runs `fn(...args)` on a worker (`Executor.submit`).
   * @param fn an exported function of a task module (see the README, "Task pools").
   * @returns a promise of the result; rejects with the task's error (remote stack included),
   *   `ERR_TSMPI_TYPE` when an argument or the result cannot be serialized,
   *   `ERR_TSMPI_SHUTDOWN` after shutdown, `ERR_TSMPI_CANCELLED` when cancelled by
   *   `shutdown({ cancelFutures: true })`, `ERR_TSMPI_WORKER_LOST` when its worker died.
   * @example
   * ```ts
   * const yes = await pool.submit(isPrime, 97n);
   * ```
   */
  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Promise<Awaited<ReturnType<F>>> {
    let name: string;
    try {
      name = taskName(fn);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.isShutdown) return Promise.reject(this.#refusal("submit()"));
    return new Promise((resolve, reject) => {
      this.#enqueue(name, { a: [args] }, 1, (values, err) => (err ? reject(err) : resolve(values[0] as Awaited<ReturnType<F>>)));
    });
  }

  /** `Pool.apply`: `submit(fn, ...args)` with the arguments as an array. */
  apply<F extends TaskFunction>(fn: F, args: Parameters<F> | [] = []): Promise<Awaited<ReturnType<F>>> {
    return this.submit(fn, ...(args as Parameters<F>));
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
   * @returns an async iterable of the results; iteration rejects at the first failed task (the
   *   chunks not started are then cancelled), or with `ERR_TSMPI_TIMEOUT` past `timeout`.
   * @example
   * ```ts
   * for await (const flag of pool.map(isPrime, numbers, { chunksize: 10 })) count += flag ? 1 : 0;
   * ```
   */
  map<F extends TaskFunction>(fn: F, ...iterablesAndOptions: [...Iterable<unknown>[], MapOptions] | Iterable<unknown>[]): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    const last = iterablesAndOptions[iterablesAndOptions.length - 1];
    const opts = isOptions(last) ? last : {};
    const iterables = (isOptions(last) ? iterablesAndOptions.slice(0, -1) : iterablesAndOptions) as Iterable<unknown>[];
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
  starmap<F extends TaskFunction>(fn: F, argLists: Iterable<Parameters<F> | unknown[]>, opts: MapOptions = {}): AsyncIterableIterator<Awaited<ReturnType<F>>> {
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
  imapUnordered<F extends TaskFunction>(fn: F, iterable: Iterable<FirstArg<F>>, chunksize = 1): AsyncIterableIterator<Awaited<ReturnType<F>>> {
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
  async starmapAsync<F extends TaskFunction>(fn: F, argLists: Iterable<Parameters<F> | unknown[]>, chunksize?: number): Promise<Awaited<ReturnType<F>>[]> {
    checkIterable(argLists, "argLists");
    const items = [...argLists];
    const out: Awaited<ReturnType<F>>[] = [];
    for await (const v of this.starmap(fn, items, { chunksize: chunksize ?? poolChunksize(items.length, this.numWorkers) })) out.push(v);
    return out;
  }

  #run<T>(fn: TaskFunction, input: Iterable<unknown>, star: boolean, opts: MapOptions, what: string): AsyncIterableIterator<T> {
    const name = taskName(fn);
    checkMapOptions(opts);
    if (this.isShutdown) throw this.#refusal(what);
    const chunksize = checkChunksize(opts.chunksize);
    const deadline = opts.timeout === undefined ? undefined : Date.now() + opts.timeout * 1000;
    const source = chunked(input, chunksize);
    const known = knownLength(input);
    let total: number | undefined = known;
    let read = 0;
    let done = 0;
    let exhausted = false;
    type Slot = { chunk?: Chunk; values?: unknown[]; error?: Error; settled: boolean };
    /** Chunks submitted and not yet consumed, in input order (`slots[first]` is the oldest). */
    let slots: Slot[] = [];
    let first = 0;
    /** Settled slots not yet consumed (unordered mode), in completion order. */
    const completed: Slot[] = [];
    let pendingSlots = 0;
    let wake: (() => void) | undefined;
    const submitNext = (): boolean => {
      if (exhausted) return false;
      const r = source.next();
      if (r.done) {
        exhausted = true;
        total = read;
        return false;
      }
      const items = r.value;
      read += items.length;
      const slot: Slot = { settled: false };
      slots.push(slot);
      pendingSlots++;
      slot.chunk = this.#enqueue(name, star ? { a: items as unknown[][] } : { x: items }, items.length, (values, error) => {
        slot.values = values;
        slot.error = error;
        slot.settled = true;
        if (opts.unordered) completed.push(slot);
        done += values.length + (error ? 1 : 0);
        opts.onProgress?.(done, total);
        wake?.();
      }, false);
      return true;
    };
    const fill = (): void => {
      if (this.isShutdown) return;
      if (opts.buffersize === undefined) while (submitNext());
      else while (pendingSlots < opts.buffersize && submitNext());
      this.#dispatch();
    };
    fill();
    const cancelRest = (): void => {
      const rest: Chunk[] = [];
      for (let i = first; i < slots.length; i++) if (slots[i]!.chunk) rest.push(slots[i]!.chunk!);
      this.#cancel(rest, `cancelled: the ${what} iteration ended before this task started`);
    };
    let buffered: unknown[] = [];
    let pos = 0;
    /** A failed task's error, thrown once the results before it were yielded. */
    let failure: Error | undefined;
    const take = (): Slot | undefined => {
      if (opts.unordered) {
        const s = completed.shift();
        if (s) s.chunk = undefined; // consumed: not to be cancelled
        if (s) pendingSlots--;
        return s;
      }
      const s = slots[first];
      if (!s?.settled) return undefined;
      slots[first++] = undefined as never;
      pendingSlots--;
      if (first > 1024 && first * 2 > slots.length) {
        slots = slots.slice(first);
        first = 0;
      }
      return s;
    };
    const nextSlot = async (): Promise<Slot | undefined> => {
      for (;;) {
        const s = take();
        if (s) return s;
        if (pendingSlots === 0) {
          fill();
          if (pendingSlots === 0) return undefined;
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        const waited = new Promise<void>((resolve, reject) => {
          wake = resolve;
          if (deadline !== undefined) {
            timer = setTimeout(() => reject(new TsmpiError("ERR_TSMPI_TIMEOUT", `${what}: results not all in within ${opts.timeout} s`)), Math.max(0, deadline - Date.now()));
          }
        });
        try {
          await waited;
        } finally {
          wake = undefined;
          clearTimeout(timer);
        }
      }
    };
    let finished = false;
    const end = (): void => {
      if (finished) return;
      finished = true;
      exhausted = true;
      cancelRest();
    };
    const iterator: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      next: async (): Promise<IteratorResult<T>> => {
        if (finished) return { done: true, value: undefined };
        try {
          while (pos >= buffered.length) {
            if (failure) throw failure;
            const s = await nextSlot();
            if (!s) {
              end();
              return { done: true, value: undefined };
            }
            fill();
            buffered = s.values ?? [];
            pos = 0;
            failure = s.error;
          }
          return { done: false, value: buffered[pos++] as T };
        } catch (err) {
          end();
          throw err;
        }
      },
      return: async (): Promise<IteratorResult<T>> => {
        end();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  /**
   * Shuts the executor down: no new tasks are taken; with `cancelFutures` the queued tasks
   * reject with `ERR_TSMPI_CANCELLED`; the workers stop once the rest finished. With `wait`
   * (default) it resolves when they have; otherwise at once. Safe to call more than once.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = opts;
    if (cancelFutures) {
      const queued = this.#queue.slice(this.#head).filter((c) => c.state === "queued");
      this.#cancel(queued, "cancelled by shutdown({ cancelFutures: true }) before it started");
    }
    // Nothing pending and the workers up: the stop messages go out now, synchronously (at
    // beforeExit they must precede tsmpi's own finalization).
    if (this.#shut === undefined && this.#outstanding === 0 && this.#unopened === 0 && (this.#startedOk || this.#started === undefined)) {
      live.delete(this);
      this.#stopping = true;
      this.#shut = this.#started ? this.stopWorkers() : Promise.resolve();
    }
    this.#shut ??= (async () => {
      live.delete(this);
      if (this.#outstanding > 0) await new Promise<void>((r) => this.#idle.push(r));
      if (this.#started) {
        await this.#started.catch(() => {});
        // Every worker's answer to the open message in first: a worker must not be stopped
        // with its answer still queued (it would wait for the linger time at its exit).
        await Promise.all(this.#workers.map((w) => w.opened));
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

  /** @internal True while the executor stops its workers (a worker lost then is not replaced). */
  protected get stopping(): boolean {
    return this.#stopping;
  }
}
