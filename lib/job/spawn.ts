/**
 * Spawning a job and joining it as its parent, as `MPI_Comm_spawn` does: `tsmpirun` starts the
 * children (here, on hosts given to it, or through srun: see `slots.ts`) and this process joins their job as
 * its last rank. What it takes: where the children go (tsmpirun's placement arguments), their
 * program and environment; what it gives: this process's runtime in the children's job, once
 * joined, and the end of the job (tsmpirun's exit, or the runtime losing the job).
 *
 * How: tsmpirun runs with `TSMPI_SPAWN_FD=3` and writes, on that descriptor, one JSON line
 * ({@link SpawnerJoin}) saying how to join once its coordinator listens; this process then
 * attaches (`Runtime.attach`) without taking the job for its own: its environment (`TSMPI_RANK`,
 * ...) and its CPU affinity stay as they were. The children are not bound to cores
 * (`TSMPI_BIND=0`: each job's rank 0 would take the first core). This process holds tsmpirun's
 * stdin open for as long as it lives: its close tells tsmpirun that the parent is gone, and the
 * children stop.
 *
 * tsmpirun and the program it runs come from this install: from source when this library runs
 * from source (tsx; the "tsmpi-source" condition of package.json#exports, or `lib/*.ts` imported
 * by path), else the built copies under `dist/` (see {@link packageFile}). From source,
 * `launcher/cli.ts` runs through tsx, and the children run the program's `.ts` file through tsx
 * with the "tsmpi-source" condition, so that they load the same files as their parent (one copy
 * of tsmpi in each process), and nothing needs building first.
 *
 * Several parents (`Comm.Spawn` over a communicator of P ranks, {@link SpawnOptions.parents}):
 * tsmpirun is told `TSMPI_SPAWN_PARENTS=P` and its job has P ranks after the children's; the
 * process that started it joins as one of them, and the other parents join with the same join
 * line ({@link SpawnedJob.joinLine}, passed on by the caller) through {@link attachSpawner}. The
 * children see `TSMPI_SPAWN_PARENTS` too: their `COMM_WORLD` leaves the parents out.
 *
 * lib/job/ is below the API, so this module gives a `Runtime`, not a `Comm`: the caller (the
 * API side: `PoolExecutor`, `Comm.Spawn` in `lib/spawn.ts`) builds its communicators over it, as
 * the API builds `COMM_WORLD` over the runtime it joined at start-up.
 *
 * Several programs in one job (`MPI_Comm_spawn_multiple`) are started as one MPMD command line
 * (`-n 2 a.js : -n 3 b.js`, `launcher/parts.ts`), so each child's `APPNUM` is its command's index.
 *
 * Not supported yet: `MPI_Info` keys.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { config, numberSetting } from "../config.js";
import { TsmpiError } from "../errors.js";
import { waitPolicy } from "../transport/polling.js";
import { Runtime } from "./runtime.js";
import { universeSlots } from "./slots.js";

/** What tsmpirun writes on `TSMPI_SPAWN_FD` for the process that spawned it to join the job as its last rank. */
export interface SpawnerJoin {
  coordinator: string;
  key: string;
  rank: number;
  size: number;
  /** The job directory (the spawner runs on this host). */
  jobDir: string;
  tcp: boolean;
}

/** Where, what and how many children to start. */
export interface SpawnOptions {
  /** Names the children in messages (`pool worker 3`). */
  name: string;
  /** tsmpirun's arguments that place the children (`--host h:1`, `--launcher slurm`); none: this host. */
  placement: readonly string[];
  /** How many children (tsmpirun's `-n`). */
  count: number;
  /** The program and its arguments (the program as {@link packageFile} gives it, or a user's script). */
  program: readonly string[];
  /**
   * Several programs (`Spawn_multiple`): each with its number of children, in rank order, instead
   * of `count` and `program` (then their sum and the first), and its own placement (`--host`).
   */
  parts?: readonly { count: number; program: readonly string[]; placement?: readonly string[] }[];
  /** Extra environment variables for the children (tsmpirun's `-x`). */
  env: Readonly<Record<string, string>>;
  /**
   * Ranks on this host that share its cores with the children (this process's own job's and
   * its other children): how long the children poll before sleeping, and this process's local
   * size in their job.
   */
  ranksHere: number;
  /**
   * `Comm.Spawn`: how many parent ranks join the job after the children (the children's
   * `COMM_WORLD` leaves them out). Unset: one, which belongs to the children's world (a pool).
   */
  parents?: number;
  /** Which of the parents this process is (its rank among them; default 0). */
  parentRank?: number;
}

