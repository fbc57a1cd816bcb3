/**
 * The scheduler of an executor: the queue of chunks, the workers' states, dealing chunks to
 * workers and collecting their results (the executor, `executor.ts`, is the API over it).
 *
 * Dynamic load balancing: chunks are dealt in submission order, each message (a batch of
 * chunks) to an idle worker, as mpi4py deals tasks. A worker that is still running a message
 * gets a second one (up to `prefetch` messages) only when both what it holds and what it would
 * get are measured as quick (at most `BATCH_TARGET_US`, about 2 ms, of estimated work each, from
 * the compute times workers report per function): quick tasks then never wait a round trip, and
 * no task waits behind a slow or not yet measured one while another worker could take it.
 *
 * A chunk moves `queued` → `sent` (its `onRun` called: a submitted task's future is then
 * running, as CPython's process pool marks a future running once in its call queue) → `done`; a worker that dies sends the chunks it held and
 * had not started back to the front of the queue (`lost`), and its running ones fail.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import {
  BATCH_TARGET_US,
  CHUNK_TAG,
  OPEN_TAG,
  describePlace,
  remoteError,
  type BatchResult,
  type ChunkMessage,
  type ErrorInfo,
  type OpenMessage,
  type WorkerPlace,
} from "./protocol.js";

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

/** How a chunk's promise settles: with its values, or with the error it failed with. */
export type Settle = (values: unknown[], error?: Error) => void;

/** One chunk in the queue or on a worker. */
export interface Chunk {
  id: number;
  f: string;
  a?: unknown[][];
  x?: unknown[];
  n: number;
  settle: Settle;
  state: "queued" | "sent" | "done";
  /** Why it was cancelled while it sat on a worker behind another message (it is if it comes back to the queue). */
  cancel?: string;
  /** Called when the chunk is dealt to a worker (a submitted task's future then runs). */
  onRun?: () => void;
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

type ChunkResultLike = BatchResult["r"][number];

/** What the scheduler needs of its executor. */
export interface SchedulerHost {
  /** The session id this executor's chunks carry (read at each send: a PoolExecutor sets it after construction). */
  session(): number;
  /** What a worker must know to run this executor's tasks. */
  openMessage(): OpenMessage;
  /** Starts the workers unless they were (called when a chunk is queued). */
  ensureStarted(): void;
}

/** The queue, the workers and the dealing of an executor (see the module notes). */
export class Scheduler {
  readonly #host: SchedulerHost;
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
  /** Workers whose answer to the open message has not come yet. */
  #unopened = 0;
  /** Why the executor is broken: every pending and later task rejects with it. */
  #broken: TsmpiError | undefined;

  constructor(host: SchedulerHost, prefetch: number, maxBatch: number) {
    this.#host = host;
    this.#prefetch = prefetch;
    this.#maxBatch = maxBatch;
  }

  /** Chunks queued or on a worker, not yet settled. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Workers whose answer to the open message has not come yet. */
  get unopened(): number {
    return this.#unopened;
  }

  /** Whether the executor is broken. */
  get isBroken(): boolean {
    return this.#broken !== undefined;
  }

  /** The reason the executor is broken, as a new error for each call that is refused. */
  brokenError(): TsmpiError {
    const b = this.#broken!;
    return new TsmpiError(b.code, b.message, { cause: b.cause });
  }

  /** Resolves once no chunk is outstanding (call it while some are). */
  idle(): Promise<void> {
    return new Promise<void>((r) => this.#idle.push(r));
  }

  /** Resolves once every worker attached so far answered its open message (or died). */
  opened(): Promise<unknown> {
    return Promise.all(this.#workers.map((w) => w.opened));
  }

  /** Hands over a ready worker: it opens the session and takes chunks from the queue. */
  attach(ch: WorkerLink): void {
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
      ch.send(OPEN_TAG, this.#host.openMessage());
    } catch (err) {
      markOpened();
      this.breakWith(
        new TsmpiError(
          "ERR_TSMPI_BROKEN",
          `the executor is broken: its open message could not be sent to ${describePlace(ch.place)}: ${(err as Error)?.message ?? err}`,
          { cause: err },
        ),
      );
      return;
    }
    this.#workers.push(w);
    void this.#pump(w);
    this.dispatch();
  }

  /**
   * A worker died. The chunks of the message it was running may have run: they reject with
   * `ERR_TSMPI_WORKER_LOST` (not retried). The messages behind it never started (a worker runs
   * its messages in order): their chunks go back to the front of the queue. The others go on.
   * @returns whether the worker had answered its open message.
   */
  lost(ch: WorkerLink, why: string): boolean {
    const w = this.#workers.find((x) => x.ch === ch);
    if (!w?.alive) return true;
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
      this.#finish(
        c,
        [],
        new TsmpiError(
          "ERR_TSMPI_WORKER_LOST",
          `${describePlace(ch.place)} died while running this task's message (${why}); it was not retried`,
        ),
      );
    }
    this.dispatch();
    return answered;
  }

