/**
 * What tsmpirun tells each rank through its environment: the job's size, coordinator and key, the
 * rank's place (`TSMPI_RANK`, `TSMPI_LOCAL_RANK`, ...; the internal variables of `lib/config.ts`),
 * the user's `-x` variables, and for an MPMD job its part; and what of tsmpirun's own environment
 * the ranks inherit.
 *
 * @module
 */
import { rankProgram, type AgentOptions } from "./agents.js";
import type { Placement } from "./plan.js";

/** The facts of a started job that its ranks' environment carries. */
export interface JobFacts {
  /** Ranks in the job, the spawner's included. */
  size: number;
  /** Where ranks reach the coordinator. */
  coordinator: string;
  /** The job key (not sent when {@link nonce} is: ranks in an allocation derive it). */
  key: string;
  /** The random part of an allocation's key (SLURM), or undefined. */
  nonce: string | undefined;
  /** The job's private directory on this host. */
  dir: string;
}

/** The launch options the environment depends on (a `JobOptions` is one). */
export interface EnvOptions extends AgentOptions {
  iface?: string;
  insecure?: boolean;
  heartbeatTimeout?: number;
  /** `Comm.Spawn`'s parents joining after the ranks (`TSMPI_SPAWN_PARENTS`, see `job.ts`). */
  spawners?: number;
}

/** Variables every rank gets. */
export function commonEnv(opts: EnvOptions, job: JobFacts): Record<string, string> {
  const { plan, iface } = opts;
  // (Only tsmpirun started by the allocation's script: in a step, as a spawn's, SLURM_NTASKS is the step's.)
  const tasks = process.env.SLURM_STEP_ID === undefined ? Number(process.env.SLURM_NTASKS) : NaN;
  return {
    // In an allocation, its tasks (MPI_UNIVERSE_SIZE; a rank's SLURM_NTASKS counts only its step), unless -usize gave one.
    ...(plan.mode === "slurm" && Number.isInteger(tasks) && tasks > 0 ? { TSMPI_UNIVERSE_SIZE: String(tasks) } : {}),
    ...opts.env,
    TSMPI_SIZE: String(job.size),
    TSMPI_COORD: job.coordinator,
    ...(job.nonce ? { TSMPI_JOB_NONCE: job.nonce } : { TSMPI_JOB_KEY: job.key }),
    // Ranks on other hosts give up on a launcher silent this long, as it gives up on them.
    TSMPI_HEARTBEAT_TIMEOUT: String(opts.heartbeatTimeout ?? 10),
    TSMPI_TCP: plan.mode === "local" || (plan.mode === "slurm" && plan.nodes.length < 2) ? "0" : "1",
    ...(opts.insecure ? { TSMPI_INSECURE: "1" } : {}),
    ...(iface ? { TSMPI_IFACE: iface } : {}),
    // Spawned children leave their parents out of COMM_WORLD; ranks on other hosts do not inherit it.
    ...(opts.spawners !== undefined ? { TSMPI_SPAWN_PARENTS: String(opts.spawners) } : {}),
    // The hosts given and their slots (the MPI universe), where a PoolExecutor places its workers.
    ...(plan.mode !== "slurm" && plan.universe?.length
      ? { TSMPI_UNIVERSE: plan.universe.map((u) => `${u.host}:${u.slots}`).join(",") }
      : {}),
  };
}

/** The variables of the rank placed at `p`: the common ones, its place, and its MPMD part's. */
export function rankEnv(opts: EnvOptions, job: JobFacts, p: Placement): Record<string, string> {
  // An MPMD job: the part's -x variables, and which part (APPNUM).
  const part = opts.parts ? rankProgram(opts, p.rank) : undefined;
  return {
    ...part?.env,
    ...commonEnv(opts, job),
    ...(part ? { TSMPI_APPNUM: String(part.appnum) } : {}),
    TSMPI_RANK: String(p.rank),
    TSMPI_LOCAL_RANK: String(p.localRank),
    TSMPI_LOCAL_SIZE: String(p.localSize),
    // Ranks of this host name tsmpirun as the one process that may read their memory (`transport/host.ts`).
    ...(p.local ? { TSMPI_JOB_DIR: job.dir, TSMPI_LAUNCHER_PID: String(process.pid) } : {}),
  };
}

/** tsmpirun's environment without what was meant for tsmpirun alone. */
export function parentEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TSMPI_SPAWN_FD;
  // A tsmpirun started by a rank of an MPMD job: its ranks' part is their own (set per rank, or 0).
  delete env.TSMPI_APPNUM;
  return env;
}