/**
 * The MPI universe's size (`MPI_UNIVERSE_SIZE`): `tsmpirun --universe-size N` (`-usize N`), else
 * the slots of the hosts given to tsmpirun (`--host`, `--hostfile`), else the SLURM allocation's
 * tasks, else this host's cores (as Open MPI counts a host without a hostfile).
 */
export function universeSize(): number {
  const set = numberSetting("TSMPI_UNIVERSE_SIZE");
  if (set !== undefined) return set;
  const slots = universeSlots().length;
  if (slots > 0) return slots;
  const tasks = Number(process.env.SLURM_NTASKS);
  if (process.env.SLURM_JOB_ID && Number.isInteger(tasks) && tasks > 0) return tasks;
  return os.availableParallelism();
}

/** Whether this library runs from its TypeScript source (tsx, the "tsmpi-source" condition) rather than from `dist/`. */
export const FROM_SOURCE = /\.[mc]?ts$/.test(fileURLToPath(import.meta.url));

/**
 * A file of tsmpi's install, by its path from the package root: `source` when this library
 * runs from source, else `built`.
 */
export function packageFile(built: string, source: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.resolve("tsmpi/package.json"))), FROM_SOURCE ? source : built);
}

/** The command that runs tsmpirun: its source through tsx, or its built copy. */
function launcherArgv(): string[] {
  const cli = packageFile("dist/launcher/cli.js", "launcher/cli.ts");
  return FROM_SOURCE ? [process.execPath, "--import", import.meta.resolve("tsx"), cli] : [process.execPath, cli];
}

/** Whether every child starts on this host (no placement given, for the job or a part). */
function allHere(opts: SpawnOptions): boolean {
  return opts.placement.length === 0 && !(opts.parts ?? []).some((p) => (p.placement ?? []).length > 0);
}