  /** Breaks the executor: every pending task rejects with `err`, and so does every later one. */
  breakWith(err: TsmpiError): void {
    if (this.#broken) return;
    this.#broken = err;
    for (const w of this.#workers) for (const s of w.sent) for (const c of s.chunks) this.#finish(c, [], err);
    this.#failQueued(err);
  }

  /**
   * Queues a chunk; with `dispatch` false the caller dispatches once after queueing many (full
   * first batches); `onRun` is called when it is dealt to a worker.
   */
  enqueue(f: string, items: { a?: unknown[][]; x?: unknown[] }, n: number, settle: Settle, dispatch = true, onRun?: () => void): Chunk {
    const chunk: Chunk = { id: this.#nextChunk++, f, ...items, n, settle, state: "queued", onRun };
    this.#outstanding++;
    if (this.#broken) {
      this.#finish(chunk, [], this.brokenError());
      return chunk;
    }
    this.#queue.push(chunk);
    this.#host.ensureStarted();
    if (dispatch) this.dispatch();
    return chunk;
  }

  /**
   * Cancels the chunks that have not started: those queued reject with `ERR_TSMPI_CANCELLED`;
   * those a worker holds behind another message are marked, and cancelled if they come back to
   * the queue (their worker died); else they run (only quick work is sent ahead).
   */
  cancel(chunks: Iterable<Chunk>, why: string): void {
    for (const c of chunks) {
      if (c.state === "queued") this.#finish(c, [], new TsmpiError("ERR_TSMPI_CANCELLED", why));
      else if (c.state === "sent") c.cancel ??= why;
    }
  }

  /** Cancels every chunk not started: the queue, and what workers hold behind the message they run. */
  cancelAll(why: string): void {
    this.cancel(this.#queue.slice(this.#head), why);
    // Those a worker holds behind the message it runs (quick ones): if they come back.
    for (const w of this.#workers)
      this.cancel(
        w.sent.slice(1).flatMap((s) => s.chunks),
        why,
      );
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
  dispatch(): void {
    if (this.#broken) return;
    while (this.#head < this.#queue.length) {
      if (this.#queue[this.#head]!.state !== "queued") {
        this.#head++;
        continue;
      }
      const w = this.#pick();
      if (!w) break;
      const { batch, work } = this.#batch(w.sent.length === 0);
      if (batch.length === 0) break;
      this.#send(w, batch, work);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Takes the next message's chunks off the queue: for an idle worker at least one, whatever its work. */
  #batch(idle: boolean): { batch: Chunk[]; work: number } {
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
    return { batch, work };
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
      w.ch.send(CHUNK_TAG, { s: this.#host.session(), k: batch.map((c) => this.#wire(c)) });
    } catch (err) {
      if (batch.length > 1) {
        // Find the chunk that cannot be sent: each goes in a message of its own.
        for (const c of batch) this.#send(w, [c], this.#estimate(c));
        return;
      }
      const chunk = batch[0]!;
      if (chunk.n > 1) {
        this.#split(chunk);
        return;
      }
      this.#finish(
        chunk,
        [],
        new TsmpiError("ERR_TSMPI_TYPE", `the arguments of ${chunk.f}() cannot be sent to a worker: ${(err as Error)?.message ?? err}`, {
          cause: err,
        }),
      );
      return;
    }
    for (const chunk of batch) {
      chunk.state = "sent";
      chunk.onRun?.();
    }
    w.sent.push({ chunks: batch, work });
    if (!w.pumping) void this.#pump(w);
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
    this.dispatch();
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
        if (msg) this.#answered(w, msg, res);
      }
    } catch (err) {
      this.lost(w.ch, (err as Error)?.message ?? String(err));
    } finally {
      w.pumping = false;
    }
  }

  /** A worker's answer to `msg`: the compute times measured, the next message dealt, then the chunks settled. */
  #answered(w: WorkerState, msg: Sent, res: BatchResult): void {
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
    this.dispatch();
    for (const [chunk, r] of done) {
      if (r.e) this.#finish(chunk, [], remoteError(r.e, w.ch.place));
      else this.#finish(chunk, r.r);
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
    const init = this.#host.openMessage().init;
    const cause = remoteError(info, place);
    this.breakWith(
      new TsmpiError(
        "ERR_TSMPI_BROKEN",
        `the executor is broken: its initializer ${init}() failed on ${describePlace(place)}: ${info.n}: ${info.m}`,
        { cause },
      ),
    );
  }

  #failQueued(err: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const c = this.#queue[i]!;
      if (c.state === "queued") this.#finish(c, [], err);
    }
    this.#queue = [];
    this.#head = 0;
  }
}
