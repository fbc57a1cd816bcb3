/**
 * `PoolExecutor`: an executor that starts its own workers, as mpi4py's `MPIPoolExecutor`
 * spawns them.
 *
 * Where the workers come from:
 * - under `tsmpirun -m tsmpi/futures script` (with more than one rank): the ranks 1..N-1 of
 *   that job, shared by every executor of the script (each in its own session);
 * - otherwise each worker is a job of its own, started with `tsmpirun` (the launcher's own
 *   machinery: local processes, ssh, srun) in which this process joins as the last rank, as
 *   `MPI_Comm_spawn`'s parent does. Workers go on the hosts given to the `tsmpirun` that
 *   started this process (`--host`/`--hostfile`, passed on as `TSMPI_UNIVERSE`; the slots its
 *   own ranks fill first are skipped), through `srun` inside a SLURM allocation, else here.
 *
 * Default worker count: `maxWorkers`, else `TSMPI_FUTURES_MAX_WORKERS`, else the universe's
 * free slots (`lib/job/slots.ts`: hosts given to tsmpirun, their slots less this job's ranks; a
 * SLURM allocation, `SLURM_NTASKS` less this job's ranks), else `os.availableParallelism()`.
 *
 * Lifetime: workers start at the first task, or with `bootup()`; `shutdown()` stops them.
 * A worker's job ends with its parent even when the parent is killed (its coordinator sees
 * the parent's connection close and stops the worker; a worker that loses its coordinator
 * exits). A worker that dies is replaced by a new one; the tasks of the message it was running
 * reject with `ERR_TSMPI_WORKER_LOST`. The pool is broken (`ERR_TSMPI_BROKEN`, as
 * concurrent.futures' `BrokenProcessPool`) when a replacement worker cannot start or dies
 * before answering its open message, or after {@link QUICK_DEATHS} workers in a row died
 * within {@link QUICK_DEATH_MS} of their start; when no worker could start at all, it is
 * broken with `ERR_TSMPI_LAUNCH`.
 *
 * This process joins each worker's job as `MPI_Comm_spawn`'s parent would (`lib/job/spawn.ts`),
 * without taking it for its own: its environment (`TSMPI_RANK`, ...) and its CPU affinity stay
 * as they were. The workers are not bound to cores (`TSMPI_BIND=0`: each is rank 0 of its own
 * job, and all would take the first core). A pool running from source (tsx) starts tsmpirun and
 * its workers from source too.
 *
 * `Comm.Spawn` (`lib/spawn.ts`) starts its children through the same `SpawnedJob`.
 *
 * Not supported yet: growing or shrinking the pool.
 *
 * @module
 */
import os from "node:os";
import { Comm } from "../comm.js";
import { numberSetting } from "../config.js";
import { TsmpiError, describeValue } from "../errors.js";
import { COMM_WORLD, localRank } from "../index.js";
import { WORLD_CONTEXT } from "../job/runtime.js";
import { freeSlots, freeTasks, SRUN_PLACEMENT } from "../job/slots.js";
import { SpawnedJob, packageFile } from "../job/spawn.js";
import { CommLink, placesOf, splitTasks } from "./comm-executor.js";
import { Executor, type WorkerLink, type ExecutorOptions } from "./executor.js";
import { CLOSE_TAG, RESULT_TAG, STOP_TAG, type OpenMessage, type WorkerPlace } from "./protocol.js";
import { initializerOption, mainModuleUrl, refuseInTaskModuleLoad, type TaskFunction } from "./tasks.js";
import { worldWorkers } from "./world.js";

/** A worker that dies within this many milliseconds of its start died quickly (see {@link QUICK_DEATHS}). */
export const QUICK_DEATH_MS = 2000;
/** After this many quick deaths in a row the pool is broken (a task module or task that kills every worker). */
export const QUICK_DEATHS = 3;

/** Options of {@link PoolExecutor}. */
export interface PoolExecutorOptions extends ExecutorOptions {
  /** How many workers (default: see the module notes). */
  maxWorkers?: number;
  /** Module URLs or paths holding the task functions (the main script is searched after them). */
  tasks?: (string | URL)[];
  /**
   * Runs once on each worker before its first task (an exported function, found like a task),
   * with `initargs` (checked to serialize at construction). If it throws, the pool is broken.
   */
  initializer?: TaskFunction;
  initargs?: unknown[];
  /** Extra environment variables for the workers. */
  env?: Record<string, string>;
}

