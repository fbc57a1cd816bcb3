/**
 * Spawning (`MPI_Comm_spawn`, `MPI_Comm_spawn_multiple`, `MPI_Comm_get_parent`,
 * `MPI_Comm_disconnect`) behind `comm.Spawn`, `comm.Spawn_multiple`, `Comm.Get_parent()` and
 * `comm.Disconnect()` (`comm.ts` declares them; this module fills `spawning` when `index.ts`
 * loads it). `MPI_UNIVERSE_SIZE` is `universeSize()` of `job/spawn.ts`, below the API, so that
 * any layer may read it.
 *
 * How the two sides meet: the root starts `tsmpirun` for the children through `SpawnedJob`
 * (`job/spawn.ts`, the mechanism PoolExecutor's workers use too), with `TSMPI_SPAWN_PARENTS=P`
 * for the P ranks of the spawning communicator: the children's job has the children as ranks
 * 0..n-1 and the parents as ranks n..n+P-1. The root broadcasts tsmpirun's join line over the
 * communicator, and every parent joins the children's job beside its own (`attachSpawner`). The
 * intercommunicator lives in that job, on {@link SPAWN_CONTEXT}: a job of its own, so the context
 * is new to both sides without an agreement, and the communicators made from it (`Merge`, `dup`)
 * derive theirs from it in the order MPI requires. The children's `COMM_WORLD` leaves the
 * parents out (`index.ts`). The children inherit the job's security: a fresh job key, the
 * parents' environment (and so `TSMPI_INSECURE`, the user's secret inside an allocation).
 *
 * Lifetimes, as Open MPI's: parents and children are connected until `Disconnect()`, or the
 * end of a script still connected, which disconnects as MPI_Finalize does (a parent's at
 * `beforeExit`, a child's in `Runtime.beforeFinalize`): the children's job does not end before
 * (its tsmpirun waits for the parents' bye). A failing child (uncaught error, non-zero exit, killed)
 * ends the children's job, and then the parents' job too, with its exit code (Open MPI's mpirun
 * aborts every job it started when one process fails). The parents' job ends only once the
 * children's has: the root's process waits for it after its script finished, as mpirun waits for
 * every job it spawned; the other parents exit once disconnected.
 *
 * Where the children run ({@link placementOf}): on the free slots of the job's hosts (over ssh),
 * through srun inside an allocation with free tasks, or here; the parents join from the root's host,
 * where the children's tsmpirun runs (its coordinator listens on TCP when children are remote).
 *
 * Not supported yet: spawning from ranks on several hosts (every rank of the spawning
 * communicator must be on one host), `MPI_Info` keys (`host`, `wdir`, ...),
 * `MPI_Comm_accept`/`connect`/`join`.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { type Comm, spawning, type SpawnRequest } from "./comm.js";
import { numberSetting } from "./config.js";
import { TsmpiError, describeValue, type TsmpiErrorCode } from "./errors.js";
import { Intercomm } from "./intercomm.js";
import type { Runtime } from "./job/runtime.js";
import { countHosts, freeSlots, freeTasks, hostArgs, SRUN_PLACEMENT } from "./job/slots.js";
import { SpawnedJob, attachSpawner, type SpawnerJoin } from "./job/spawn.js";

/** Context id of the intercommunicator between parents and children, in the children's job (its collectives use id + 1). */
export const SPAWN_CONTEXT = 6;

/** One command of a spawn: `maxprocs` ranks run `command` with `args`. */
interface App {
  command: string;
  args: string[];
  maxprocs: number;
}

function checkCount(value: unknown, name: string): number {
  if (Number.isSafeInteger(value) && (value as number) >= 1) return value as number;
  throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an integer >= 1, got ${describeValue(value)}`);
}

function checkArgs(value: unknown, name: string): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value) && value.every((a) => typeof a === "string")) return [...value];
  throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of strings or null, got ${describeValue(value)}`);
}

