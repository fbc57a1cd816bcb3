/**
 * `CommExecutor`: an executor over the ranks of a communicator in an SPMD program, as
 * mpi4py's `MPICommExecutor`. Every rank calls `CommExecutor.open(comm, { root })`; the root
 * gets the executor and the other ranks serve as its workers until the root shuts it down,
 * then get `null`. On a communicator of one rank the root runs the tasks itself, in-process
 * (as mpi4py falls back to a local pool), so the same program runs on 1 rank.
 *
 * Tasks: functions given in `tasks` are known on every rank without a module (all ranks run the
 * same script); module URLs in `tasks` are imported by the workers. The main script is not
 * imported implicitly here: its ranks are still running it.
 *
 * A rank that dies ends the whole job (tsmpirun's rule), so no worker is replaced here.
 *
 * Not supported yet: intercommunicators; a root that is not a member of `comm`.
 *
 * @module
 */
import os from "node:os";
import { Comm } from "../comm.js";
import { TsmpiError, describeValue } from "../errors.js";
import { checkRoot } from "../validate.js";
import { Executor, type WorkerLink, type ExecutorOptions } from "./executor.js";
import {
  OPEN_TAG,
  RESULT_TAG,
  STOP_TAG,
  CHUNK_TAG,
  type BatchMessage,
  type BatchResult,
  type OpenMessage,
  type WorkerPlace,
} from "./protocol.js";
import { initializerOption, moduleUrl, taskName, type TaskFunction } from "./tasks.js";
import { Session, sendable, serve } from "./worker.js";
import { packObject, unpackObject } from "../serializer.js";

/** Options of {@link CommExecutor.open}. */
export interface CommExecutorOptions extends ExecutorOptions {
  /** The rank that gets the executor (default 0). */
  root?: number;
  /** Task functions themselves (every rank passes the same) and/or module URLs or paths the workers import. */
  tasks?: (TaskFunction | string | URL)[];
  /** Runs once on each worker before its first task (found like a task), with `initargs`. */
  initializer?: TaskFunction;
  initargs?: unknown[];
}

/** A worker rank of a communicator, seen from the root. */
export class CommLink implements WorkerLink {
  constructor(
    private readonly comm: Comm,
    private readonly rank: number,
    private readonly resultTag: number,
    readonly place: WorkerPlace,
  ) {}

  send(tag: number, msg: unknown): void {
    this.comm.isend(msg, this.rank, tag);
  }

  receive(): Promise<BatchResult> {
    return this.comm.recv<BatchResult>(this.rank, this.resultTag);
  }
}

/**
 * The root itself as its only worker (a communicator of one rank): tasks run in-process, in
 * order, on copies made by the serializer (as a worker would get them), so what cannot travel
 * fails the same way.
 */
class LocalLink implements WorkerLink {
  readonly place: WorkerPlace = { rank: 0, host: os.hostname(), pid: process.pid };
  private session: Session | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly results: BatchResult[] = [];
  private waiter: ((r: BatchResult) => void) | undefined;

  constructor(private readonly direct: readonly TaskFunction[]) {}

  send(tag: number, msg: unknown): void {
    if (tag === OPEN_TAG) {
      const session = new Session(msg as OpenMessage, this.direct);
      this.session = session;
      this.tail = session.ready.then(() => this.deliver(session.answer));
    } else if (tag === CHUNK_TAG) {
      const session = this.session!;
      const batch = unpackObject(packObject(msg)) as BatchMessage;
      this.tail = this.tail
        .then(() => session.runBatch(batch))
        .then((r) => {
          try {
            this.deliver(unpackObject(packObject(r)) as BatchResult);
          } catch {
            this.deliver(sendable(r, batch));
          }
        });
    }
  }

