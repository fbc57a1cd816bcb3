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
 * free slots (hosts given to tsmpirun: their slots less this job's ranks; a SLURM allocation:
 * `SLURM_NTASKS` less this job's ranks), else `os.availableParallelism()`.
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
 * This process joins each worker's job as `MPI_Comm_spawn`'s parent would, without taking it
 * for its own: its environment (`TSMPI_RANK`, ...) and its CPU affinity stay as they were. The
 * workers are not bound to cores (`TSMPI_BIND=0`: each is rank 0 of its own job, and all
 * would take the first core).
 *
 * Not supported yet: `MPI_Comm_spawn` as an API of its own; growing or shrinking the pool.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Comm } from "../comm.js";
import { config } from "../config.js";
import { TsmpiError, describeValue } from "../errors.js";
import { COMM_WORLD, localRank } from "../index.js";
import { waitPolicy } from "../transport/polling.js";
import { Runtime, WORLD_CONTEXT } from "../job/runtime.js";
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
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an integer >= 1, got ${describeValue(value)}`);
  return n;
}

/** The hosts given to tsmpirun, one entry per slot, less the slots this job's ranks fill. */
function freeSlots(): string[] {
  const universe = process.env.TSMPI_UNIVERSE;
  if (!universe) return [];
  const slots = universe.split(",").flatMap((item) => {
    const [host, n] = item.split(":");
    return new Array<string>(Math.max(1, Number(n) || 1)).fill(host!);
  });
  return slots.slice(Math.min(COMM_WORLD.size, slots.length));
}

/** The default worker count (see the module notes). */
export function defaultWorkers(): number {
  const env = process.env.TSMPI_FUTURES_MAX_WORKERS;
  if (env) return positiveInt(env, "TSMPI_FUTURES_MAX_WORKERS");
  if (process.env.TSMPI_UNIVERSE) return Math.max(1, freeSlots().length);
  const tasks = Number(process.env.SLURM_NTASKS);
  if (process.env.SLURM_JOB_ID && Number.isInteger(tasks) && tasks > 0) return Math.max(1, tasks - COMM_WORLD.size);
  return os.availableParallelism();
}

/** A file of tsmpi's install, by its path from the package root. */
function packageFile(rel: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.resolve("tsmpi/package.json"))), rel);
}

/** One spawned worker: its job's launcher, this process's rank in that job, the channel. */
interface WorkerJob {
  /** Its index in the pool (a replacement takes the index of the worker it replaces). */
  index: number;
  /** It replaces a worker that died. */
  replacement: boolean;
  child: ChildProcess;
  rt?: Runtime;
  comm?: Comm;
  link?: WorkerLink;
  /** When it was attached (performance.now()). */
  attachedAt: number;
  exited: Promise<void>;
  ended: boolean;
  /** Rejects the start when the job ends before its worker is attached. */
  failStart?: (err: Error) => void;
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
    if (opts === null || typeof opts !== "object") throw new TsmpiError("ERR_TSMPI_ARG", `options must be an object, got ${describeValue(opts)}`);
    refuseInTaskModuleLoad("a PoolExecutor");
    super(opts);
    const { modules } = splitTasks(opts.tasks, false);
    const main = mainModuleUrl();
    const init = initializerOption(opts.initializer, opts.initargs);
    if (opts.env !== undefined && (opts.env === null || typeof opts.env !== "object")) throw new TsmpiError("ERR_TSMPI_ARG", `env must be an object of strings, got ${describeValue(opts.env)}`);
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
    if (process.env.SLURM_JOB_ID) return ["--launcher", "slurm", "--oversubscribe"];
    const slots = freeSlots();
    if (slots.length === 0) return [];
    return ["--host", `${slots[this.#placeNext++ % slots.length]}:1`];
  }

  /** Starts worker `index`'s job and joins it; resolves once its worker is attached, rejects when its job ends before. */
  async #startJob(index: number, replacement: boolean): Promise<void> {
    const placement = this.#placement();
    const args = [packageFile("dist/launcher/cli.js"), ...placement, "-n", "1"];
    for (const [k, v] of Object.entries(this.#env)) args.push("-x", `${k}=${v}`);
    // Workers here: each is the only rank of its job, yet shares the host with the pool's other
    // workers and this process, so how long it polls before sleeping follows all of them.
    const ranksHere = localRank().size + this.#count;
    const wait = waitPolicy(ranksHere);
    args.push(packageFile("dist/lib/futures.js"), "--tsmpi-futures-worker");
    // Not bound to a core: each worker is rank 0 of its own job, so all would take the first one.
    const env: NodeJS.ProcessEnv = { ...process.env, TSMPI_SPAWN_FD: "3", TSMPI_BIND: "0" };
    if (placement.length === 0 && process.env.TSMPI_SPIN_US === undefined) {
      env.TSMPI_SPIN_US = String(wait.spinUs);
      if (wait.mode === "yield") env.TSMPI_SPIN_MODE = "yield";
    }
    // Not this process's job.
    for (const k of ["TSMPI_COORD", "TSMPI_RANK", "TSMPI_SIZE", "TSMPI_JOB_KEY", "TSMPI_JOB_DIR", "TSMPI_LOCAL_RANK", "TSMPI_LOCAL_SIZE", "TSMPI_TCP"]) delete env[k];
    // In an allocation: the worker's step is one task on one node, sharing the resources of the
    // step this process runs in (srun's --nodes=1 --overlap; without it the step waits for them).
    if (process.env.SLURM_JOB_ID) Object.assign(env, { SLURM_NNODES: "1", SLURM_OVERLAP: "1" });
    // Our end of its stdin stays open for as long as we live: its close tells tsmpirun we are gone.
    const child = spawn(process.execPath, args, { stdio: ["pipe", "inherit", "inherit", "pipe"], env });
    let exitInfo = "";
    const job: WorkerJob = {
      index,
      replacement,
      child,
      attachedAt: 0,
      ended: false,
      exited: new Promise((resolve) => {
        child.on("exit", (code, signal) => {
          exitInfo = signal ? `signal ${signal}` : `code ${code}`;
          this.#ended(job, `its tsmpirun exited with ${exitInfo}`);
          resolve();
        });
        child.on("error", () => resolve());
      }),
    };
    this.#jobs.add(job);
    // A pool in use does not keep the process alive (an idle one is shut down at beforeExit);
    // stopping it does (see #stopJob).
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const pipe = child.stdio[3] as NodeJS.ReadableStream & { unref?: () => void };
        let text = "";
        const timer = setTimeout(() => reject(new TsmpiError("ERR_TSMPI_LAUNCH", `a worker's tsmpirun did not answer within ${config().rendezvousTimeout} s`)), config().rendezvousTimeout * 1000);
        pipe.setEncoding("utf8");
        pipe.on("data", (d: string) => {
          text += d;
          const nl = text.indexOf("\n");
          if (nl >= 0) {
            clearTimeout(timer);
            resolve(text.slice(0, nl));
            (pipe as unknown as { destroy(): void }).destroy();
          }
        });
        child.on("error", (err) => (clearTimeout(timer), reject(new TsmpiError("ERR_TSMPI_LAUNCH", `could not start tsmpirun for a worker: ${err.message}`, { cause: err }))));
        child.on("exit", () => (clearTimeout(timer), reject(new TsmpiError("ERR_TSMPI_LAUNCH", `a worker's tsmpirun exited (${exitInfo}) before its job started; its message is above`))));
      });
      const join = JSON.parse(line) as { coordinator: string; key: string; rank: number; size: number; jobDir: string; tcp: boolean };
      // From here the worker may die before it is ready (its start-up failed): its job then
      // ends (#ended), and so does this start, instead of waiting for it forever.
      const ended = new Promise<never>((_, reject) => (job.failStart = reject));
      ended.catch(() => {});
      if (job.ended) throw new TsmpiError("ERR_TSMPI_LAUNCH", `pool worker ${index}'s job ended before the worker started`);
      const attaching = Runtime.attach(
        { mode: "tsmpirun", rank: join.rank, size: join.size, localRank: 0, localSize: placement.length === 0 ? ranksHere : 1, coordinator: join.coordinator, key: join.key, jobDir: join.jobDir, tcp: join.tcp, iface: process.env.TSMPI_IFACE || undefined, secure: process.env.TSMPI_INSECURE !== "1" },
        (_code, why) => this.#ended(job, why),
      );
      attaching.then(
        (rt) => {
          job.rt = rt;
          if (job.ended) leave(rt); // joined after the job ended
        },
        () => {},
      );
      const rt = await Promise.race([attaching, ended]);
      const comm = new Comm(rt, WORLD_CONTEXT, rt.rank, Array.from({ length: rt.size }, (_, i) => i));
      job.comm = comm;
      const places = await Promise.race([placesOf(comm), ended]);
      job.failStart = undefined;
      const place: WorkerPlace = { ...places[0]!, index };
      job.link = new CommLink(comm, 0, RESULT_TAG + this.session, place);
      job.attachedAt = performance.now();
      this.attach(job.link);
    } catch (err) {
      this.#ended(job, (err as Error).message);
      throw err;
    }
  }

  /**
   * A worker's job ended (or failed). Before its worker was attached: its start rejects. After:
   * its tasks are dealt with (`lost`), and unless the pool is stopping or broken a replacement
   * starts; the pool breaks instead when the dead worker was a replacement that never answered
   * its open message, or the last QUICK_DEATHS workers all died quickly.
   */
  #ended(job: WorkerJob, why: string): void {
    if (job.ended) return;
    job.ended = true;
    this.#jobs.delete(job);
    if (job.child.exitCode === null && job.child.signalCode === null) killTree(job.child, "SIGTERM");
    if (job.rt) leave(job.rt);
    if (!job.link) {
      job.failStart?.(new TsmpiError("ERR_TSMPI_LAUNCH", `pool worker ${job.index}'s job ended before the worker started (${why}); its message is above`));
      return;
    }
    const answered = this.lost(job.link, why);
    if (this.stopping || this.isBroken) return;
    const quick = !answered || performance.now() - job.attachedAt < QUICK_DEATH_MS;
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
    if (!answered && job.replacement) {
      this.breakExecutor(new TsmpiError("ERR_TSMPI_BROKEN", `the pool is broken: pool worker ${job.index}, started to replace a worker that died, died too before it was ready (${why})`));
      return;
    }
    if (this.#quickDeaths >= QUICK_DEATHS) {
      this.breakExecutor(new TsmpiError("ERR_TSMPI_BROKEN", `the pool is broken: ${QUICK_DEATHS} workers in a row died within ${QUICK_DEATH_MS / 1000} s of their start, the last one pool worker ${job.index} (${why})`));
      return;
    }
    this.#startJob(job.index, true).catch((err) => {
      this.breakExecutor(new TsmpiError("ERR_TSMPI_BROKEN", `the pool is broken: the worker started to replace pool worker ${job.index} could not start: ${(err as Error)?.message ?? err}`, { cause: err }));
    });
  }

  async #stopJob(job: WorkerJob): Promise<void> {
    job.ended = true;
    job.child.ref();
    try {
      job.comm?.isend(null, 0, STOP_TAG);
      await job.rt?.finalize();
    } catch {
      /* the worker is gone already */
    }
    const timer = setTimeout(() => killTree(job.child, "SIGTERM"), 10000);
    await job.exited;
    clearTimeout(timer);
    this.#jobs.delete(job);
  }
}

/**
 * Leaves the job of a worker that is gone: finalized with linger 0, so what is still queued for
 * it, or waits for its acks, is dropped at once and this process does not wait for it at exit
 * (quietly: the worker's end was reported already).
 */
function leave(rt: Runtime): void {
  rt.finalize(0, true).catch(() => {});
}

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    /* gone */
  }
}
