/**
 * The executor: what `PoolExecutor` and `CommExecutor` share. It queues chunks of tasks, deals
 * them to workers, collects results, and offers the API of `concurrent.futures` /
 * mpi4py.futures (`submit`, `map`, `starmap`, `shutdown`, `numWorkers`) and the habits of
 * `multiprocessing.Pool` (`apply`, `applyAsync`, `mapAsync`, `starmapAsync`, `imap`,
 * `imapUnordered`).
 *
 * Scheduling (dynamic load balancing): chunks are dealt in submission order, each message (a
 * batch of chunks) to an idle worker, as mpi4py deals tasks. A worker that is still running a
 * message gets a second one (up to `prefetch` messages, default 2) only when both what it
 * holds and what it would get are measured as quick (at most `BATCH_TARGET_US`, about 2 ms, of
 * estimated work each, from the compute times workers report per function): quick tasks then
 * never wait a round trip, and no task waits behind a slow or not yet measured one while
 * another worker could take it.
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
 * Not supported yet: cancelling a single future (`Future.cancel`); cancelling the quick chunks
 * a worker holds behind the one it runs (they run); `as_completed`/`wait` helpers (use
 * `Promise.race`/`Promise.all` on `submit`'s promises); keyword arguments.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import { checkChunksize, checkIterable, chunked, knownLength, poolChunksize, zipped } from "./chunking.js";
import { BATCH_TARGET_US, CHUNK_TAG, OPEN_TAG, describePlace, remoteError, type BatchResult, type ChunkMessage, type ErrorInfo, type OpenMessage, type WorkerPlace } from "./protocol.js";
import { taskName, type TaskFunction } from "./tasks.js";

/**
 * The link from an executor to one of its workers: where the worker runs, a way to send to it,
 * its results (a rank of a communicator, or the root itself for a communicator of one rank).
 */
export interface WorkerLink {
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
  /** Why it was cancelled while it sat on a worker behind another message (it is if it comes back to the queue). */
  cancel?: string;
}

/** A message of chunks sent to a worker and not answered yet. */
interface Sent {
  chunks: Chunk[];
  /** Its estimated work in microseconds (Infinity: a function not measured yet). */
  work: number;
}

interface WorkerState {
  ch: WorkerLink;
  /** Messages sent and not answered, in the order the worker runs them: only the first can have started. */
  sent: Sent[];
  /** The open message is not answered yet (it counts as a message in flight). */
  opening: boolean;
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
  /** Why the executor is broken: every pending and later task rejects with it. */
  #broken: TsmpiError | undefined;

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
  protected attach(ch: WorkerLink): void {
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
    const w: WorkerState = { ch, sent: [], opening: true, alive: true, pumping: false, opened, markOpened };
    try {
      ch.send(OPEN_TAG, this.openMessage());
    } catch (err) {
      markOpened();
      this.breakExecutor(new TsmpiError("ERR_TSMPI_BROKEN", `the executor is broken: its open message could not be sent to ${describePlace(ch.place)}: ${(err as Error)?.message ?? err}`, { cause: err }));
      return;
    }
    this.#workers.push(w);
    void this.#pump(w);
    this.#dispatch();
  }

  /**
   * @internal A worker died. The chunks of the message it was running may have run: they reject
   * with `ERR_TSMPI_WORKER_LOST` (not retried). The messages behind it never started (a worker
   * runs its messages in order): their chunks go back to the front of the queue. The others go on.
   * @returns whether the worker had answered its open message.
   */
  protected lost(ch: WorkerLink, why: string): boolean {
    const w = this.#workers.find((x) => x.ch === ch);
    if (!w || !w.alive) return true;
    w.alive = false;
    const answered = !w.opening;
    w.markOpened();
    this.#workers.splice(this.#workers.indexOf(w), 1);
    const [running, ...behind] = w.sent;
    w.sent = [];
    const again: Chunk[] = [];
    for (const c of behind.flatMap((s) => s.chunks)) {
      if (c.state !== "sent") continue;
      c.state = "queued";
      if (c.cancel) this.#finish(c, [], new TsmpiError("ERR_TSMPI_CANCELLED", c.cancel));
      else again.push(c);
    }
    this.#queue.splice(this.#head, 0, ...again);
    for (const c of running?.chunks ?? []) {
      this.#finish(c, [], new TsmpiError("ERR_TSMPI_WORKER_LOST", `${describePlace(ch.place)} died while running this task's message (${why}); it was not retried`));
    }
    this.#dispatch();
    return answered;
  }