  private deliver(r: BatchResult): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(r);
    } else this.results.push(r);
  }

  receive(): Promise<BatchResult> {
    const r = this.results.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

/** The executor once its workers are ready; when it is broken, it is shut down (the serving ranks stop) and the error thrown. */
async function bootedUp(ex: CommExecutor): Promise<CommExecutor> {
  try {
    return await ex.bootup();
  } catch (err) {
    await ex.shutdown();
    throw err;
  }
}

/** Where every rank of `comm` runs (one collective). */
export async function placesOf(comm: Comm): Promise<WorkerPlace[]> {
  const all = await comm.allgather({ host: os.hostname(), pid: process.pid });
  return all.map((p, rank) => ({ rank, host: p.host, pid: p.pid }));
}

/** Splits a `tasks` option into functions known directly and module URLs. */
export function splitTasks(tasks: unknown, allowFunctions: boolean): { direct: TaskFunction[]; modules: string[] } {
  if (tasks === undefined) return { direct: [], modules: [] };
  if (!Array.isArray(tasks))
    throw new TsmpiError(
      "ERR_TSMPI_ARG",
      `tasks must be an array of ${allowFunctions ? "functions, " : ""}module URLs or paths, got ${describeValue(tasks)}`,
    );
  const direct: TaskFunction[] = [];
  const modules: string[] = [];
  tasks.forEach((t, i) => {
    if (typeof t === "function") {
      if (!allowFunctions)
        throw new TsmpiError(
          "ERR_TSMPI_ARG",
          `tasks[${i}] is a function; a PoolExecutor's workers import modules: give module URLs (e.g. import.meta.url)`,
        );
      taskName(t, `tasks[${i}]`);
      direct.push(t as TaskFunction);
    } else modules.push(moduleUrl(t as string | URL, `tasks[${i}]`));
  });
  return { direct, modules };
}

/**
 * An executor whose workers are the other ranks of a communicator (mpi4py's
 * `MPICommExecutor`).
 *
 * @example
 * ```ts
 * import { COMM_WORLD } from "tsmpi";
 * import { CommExecutor } from "tsmpi/futures";
 * export function line(y: number) { ... }
 * await using ex = await CommExecutor.open(COMM_WORLD, { root: 0, tasks: [line] });
 * if (ex) for await (const row of ex.map(line, ys)) draw(row);
 * ```
 */
export class CommExecutor extends Executor {
  readonly #workers: WorkerLink[];

  private constructor(
    workers: WorkerLink[],
    private readonly open: OpenMessage,
    opts: ExecutorOptions,
  ) {
    super(opts);
    this.#workers = workers;
  }

  /**
   * Collective over `comm`: the root gets an executor, every other rank serves tasks until
   * the root shuts it down and then gets `null`.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a `comm` that is not a Comm (a promise of one:
   *   `await comm.split(...)` first) or bad options, `ERR_TSMPI_TYPE` for initargs that cannot
   *   be serialized, `ERR_TSMPI_ROOT` for a root outside `[0, comm.size)`; on the root (rejects)
   *   `ERR_TSMPI_BROKEN` when the initializer failed: the other ranks then stop serving and get
   *   `null`.
   */
  static async open(comm: Comm, opts: CommExecutorOptions = {}): Promise<CommExecutor | null> {
    if (!(comm instanceof Comm)) {
      const hint = typeof (comm as { then?: unknown } | null)?.then === "function" ? " (a promise: await it first)" : "";
      throw new TsmpiError("ERR_TSMPI_ARG", `comm must be a Comm, got ${describeValue(comm)}${hint}`);
    }
    if (opts === null || typeof opts !== "object")
      throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(opts)}`);
    const root = checkRoot(opts.root ?? 0, comm.size);
    const { direct, modules } = splitTasks(opts.tasks, true);
    const init = initializerOption(opts.initializer, opts.initargs);
    if (opts.initializer && !direct.includes(opts.initializer)) direct.push(opts.initializer);
    const open: OpenMessage = { s: 0, m: modules, ...init };
    const own = comm.dup();
    if (own.size === 1) return bootedUp(new CommExecutor([new LocalLink(direct)], open, opts));
    const places = await placesOf(own);
    if (own.rank !== root) {
      await serve(own, root, direct);
      own.free();
      return null;
    }
    const workers = places.filter((p) => p.rank !== root).map((p) => new CommLink(own, p.rank, RESULT_TAG, p));
    const ex = new CommExecutor(workers, open, opts);
    ex.#comm = own;
    ex.#root = root;
    return bootedUp(ex);
  }

  #comm: Comm | undefined;
  #root = 0;

  /** The number of worker ranks (the communicator's size less the root; 1 on a single rank). */
  get numWorkers(): number {
    return this.#workers.length;
  }

  /** @internal */
  protected openMessage(): OpenMessage {
    return this.open;
  }

  /** @internal */
  protected async startWorkers(): Promise<void> {
    for (const w of this.#workers) this.attach(w);
  }

  /** @internal */
  protected async stopWorkers(): Promise<void> {
    const comm = this.#comm;
    if (!comm) return;
    for (let r = 0; r < comm.size; r++) if (r !== this.#root) comm.isend(null, r, STOP_TAG);
  }
}