function positiveInt(value: unknown, name: string): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1)
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an integer >= 1, got ${describeValue(value)}`);
  return n;
}

/** The default worker count (see the module notes). */
export function defaultWorkers(): number {
  const workers = numberSetting("TSMPI_FUTURES_MAX_WORKERS");
  if (workers !== undefined) return workers;
  if (process.env.TSMPI_UNIVERSE) return Math.max(1, freeSlots(COMM_WORLD.size).length);
  const tasks = freeTasks(COMM_WORLD.size);
  if (tasks !== undefined) return Math.max(1, tasks);
  return os.availableParallelism();
}

/** One spawned worker: its job (this process is its last rank), the communicator over it, the link. */
interface WorkerJob {
  /** Its index in the pool (a replacement takes the index of the worker it replaces). */
  index: number;
  /** It replaces a worker that died. */
  replacement: boolean;
  spawned: SpawnedJob;
  comm?: Comm;
  link?: WorkerLink;
  /** When it was attached (performance.now()). */
  attachedAt: number;
}

/**
 * An executor that starts its own worker processes (mpi4py's `MPIPoolExecutor`).
 *
 * @example
 * ```ts
 * import { PoolExecutor, isMainModule } from "tsmpi/futures";
 * export function isPrime(n: bigint): boolean { ... }
 * if (isMainModule(import.meta)) {
 *   await using pool = new PoolExecutor({ maxWorkers: 4 });
 *   for await (const p of pool.map(isPrime, candidates, { chunksize: 10 })) ...
 * }
 * ```
 */
export class PoolExecutor extends Executor {
  readonly #count: number;
  readonly #open: OpenMessage;
  readonly #env: Record<string, string>;
  readonly #jobs = new Set<WorkerJob>();
  #world: ReturnType<typeof worldWorkers>;
  #placeNext = 0;
  /** Workers in a row that died within QUICK_DEATH_MS of their start. */
  #quickDeaths = 0;

  /**
   * Makes a pool; no process starts before the first task or `bootup()`.
   * @throws TsmpiError `ERR_TSMPI_ARG` for bad options.
   */
  constructor(opts: PoolExecutorOptions = {}) {
    if (opts === null || typeof opts !== "object")
      throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(opts)}`);
    refuseInTaskModuleLoad("a PoolExecutor");
    super(opts);
    const { modules } = splitTasks(opts.tasks, false);
    const main = mainModuleUrl();
    const init = initializerOption(opts.initializer, opts.initargs);
    if (opts.env !== undefined && (opts.env === null || typeof opts.env !== "object"))
      throw new TsmpiError("ERR_TSMPI_ARG", `env must be an object of strings, got ${describeValue(opts.env)}`);
    this.#env = Object.fromEntries(Object.entries(opts.env ?? {}).map(([k, v]) => [k, String(v)]));
    this.#world = worldWorkers();
    const worldSize = this.#world?.places.length ?? 0;
    if (opts.maxWorkers !== undefined) positiveInt(opts.maxWorkers, "maxWorkers");
    this.#count = opts.maxWorkers ?? (worldSize > 0 ? worldSize : defaultWorkers());
    if (this.#world && worldSize > 0) {
      this.#count = Math.min(this.#count, worldSize);
      this.session = ++this.#world.sessions;
    } else this.#world = undefined;
    this.#open = { s: this.session, m: modules, ...(main && !modules.includes(main) ? { main } : {}), ...init };
  }

  /** The number of workers (started or to be started). */
  get numWorkers(): number {
    return this.#count;
  }

  /** @internal */
  protected openMessage(): OpenMessage {
    return this.#open;
  }

  /** @internal */
  protected async startWorkers(): Promise<void> {
    const world = this.#world;
    if (world) {
      for (const p of world.places.slice(0, this.#count)) this.attach(new CommLink(world.comm, p.rank, RESULT_TAG + this.session, p));
      return;
    }
    const starts = Array.from({ length: this.#count }, (_, i) => this.#startJob(i, false));
    const results = await Promise.allSettled(starts);
    const ok = results.filter((r) => r.status === "fulfilled").length;
    if (ok === 0) throw (results[0] as PromiseRejectedResult).reason;
  }

  /** @internal */
  protected async stopWorkers(): Promise<void> {
    const world = this.#world;
    if (world) {
      for (const p of world.places.slice(0, this.#count)) world.comm.isend({ s: this.session }, p.rank, CLOSE_TAG);
      return;
    }
    await Promise.all([...this.#jobs].map((job) => this.#stopJob(job)));
  }

  /** Where the next worker goes: `--host` arguments for tsmpirun. */
  #placement(): string[] {
    if (process.env.SLURM_JOB_ID) return [...SRUN_PLACEMENT];
    const slots = freeSlots(COMM_WORLD.size);
    if (slots.length === 0) return [];
    return ["--host", `${slots[this.#placeNext++ % slots.length]}:1`];
  }

  /** Starts worker `index`'s job and joins it; resolves once its worker is attached, rejects when its job ends before. */
  async #startJob(index: number, replacement: boolean): Promise<void> {
    const placement = this.#placement();
    const spawned = SpawnedJob.start(
      {
        name: `pool worker ${index}`,
        placement,
        count: 1,
        program: [packageFile("dist/lib/futures.js", "lib/futures/index.ts"), "--tsmpi-futures-worker"],
        env: this.#env,
        ranksHere: localRank().size + this.#count,
      },
      (why) => this.#ended(job, why),
    );
    const job: WorkerJob = { index, replacement, spawned, attachedAt: 0 };
    this.#jobs.add(job);
    try {
      const rt = await spawned.joined;
      const comm = new Comm(
        rt,
        WORLD_CONTEXT,
        rt.rank,
        Array.from({ length: rt.size }, (_, i) => i),
      );
      job.comm = comm;
      const places = await spawned.until(placesOf(comm));
      spawned.started();
      const place: WorkerPlace = { ...places[0]!, index };
      job.link = new CommLink(comm, 0, RESULT_TAG + this.session, place);
      job.attachedAt = performance.now();
      this.attach(job.link);
    } catch (err) {
      spawned.end((err as Error).message);
      throw err;
    }
  }

  /**
   * A worker's job ended (or failed). Before its worker was attached: its start rejects (see
   * `SpawnedJob.end`). After: its tasks are dealt with (`lost`), and unless the pool is stopping
   * or broken a replacement starts; the pool breaks instead when the dead worker was a
   * replacement that never answered its open message, or the last QUICK_DEATHS workers all died
   * quickly.
   */
  #ended(job: WorkerJob, why: string): void {
    this.#jobs.delete(job);
    if (!job.link) return;
    const answered = this.lost(job.link, why);
    if (this.stopping || this.isBroken) return;
    const quick = !answered || performance.now() - job.attachedAt < QUICK_DEATH_MS;
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
    if (!answered && job.replacement) {
      this.breakExecutor(
        new TsmpiError(
          "ERR_TSMPI_BROKEN",
          `the pool is broken: pool worker ${job.index}, started to replace a worker that died, died too before it was ready (${why})`,
        ),
      );
      return;
    }
    if (this.#quickDeaths >= QUICK_DEATHS) {
      this.breakExecutor(
        new TsmpiError(
          "ERR_TSMPI_BROKEN",
          `the pool is broken: ${QUICK_DEATHS} workers in a row died within ${QUICK_DEATH_MS / 1000} s of their start, the last one pool worker ${job.index} (${why})`,
        ),
      );
      return;
    }
    this.#startJob(job.index, true).catch((err) => {
      this.breakExecutor(
        new TsmpiError(
          "ERR_TSMPI_BROKEN",
          `the pool is broken: the worker started to replace pool worker ${job.index} could not start: ${(err as Error)?.message ?? err}`,
          { cause: err },
        ),
      );
    });
  }

  async #stopJob(job: WorkerJob): Promise<void> {
    await job.spawned.stop(() => job.comm?.isend(null, 0, STOP_TAG));
    this.#jobs.delete(job);
  }
}