  /**
   * @internal Breaks the executor (concurrent.futures' `BrokenExecutor`): every pending task
   * rejects with `err`, and so does every later call (`bootup`, `submit`, `map`, ...). The
   * workers are stopped by `shutdown` as usual.
   */
  protected breakExecutor(err: TsmpiError): void {
    if (this.#broken) return;
    this.#broken = err;
    for (const w of this.#workers) for (const s of w.sent) for (const c of s.chunks) this.#finish(c, [], err);
    this.#failQueued(err);
  }

  /** @internal Whether the executor is broken. */
  protected get isBroken(): boolean {
    return this.#broken !== undefined;
  }

  /** The reason the executor is broken, as a new error for each call that is refused. */
  #brokenError(): TsmpiError {
    const b = this.#broken!;
    return new TsmpiError(b.code, b.message, { cause: b.cause });
  }

  /** @internal Whether shutdown was called (new tasks are refused). */
  protected get isShutdown(): boolean {
    return this.#shut !== undefined;
  }

  // ------------------------------------------------------------ scheduling

  #ensureStarted(): void {
    this.#started ??= this.startWorkers().catch((err) => {
      // No worker could start: the executor is broken; everything queued and later fails with the reason.
      const e = err instanceof TsmpiError ? err : new TsmpiError("ERR_TSMPI_LAUNCH", `the executor's workers could not start: ${(err as Error)?.message ?? err}`, { cause: err });
      this.breakExecutor(e);
      throw e;
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
    if (this.#broken) {
      this.#finish(chunk, [], this.#brokenError());
      return chunk;
    }
    this.#queue.push(chunk);
    this.#ensureStarted();
    if (dispatch) this.#dispatch();
    return chunk;
  }

  /** A chunk's estimated work in microseconds, from what its function's tasks took so far (Infinity: not measured yet). */
  #estimate(chunk: Chunk): number {
    return (this.#taskUs.get(chunk.f) ?? Infinity) * chunk.n;
  }