/** A list argument of `Spawn_multiple`: one entry per command, or one value for all (`single`). */
function perCommand<T>(value: unknown, n: number, name: string, single: (v: unknown) => boolean, each: (v: unknown, i: number) => T): T[] {
  if (Array.isArray(value)) {
    if (value.length !== n) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must have one entry per command (${n}), got ${value.length}`);
    return value.map(each);
  }
  if (!single(value)) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of ${n} entries, got ${describeValue(value)}`);
  return Array.from({ length: n }, (_, i) => each(value, i));
}

/** The commands of a spawn, checked (at the root: the arguments count there only). */
function checkApps(req: SpawnRequest): App[] {
  if (!req.multiple) {
    if (typeof req.command !== "string" || req.command === "")
      throw new TsmpiError("ERR_TSMPI_ARG", `command must be a non-empty string, got ${describeValue(req.command)}`);
    checkInfo(req.info, "info");
    return [{ command: req.command, args: checkArgs(req.args, "args"), maxprocs: checkCount(req.maxprocs, "maxprocs") }];
  }
  const cmds = req.command;
  if (!Array.isArray(cmds) || cmds.length === 0 || !cmds.every((c) => typeof c === "string" && c !== "")) {
    throw new TsmpiError("ERR_TSMPI_ARG", `command must be a non-empty array of commands (strings), got ${describeValue(cmds)}`);
  }
  const n = cmds.length;
  const args = perCommand(
    req.args,
    n,
    "args",
    (v) => v === null || v === undefined,
    (v, i) => checkArgs(v, `args[${i}]`),
  );
  const maxprocs = perCommand(
    req.maxprocs,
    n,
    "maxprocs",
    (v) => v === null || v === undefined || typeof v === "number",
    (v, i) => (v === null || v === undefined ? 1 : checkCount(v, `maxprocs[${i}]`)),
  );
  perCommand(
    req.info,
    n,
    "info",
    () => true,
    (v, i) => checkInfo(v, `info[${i}]`),
  );
  return cmds.map((command, i) => ({ command, args: args[i]!, maxprocs: maxprocs[i]! }));
}