/** The children's environment: this process's, less what belongs to its own job. */
function childEnv(opts: SpawnOptions): NodeJS.ProcessEnv {
  // Children here: each shares the host with this process's ranks and its other children, so
  // how long it polls before sleeping follows all of them (a bad TSMPI_SPIN_US throws here).
  const wait = waitPolicy(opts.ranksHere);
  // Not bound to a core: each child is a rank 0 of its own job, so all would take the first one.
  const env: NodeJS.ProcessEnv = { ...process.env, TSMPI_SPAWN_FD: "3", TSMPI_BIND: "0" };
  if (allHere(opts) && process.env.TSMPI_SPIN_US === undefined) {
    env.TSMPI_SPIN_US = String(wait.spinUs);
    if (wait.mode === "yield") env.TSMPI_SPIN_MODE = "yield";
  }
  // Not this process's job.
  for (const k of [
    "TSMPI_COORD",
    "TSMPI_RANK",
    "TSMPI_SIZE",
    "TSMPI_JOB_KEY",
    "TSMPI_JOB_DIR",
    "TSMPI_LOCAL_RANK",
    "TSMPI_LOCAL_SIZE",
    "TSMPI_TCP",
    "TSMPI_SPAWN_PARENTS",
  ])
    delete env[k];
  if (opts.parents !== undefined) env.TSMPI_SPAWN_PARENTS = String(opts.parents);
  // From source: the children run tsmpi's source too, through tsx rather than compiled into one
  // bundle (TSMPI_TSX=1), and resolve "tsmpi" to it (the tsmpi-source condition), so that a child
  // holds one copy of tsmpi, the files its parent runs.
  if (FROM_SOURCE) {
    env.TSMPI_TSX = "1";
    if (!/--conditions[= ]tsmpi-source\b/.test(env.NODE_OPTIONS ?? ""))
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --conditions=tsmpi-source`.trim();
  }
  // In an allocation: the children's step is one task on one node, sharing the resources of the
  // step this process runs in (srun's --nodes=1 --overlap; without it the step waits for them).
  if (process.env.SLURM_JOB_ID) Object.assign(env, { SLURM_NNODES: "1", SLURM_OVERLAP: "1" });
  return env;
}

/**
 * A spawned job, from tsmpirun's start to its end. Start it with {@link SpawnedJob.start};
 * `join` resolves with this process's runtime in it. The job ends once (`end`): when tsmpirun
 * exits, when the runtime loses the job, or when the owner ends it; `onEnd` hears why.
 */
export class SpawnedJob {
  readonly child: ChildProcess;
  /** Resolves once tsmpirun exited (or could not start). */
  readonly exited: Promise<void>;
  /** Joins the job (see {@link join}); set by `start`. */
  readonly joined: Promise<Runtime>;
  /** What tsmpirun said on how to join (for the other parents of a `Comm.Spawn`). */
  readonly joinLine: Promise<SpawnerJoin>;
  #ended = false;
  #rt: Runtime | undefined;
  #exitInfo = "";
  /** Rejects what `until` races while the job starts. */
  #failStart: ((err: Error) => void) | undefined;
  readonly #failed: Promise<never>;

  private constructor(
    private readonly opts: SpawnOptions,
    private readonly onEnd: (why: string, code?: number) => void,
  ) {
    const args = [...launcherArgv(), ...opts.placement];
    const exported = Object.entries(opts.env).flatMap(([k, v]) => ["-x", `${k}=${v}`]);
    // Each part of an MPMD line takes its own -x (those before the first program are part 1's).
    for (const [i, part] of (opts.parts ?? [{ count: opts.count, program: opts.program, placement: [] }]).entries()) {
      if (i > 0) args.push(":");
      args.push("-n", String(part.count), ...(part.placement ?? []), ...exported, ...part.program);
    }
    // Our end of its stdin stays open for as long as we live: its close tells tsmpirun we are gone.
    const child = spawn(args[0]!, args.slice(1), { stdio: ["pipe", "inherit", "inherit", "pipe"], env: childEnv(opts) });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.#exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        this.end(`its tsmpirun exited with ${this.#exitInfo}`, code ?? 128 + (os.constants.signals[signal!] ?? 0));
        resolve();
      });
      child.on("error", () => resolve());
    });
    // From the join line on, the job may end before the caller is done starting (its children
    // failed): what `until` races then rejects, instead of waiting forever.
    this.#failed = new Promise<never>((_, reject) => (this.#failStart = reject));
    this.#failed.catch(() => {});
    // A spawned job does not keep this process alive; its owner refs it to wait for its end (`stop`).
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    this.joinLine = this.#readJoinLine();
    this.joinLine.catch(() => {});
    this.joined = this.#join();
    this.joined.catch(() => {});
  }

  /**
   * Starts tsmpirun for `opts`; `onEnd(why, code)` is called once when the job ends (not when
   * the owner stops it with `stop`); `code` is tsmpirun's exit code, or the code the job was
   * aborted with, when known.
   */
  static start(opts: SpawnOptions, onEnd: (why: string, code?: number) => void): SpawnedJob {
    return new SpawnedJob(opts, onEnd);
  }

  /** Whether the job ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** This process's runtime in the job, once joined. */
  get runtime(): Runtime | undefined {
    return this.#rt;
  }

  /**
   * `p`, or a rejection (`ERR_TSMPI_LAUNCH`) if the job ends first, until `started()` is called:
   * for the owner's own start-up steps over the joined runtime.
   */
  until<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#failed]);
  }

  /** The owner's start-up is done: the job's end is no longer a failed start. */
  started(): void {
    this.#failStart = undefined;
  }

  /**
   * Ends the job (once): tsmpirun is stopped (SIGTERM) if it runs, this process leaves the job,
   * a start in progress rejects, and `onEnd(why)` is called.
   */
  end(why: string, code?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.child.exitCode === null && this.child.signalCode === null) signal(this.child, "SIGTERM");
    if (this.#rt) leave(this.#rt);
    this.#failStart?.(
      new TsmpiError("ERR_TSMPI_LAUNCH", `${this.opts.name}'s job ended before the worker started (${why}); its message is above`),
    );
    this.onEnd(why, code);
  }

  /**
   * Stops the job in order: it is marked ended (`onEnd` is not called), `beforeLeave` runs (to
   * tell the children to stop), this process leaves the job, and tsmpirun gets 10 s to exit
   * before SIGTERM. Resolves once tsmpirun exited.
   */
  async stop(beforeLeave: () => void): Promise<void> {
    this.#ended = true;
    this.child.ref();
    try {
      beforeLeave();
      await this.#rt?.finalize();
    } catch {
      /* the children are gone already */
    }
    const timer = setTimeout(() => signal(this.child, "SIGTERM"), 10000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Reads the join line, then joins the job; rejects (`ERR_TSMPI_LAUNCH`) when the job ends first. */
  async #join(): Promise<Runtime> {
    try {
      const join = await this.joinLine;
      if (this.#ended) throw new TsmpiError("ERR_TSMPI_LAUNCH", `${this.opts.name}'s job ended before the worker started`);
      const localSize = allHere(this.opts) ? this.opts.ranksHere : 1;
      const attaching = attachSpawner(join, this.opts.parentRank ?? 0, localSize, (code, why) => this.end(why, code));
      attaching.then(
        (rt) => {
          this.#rt = rt;
          if (this.#ended) leave(rt); // joined after the job ended
        },
        () => {},
      );
      return await this.until(attaching);
    } catch (err) {
      this.end((err as Error).message);
      throw err;
    }
  }

  /** The line tsmpirun writes on descriptor 3 once its coordinator listens. */
  #readJoinLine(): Promise<SpawnerJoin> {
    const child = this.child;
    return new Promise<SpawnerJoin>((resolve, reject) => {
      // In here, so that a bad setting rejects: the job never ends (nor calls onEnd) synchronously in `start`.
      const timeout = config().rendezvousTimeout;
      const pipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
      let text = "";
      const timer = setTimeout(
        () => reject(new TsmpiError("ERR_TSMPI_LAUNCH", `${this.opts.name}'s tsmpirun did not answer within ${timeout} s`)),
        timeout * 1000,
      );
      pipe.setEncoding("utf8");
      pipe.on("data", (d: string) => {
        text += d;
        const nl = text.indexOf("\n");
        if (nl < 0) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(text.slice(0, nl)) as SpawnerJoin);
        } catch (err) {
          reject(err);
        }
        pipe.destroy();
      });
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(new TsmpiError("ERR_TSMPI_LAUNCH", `could not start tsmpirun for ${this.opts.name}: ${err.message}`, { cause: err }));
      });
      child.on("exit", () => {
        clearTimeout(timer);
        reject(
          new TsmpiError(
            "ERR_TSMPI_LAUNCH",
            `${this.opts.name}'s tsmpirun exited (${this.#exitInfo}) before its job started; its message is above`,
          ),
        );
      });
    });
  }
}

/**
 * Joins a spawned job as its parent number `parentRank` (rank `join.rank + parentRank`), with
 * `localSize` ranks sharing this host's cores; `onEnd` hears what ends the job from outside.
 */
export function attachSpawner(
  join: SpawnerJoin,
  parentRank: number,
  localSize: number,
  onEnd: (code: number, why: string) => void,
): Promise<Runtime> {
  return Runtime.attach(
    {
      mode: "tsmpirun",
      rank: join.rank + parentRank,
      size: join.size,
      localRank: 0,
      localSize,
      coordinator: join.coordinator,
      key: join.key,
      jobDir: join.jobDir,
      tcp: join.tcp,
      iface: process.env.TSMPI_IFACE || undefined,
      secure: process.env.TSMPI_INSECURE !== "1",
    },
    onEnd,
  );
}

/**
 * Leaves the job of children that are gone: finalized with linger 0, so what is still queued for
 * them, or waits for their acks, is dropped at once and this process does not wait for them at
 * exit (quietly: their end was reported already).
 */
function leave(rt: Runtime): void {
  rt.finalize(0, true).catch(() => {});
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig);
  } catch {
    /* gone */
  }
}