  /**
   * Deals the queued chunks, in order, in messages of as many chunks as make about
   * BATCH_TARGET_US of work (a chunk not yet measured goes alone). An idle worker takes the next
   * message whatever it holds; a busy one only a quick one (see {@link #pick}), so that the next
   * chunk otherwise waits for an idle worker.
   */
  #dispatch(): void {
    if (this.#broken) return;
    while (this.#head < this.#queue.length) {
      if (this.#queue[this.#head]!.state !== "queued") {
        this.#head++;
        continue;
      }
      const w = this.#pick();
      if (!w) break;
      const idle = w.sent.length === 0;
      const batch: Chunk[] = [];
      let work = 0;
      while (batch.length < this.#maxBatch && this.#head < this.#queue.length) {
        const chunk = this.#queue[this.#head]!;
        if (chunk.state !== "queued") {
          this.#head++;
          continue;
        }
        const est = this.#estimate(chunk);
        if ((batch.length > 0 || !idle) && work + est > BATCH_TARGET_US) break;
        work += est;
        batch.push(chunk);
        this.#head++;
      }
      if (batch.length === 0) break;
      this.#send(w, batch, work);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The worker for the next message: an idle one (one that answered its open message first);
   * else the busy one holding the least work, when it may take a second message: fewer than
   * `prefetch` in flight, and what it holds measured as quick (at most BATCH_TARGET_US), so that
   * nothing waits behind a slow or unmeasured task while another worker could take it.
   */
  #pick(): WorkerState | undefined {
    let best: WorkerState | undefined;
    let bestScore = Infinity;
    for (const w of this.#workers) {
      let score: number;
      if (w.sent.length === 0) score = w.opening ? -1 : -2;
      else {
        if (w.sent.length + (w.opening ? 1 : 0) >= this.#prefetch) continue;
        let held = 0;
        for (const s of w.sent) held += s.work;
        if (!(held <= BATCH_TARGET_US)) continue;
        score = held;
      }
      if (score < bestScore) {
        best = w;
        bestScore = score;
        if (score === -2) break;
      }
    }
    return best;
  }

  #wire(chunk: Chunk): ChunkMessage {
    return chunk.x ? { c: chunk.id, f: chunk.f, x: chunk.x } : { c: chunk.id, f: chunk.f, a: chunk.a };
  }

  #send(w: WorkerState, batch: Chunk[], work: number): void {
    try {
      w.ch.send(CHUNK_TAG, { s: this.session, k: batch.map((c) => this.#wire(c)) });
    } catch (err) {
      if (batch.length > 1) {
        // Find the chunk that cannot be sent: each goes in a message of its own.
        for (const c of batch) this.#send(w, [c], this.#estimate(c));
        return;
      }
      const chunk = batch[0]!;
      if (chunk.n > 1) return this.#split(chunk);
      this.#finish(chunk, [], new TsmpiError("ERR_TSMPI_TYPE", `the arguments of ${chunk.f}() cannot be sent to a worker: ${(err as Error)?.message ?? err}`, { cause: err }));
      return;
    }
    for (const chunk of batch) chunk.state = "sent";
    w.sent.push({ chunks: batch, work });
    if (!w.pumping) void this.#pump(w);
  }

  /** @internal The session id this executor's chunks carry (workers shared by several executors tell them apart by it). */
  protected session = 0;

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
            // Like a chunk that ran whole: its first error fails it as a whole.
            if (firstError) chunk.settle([], firstError.err);
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
      while (w.alive && (w.opening || w.sent.length > 0)) {
        const res = await w.ch.receive();
        if (!w.alive) return;
        if (w.opening && res.r.length === 0) {
          // The answer to the open message (a batch always has results).
          w.opening = false;
          w.markOpened();
          if (res.e) this.#initializerFailed(res.e, w.ch.place);
          continue;
        }
        const msg = w.sent.shift();
        if (!msg) continue;
        const done: [Chunk, ChunkResultLike][] = [];
        let tasks = 0;
        res.r.forEach((r, i) => {
          const chunk = msg.chunks[i]?.id === r.c ? msg.chunks[i] : msg.chunks.find((c) => c.id === r.c);
          if (!chunk) return;
          done.push([chunk, r]);
          tasks += chunk.n;
        });
        if (tasks > 0) {
          const sample = res.t / tasks;
          for (const [chunk] of done) {
            const old = this.#taskUs.get(chunk.f);
            this.#taskUs.set(chunk.f, old === undefined ? sample : 0.5 * old + 0.5 * sample);
          }
        }
        this.#dispatch();
        for (const [chunk, r] of done) {
          if (r.e) this.#finish(chunk, [], remoteError(r.e, w.ch.place));
          else this.#finish(chunk, r.r);
        }
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

  /** A worker's initializer failed: the executor is broken (as concurrent.futures'), with that error as the cause. */
  #initializerFailed(info: ErrorInfo, place: WorkerPlace): void {
    const init = this.openMessage().init;
    const cause = remoteError(info, place);
    this.breakExecutor(new TsmpiError("ERR_TSMPI_BROKEN", `the executor is broken: its initializer ${init}() failed on ${describePlace(place)}: ${info.n}: ${info.m}`, { cause }));
  }

  #failQueued(err: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const c = this.#queue[i]!;
      if (c.state === "queued") this.#finish(c, [], err);
    }
    this.#queue = [];
    this.#head = 0;
  }

  /**
   * Cancels the chunks that have not started: those queued reject with `ERR_TSMPI_CANCELLED`;
   * those a worker holds behind another message are marked, and cancelled if they come back to
   * the queue (their worker died); else they run (only quick work is sent ahead).
   */
  #cancel(chunks: Iterable<Chunk>, why: string): void {
    for (const c of chunks) {
      if (c.state === "queued") this.#finish(c, [], new TsmpiError("ERR_TSMPI_CANCELLED", why));
      else if (c.state === "sent") c.cancel ??= why;
    }
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
    if (this.#broken) throw this.#brokenError();
    if (this.isShutdown) throw this.#refusal("bootup()");
    this.#ensureStarted();
    await this.#started;
    await Promise.all(this.#workers.map((w) => w.opened));
    if (this.#broken) throw this.#brokenError();
    return this;
  }

  /**
   * Runs `fn(...args)` on a worker (`Executor.submit`).
   * @param fn an exported function of a task module (see the README, "Task pools").
   * @returns a promise of the result; rejects with the task's error (remote stack included),
   *   `ERR_TSMPI_TYPE` when an argument or the result cannot be serialized,
   *   `ERR_TSMPI_SHUTDOWN` after shutdown, `ERR_TSMPI_CANCELLED` when cancelled by
   *   `shutdown({ cancelFutures: true })`, `ERR_TSMPI_WORKER_LOST` when its worker died,
   *   `ERR_TSMPI_BROKEN` (or `ERR_TSMPI_LAUNCH`) when the executor is broken.
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
    if (this.#broken) return Promise.reject(this.#brokenError());
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
   * @returns an async iterable of the results; iteration rejects at the first failed chunk,
   *   once the results of the chunks before it were yielded (none of the failed chunk is; the
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
    if (this.#broken) throw this.#brokenError();
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
    /** In order: chunks submitted and not yet consumed, in input order (`slots[first]` is the oldest). */
    let slots: Slot[] = [];
    let first = 0;
    /** Unordered: chunks submitted and not yet consumed. */
    const unconsumed = new Set<Slot>();
    /** Unordered: settled slots not yet consumed, in completion order. */
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
      if (opts.unordered) unconsumed.add(slot);
      else slots.push(slot);
      pendingSlots++;
      slot.chunk = this.#enqueue(name, star ? { a: items as unknown[][] } : { x: items }, items.length, (values, error) => {
        slot.values = values;
        slot.error = error;
        slot.settled = true;
        if (opts.unordered) completed.push(slot);
        done += error ? items.length : values.length;
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
      for (const s of opts.unordered ? unconsumed : slots.slice(first)) if (s.chunk) rest.push(s.chunk);
      this.#cancel(rest, `cancelled: the ${what} iteration ended before this task started`);
    };
    let buffered: unknown[] = [];
    let pos = 0;
    const take = (): Slot | undefined => {
      if (opts.unordered) {
        const s = completed.shift();
        if (s) {
          unconsumed.delete(s);
          pendingSlots--;
        }
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
            const s = await nextSlot();
            if (!s) {
              end();
              return { done: true, value: undefined };
            }
            fill();
            // A failed chunk fails as a whole (as mpi4py's): none of its results is yielded.
            if (s.error) throw s.error;
            buffered = s.values ?? [];
            pos = 0;
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
   * Shuts the executor down: no new tasks are taken; with `cancelFutures` the tasks that have
   * not been dealt to a worker reject with `ERR_TSMPI_CANCELLED`; the workers stop once the rest
   * finished. With `wait` (default) it resolves when they have; otherwise at once. Safe to call
   * more than once, and on a broken executor.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = opts;
    if (cancelFutures) {
      const why = "cancelled by shutdown({ cancelFutures: true }) before it started";
      this.#cancel(this.#queue.slice(this.#head), why);
      // Those a worker holds behind the message it runs (quick ones): if they come back.
      for (const w of this.#workers) this.#cancel(w.sent.slice(1).flatMap((s) => s.chunks), why);
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
