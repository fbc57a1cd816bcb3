/**
 * The iterator of a map call (`map`, `starmap`, `imap`, `imapUnordered`): it reads the input
 * in chunks, queues them on the scheduler (all at once, or `buffersize` ahead of the consumer),
 * and yields their results in input order, or as chunks complete (`unordered`), until the input
 * ends, a chunk fails (as a whole: none of its results is yielded), or the `timeout` passes.
 * When the iteration ends early, the chunks not started are cancelled.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { chunked, knownLength } from "./chunking.js";
import type { MapOptions } from "./options.js";
import type { Chunk, Scheduler } from "./scheduler.js";

/** A chunk of the map, from its submission until the consumer took its results. */
interface Slot {
  chunk?: Chunk;
  values?: unknown[];
  error?: Error;
  settled: boolean;
}

/** What a map call queues: the task's name, its input, and how each item is passed. */
export interface MapJob {
  /** The task function's name. */
  name: string;
  input: Iterable<unknown>;
  /** Each item is an argument list (`starmap`), not the one argument. */
  star: boolean;
  /** The options, validated. */
  opts: MapOptions;
  /** The call, for messages (`"map()"`). */
  what: string;
  chunksize: number;
  /** Whether the executor was shut down (no more chunks are queued then). */
  isShutdown: () => boolean;
}

/** The async iterator a map call returns (see the module notes). */
export class MapIterator<T> implements AsyncIterableIterator<T> {
  readonly #s: Scheduler;
  readonly #job: MapJob;
  readonly #source: Generator<unknown[]>;
  readonly #deadline: number | undefined;
  #total: number | undefined;
  #read = 0;
  #done = 0;
  #exhausted = false;
  /** In order: chunks submitted and not yet consumed, in input order (`slots[first]` is the oldest). */
  #slots: Slot[] = [];
  #first = 0;
  /** Unordered: chunks submitted and not yet consumed. */
  readonly #unconsumed = new Set<Slot>();
  /** Unordered: settled slots not yet consumed, in completion order. */
  readonly #completed: Slot[] = [];
  #pendingSlots = 0;
  #wake: (() => void) | undefined;
  #buffered: unknown[] = [];
  #pos = 0;
  #finished = false;

  constructor(scheduler: Scheduler, job: MapJob) {
    this.#s = scheduler;
    this.#job = job;
    this.#deadline = job.opts.timeout === undefined ? undefined : Date.now() + job.opts.timeout * 1000;
    this.#source = chunked(job.input, job.chunksize);
    this.#total = knownLength(job.input);
    this.#fill();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Arrow functions, as the object this class replaced had: `next` and `return` work detached.
  readonly next = async (): Promise<IteratorResult<T>> => {
    if (this.#finished) return { done: true, value: undefined };
    try {
      while (this.#pos >= this.#buffered.length) {
        const s = await this.#nextSlot();
        if (!s) {
          this.#end();
          return { done: true, value: undefined };
        }
        this.#fill();
        // A failed chunk fails as a whole (as mpi4py's): none of its results is yielded.
        if (s.error) throw s.error;
        this.#buffered = s.values ?? [];
        this.#pos = 0;
      }
      return { done: false, value: this.#buffered[this.#pos++] as T };
    } catch (err) {
      this.#end();
      throw err;
    }
  };

  readonly return = async (): Promise<IteratorResult<T>> => {
    this.#end();
    return { done: true, value: undefined };
  };

  /** Reads the next chunk of the input and queues it; false once the input is read to its end. */
  #submitNext(): boolean {
    if (this.#exhausted) return false;
    const r = this.#source.next();
    if (r.done) {
      this.#exhausted = true;
      this.#total = this.#read;
      return false;
    }
    const items = r.value;
    const { opts, star, name } = this.#job;
    this.#read += items.length;
    const slot: Slot = { settled: false };
    if (opts.unordered) this.#unconsumed.add(slot);
    else this.#slots.push(slot);
    this.#pendingSlots++;
    slot.chunk = this.#s.enqueue(
      name,
      star ? { a: items as unknown[][] } : { x: items },
      items.length,
      (values, error) => {
        slot.values = values;
        slot.error = error;
        slot.settled = true;
        if (opts.unordered) this.#completed.push(slot);
        this.#done += error ? items.length : values.length;
        opts.onProgress?.(this.#done, this.#total);
        this.#wake?.();
      },
      false,
    );
    return true;
  }

  /** Queues chunks: the whole input, or up to `buffersize` not yet consumed; then deals them. */
  #fill(): void {
    if (this.#job.isShutdown()) return;
    const { buffersize } = this.#job.opts;
    if (buffersize === undefined) while (this.#submitNext());
    else while (this.#pendingSlots < buffersize && this.#submitNext());
    this.#s.dispatch();
  }

  /** The next settled slot the consumer may take (in order: the oldest, once settled), or undefined. */
  #take(): Slot | undefined {
    if (this.#job.opts.unordered) {
      const s = this.#completed.shift();
      if (s) {
        this.#unconsumed.delete(s);
        this.#pendingSlots--;
      }
      return s;
    }
    const s = this.#slots[this.#first];
    if (!s?.settled) return undefined;
    this.#slots[this.#first++] = undefined as never;
    this.#pendingSlots--;
    if (this.#first > 1024 && this.#first * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#first);
      this.#first = 0;
    }
    return s;
  }

  /** Waits for the next slot to take; undefined once the input is read and every slot taken. */
  async #nextSlot(): Promise<Slot | undefined> {
    for (;;) {
      const s = this.#take();
      if (s) return s;
      if (this.#pendingSlots === 0) {
        this.#fill();
        if (this.#pendingSlots === 0) return undefined;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = this.#deadline;
      const waited = new Promise<void>((resolve, reject) => {
        this.#wake = resolve;
        if (deadline !== undefined) {
          timer = setTimeout(
            () => reject(new TsmpiError("ERR_TSMPI_TIMEOUT", `${this.#job.what}: results not all in within ${this.#job.opts.timeout} s`)),
            Math.max(0, deadline - Date.now()),
          );
        }
      });
      try {
        await waited;
      } finally {
        this.#wake = undefined;
        clearTimeout(timer);
      }
    }
  }

  /** Ends the iteration: no more input is read, and the chunks not started are cancelled. */
  #end(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#exhausted = true;
    const rest: Chunk[] = [];
    for (const s of this.#job.opts.unordered ? this.#unconsumed : this.#slots.slice(this.#first)) if (s.chunk) rest.push(s.chunk);
    this.#s.cancel(rest, `cancelled: the ${this.#job.what} iteration ended before this task started`);
  }
}