/** `info`: hints, ignored (`null`, `undefined`, an object or a Map, as mpi4py's `INFO_NULL` or `Info`). */
function checkInfo(value: unknown, name: string): void {
  if (value === null || value === undefined || typeof value === "object") return;
  throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be null or an object of hints, got ${describeValue(value)}`);
}

/** tsmpirun's program arguments for `command`, checked to exist: a script, a program, or `-m module`. */
function programOf(command: string): string[] {
  const module = /^-m\s+(\S+)$/.exec(command);
  if (module) return ["-m", module[1]!];
  const file = path.resolve(command);
  if (/\.[cm]?[jt]s$/i.test(command) || command.includes("/")) {
    if (!fs.existsSync(file)) throw new TsmpiError("ERR_TSMPI_LAUNCH", `command ${JSON.stringify(command)} does not exist (${file})`);
    return [command];
  }
  const onPath = (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir || ".", command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!onPath)
    throw new TsmpiError(
      "ERR_TSMPI_LAUNCH",
      `command ${JSON.stringify(command)} does not exist (not a script here, nor a program on PATH)`,
    );
  return [command];
}

/** What the root tells the other parents: how to join the children's job, or why it failed. */
type Told = { join: SpawnerJoin; np: number; what: string } | { code: TsmpiErrorCode; message: string };

/** One spawn, seen from a parent: its state, and what it does when the children's job ends. */
class Link {
  ready = false;
  disconnected = false;
  rt: Runtime | undefined;
  job: SpawnedJob | undefined;
  #fail!: (err: Error) => void;
  /** Rejects when the children's job ends before the intercommunicator is ready. */
  readonly failed = new Promise<never>((_, reject) => (this.#fail = reject));

  constructor(
    private readonly own: Runtime,
    private readonly rank: number,
    /** The command, for messages (the root's: the others learn it with the join line). */
    public what: string,
  ) {
    this.failed.catch(() => {});
  }

  /** The children's job ended (`code`: its exit or abort code, when known). */
  ended(why: string, code: number | undefined): void {
    if (!this.ready) {
      this.#fail(new TsmpiError("ERR_TSMPI_LAUNCH", `Spawn: the children (${this.what}) could not start: ${why}`));
      return;
    }
    if (code === undefined || code === 0 || (this.disconnected && !this.job)) return;
    // As Open MPI's mpirun: a process of a spawned job that fails ends every job.
    process.stderr.write(`tsmpi: rank ${this.rank}: the ranks it spawned (${this.what}) failed: ${why}; ending this job too\n`);
    this.own.abort(code, `rank ${this.rank}: its spawned ranks (${this.what}) failed`);
  }

  /** Leaves the children's job (Disconnect, or the end of the script); the root's process waits for the job's end. */
  async leave(): Promise<void> {
    if (this.disconnected) return;
    this.disconnected = true;
    this.job?.child.ref();
    await this.rt?.finalize().catch(() => {});
  }
}

/** The spawn intercommunicators of this process's parents, by intercommunicator. */
const links = new WeakMap<Comm, Link>();
/** The spawns still connected here: the end of the script disconnects them (MPI_Finalize does). */
const connected = new Map<Link, Intercomm>();
process.on("beforeExit", () => {
  for (const [link, inter] of connected) {
    connected.delete(link);
    void implicitDisconnect(inter, () => link.leave());
  }
});

/**
 * The Disconnect that the end of a script does (MPI_Finalize disconnects): the barrier with the
 * other side (which disconnects too, explicitly or at its end), then `leave`. Its pending barrier
 * keeps the process alive.
 */
async function implicitDisconnect(inter: Intercomm, leave: () => Promise<void>): Promise<void> {
  try {
    await inter.Disconnect();
  } catch {
    /* the other side is gone: its end was reported */
  }
  await leave();
}

/** The size of this process's `COMM_WORLD` (set by {@link spawnedWorld}): the slots its ranks hold. */
let worldSize = 1;

/**
 * Where the children go (the rule of `job/slots.ts`, as a PoolExecutor's workers): on the free
 * slots of the hosts given to tsmpirun (the slots after `COMM_WORLD`'s; children beyond them on
 * this host), else through srun when the SLURM allocation has tasks beyond `COMM_WORLD`'s, else
 * here. Gives tsmpirun's job arguments, and each command's (`--host`, so that the parts of a
 * `Spawn_multiple` take the slots in rank order).
 */
function placementOf(counts: readonly number[]): { job: string[]; parts: string[][] } {
  const free = freeSlots(worldSize);
  if (free.length > 0) {
    const hosts = Array.from({ length: counts.reduce((a, b) => a + b, 0) }, (_, i) => free[i] ?? "localhost");
    // Each command names its hosts with the slots the whole spawn takes there, so that tsmpirun,
    // which fills the parts' slots part after part, gives each its own in rank order.
    const total = countHosts(hosts);
    const starts = counts.map((_, k) => counts.slice(0, k).reduce((a, b) => a + b, 0));
    return { job: [], parts: counts.map((n, k) => hostArgs(hosts.slice(starts[k], starts[k]! + n), total)) };
  }
  const parts = counts.map(() => []);
  if ((freeTasks(worldSize) ?? 0) > 0) return { job: [...SRUN_PLACEMENT], parts };
  return { job: ["--launcher", "local"], parts };
}

/** The root's part: checks, starts tsmpirun, and waits for its join line. */
async function launch(req: SpawnRequest, comm: Comm, rt: Runtime, link: Link, root: number): Promise<Told> {
  try {
    const apps = checkApps(req);
    // Several commands run as the parts of one MPMD line, each child's APPNUM its command's index.
    const place = placementOf(apps.map((a) => a.maxprocs));
    const parts = apps.map((a, k) => ({ count: a.maxprocs, program: [...programOf(a.command), ...a.args], placement: place.parts[k] }));
    const np = apps.reduce((n, a) => n + a.maxprocs, 0);
    const job = SpawnedJob.start(
      {
        name: `Spawn of ${apps.map((a) => a.command).join(", ")}`,
        placement: place.job,
        count: np,
        program: parts[0]!.program,
        parts,
        env: {},
        ranksHere: rt.localSize + np,
        parents: comm.size,
        parentRank: root,
      },
      (why, code) => link.ended(why, code),
    );
    link.job = job;
    if (Array.isArray(req.errcodes))
      req.errcodes.splice(
        0,
        req.errcodes.length,
        ...(req.multiple ? apps.map((a) => new Array<number>(a.maxprocs).fill(0)) : new Array<number>(np).fill(0)),
      );
    return { join: await job.joinLine, np, what: link.what };
  } catch (err) {
    const e = err instanceof TsmpiError ? err : new TsmpiError("ERR_TSMPI_INTERNAL", String(err), { cause: err });
    return { code: e.code, message: e.message };
  }
}

/** `comm.Spawn` / `comm.Spawn_multiple` (checked by `comm.ts`: an intracommunicator, a valid root). */
async function spawn(comm: Comm, rt: Runtime, req: SpawnRequest, root: number): Promise<Intercomm> {
  const group = comm.worldRanks;
  const here = rt.hosts[group[root]!];
  const away = group.find((w) => rt.hosts[w] !== here);
  if (away !== undefined) {
    throw new TsmpiError(
      "ERR_TSMPI_LAUNCH",
      `Spawn from ranks on several hosts is not supported yet: world rank ${away} runs on ${rt.hosts[away]}, the root on ${here} (spawn from a communicator of one host, e.g. Split_type(COMM_TYPE_SHARED))`,
    );
  }
  const link = new Link(rt, comm.rank, String(req.multiple ? (req.command as string[])[0] : req.command));
  const told: Told | null = comm.rank === root ? await launch(req, comm, rt, link, root) : null;
  const got = await comm.bcast(told, root);
  if (!got || "code" in got) {
    link.job?.end("the spawn failed");
    throw new TsmpiError(
      got?.code ?? "ERR_TSMPI_INTERNAL",
      `${req.multiple ? "Spawn_multiple" : "Spawn"}: ${got?.message ?? "the root sent nothing"}`,
    );
  }
  try {
    const joining = link.job
      ? link.job.joined
      : attachSpawner(got.join, comm.rank, rt.localSize + got.np, (code, why) => link.ended(why, code));
    link.what = got.what;
    link.rt = await Promise.race([joining, link.failed]);
    link.job?.started();
  } catch (err) {
    link.job?.end((err as Error).message);
    throw err;
  }
  link.ready = true;
  const parents = Array.from({ length: comm.size }, (_, i) => got.np + i);
  const children = Array.from({ length: got.np }, (_, i) => i);
  const inter = new Intercomm({ rt: link.rt, ctx: SPAWN_CONTEXT, rank: comm.rank, group: parents }, children);
  links.set(inter, link);
  connected.set(link, inter);
  return inter;
}

/** `comm.Disconnect()` after its barrier: a parent leaves the children's job; a child forgets its parent. */
async function disconnect(comm: Comm): Promise<void> {
  if (comm === spawning.parent) spawning.parent = null;
  const link = links.get(comm);
  if (link) connected.delete(link);
  await link?.leave();
}

/**
 * A spawned child's `COMM_WORLD` size and parent intercommunicator (`index.ts`): the job's last
 * `TSMPI_SPAWN_PARENTS` ranks are the parents.
 */
export function spawnedWorld(rt: Runtime): { size: number; parent: Intercomm | null } {
  const parents = rt.mode === "tsmpirun" ? numberSetting("TSMPI_SPAWN_PARENTS") : undefined;
  worldSize = rt.size;
  if (parents === undefined || parents >= rt.size) return { size: rt.size, parent: null };
  const size = rt.size - parents;
  worldSize = size;
  const group = Array.from({ length: size }, (_, i) => i);
  const remote = Array.from({ length: parents }, (_, i) => size + i);
  const parent = new Intercomm({ rt, ctx: SPAWN_CONTEXT, rank: rt.rank, group }, remote);
  // A child that finishes still connected disconnects first (MPI_Finalize does).
  rt.beforeFinalize.push(() => (spawning.parent === parent ? implicitDisconnect(parent, async () => {}) : Promise.resolve()));
  return { size, parent };
}

spawning.spawn = spawn;
spawning.disconnect = disconnect;
