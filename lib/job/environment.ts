/**
 * How this process was launched, read from its environment (the `MPI_Init` side of things):
 *
 * - under `tsmpirun` (`TSMPI_COORD` set): locally, over ssh, or through `srun` (then the rank
 *   comes from `SLURM_PROCID`, since one environment serves every task);
 * - as a task started directly by `srun node script.js`: `SLURM_STEP_ID` is set (a batch
 *   script also carries `SLURM_PROCID`, but no step id). Ranks come from `SLURM_PROCID`,
 *   `SLURM_NTASKS`, `SLURM_LOCALID`, `SLURM_NODEID`, `SLURM_STEP_NODELIST`; rank 0 serves the
 *   rendezvous on its host (the step's first node) at a port derived from the job and step
 *   ids (`TSMPI_SLURM_PORT` overrides it); the job key comes from the user's secret
 *   (`TSMPI_JOB_KEY`, else `~/.config/tsmpi/job-key`, see {@link userSecret});
 * - otherwise a world of one.
 *
 * Not supported yet: srun's arbitrary distribution (`-m arbitrary`) where rank 0 is not on the
 * step's first node; PMI/PMIx.
 *
 * @module
 */
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { expandHostlist, expandTasksPerNode } from "./hostlist.js";
import { TsmpiError } from "../errors.js";

/** node:crypto and node:fs, loaded on first use, not at every rank's start. */
const lazy = createRequire(import.meta.url);

/** SHA-256 of `text`. */
export function sha256(text: string): Buffer {
  const crypto = lazy("node:crypto") as typeof import("node:crypto");
  return crypto.createHash("sha256").update(text).digest();
}
import { hostPort } from "./network.js";

/** Everything a rank needs to join its job. */
export interface LaunchInfo {
  mode: "singleton" | "tsmpirun" | "srun";
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  /** The coordinator to join: `unix:PATH` or `tcp:HOST:PORT` (absent for a world of one). */
  coordinator?: string;
  /** Proof of membership in the job. */
  key: string;
  /** A private directory for ipc:// endpoints shared with the launcher (absent: make one). */
  jobDir?: string;
  /** Whether peers on other hosts exist, so a tcp:// endpoint is needed too. */
  tcp: boolean;
  /** Interface name or subnet to advertise (`TSMPI_IFACE`). */
  iface?: string;
  /** For rank 0 of a direct srun launch: where to serve the rendezvous (this node, the port). */
  serve?: string;
  /** Every node of the step (direct srun launch), to find a route to a remote one. */
  nodes?: string[];
  /** Whether traffic between hosts is encrypted (CURVE, TLS; off with `TSMPI_INSECURE=1`). */
  secure: boolean;
}

function int(env: NodeJS.ProcessEnv, names: string[], min: number, max: number): number {
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    }
    return n;
  }
  throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `${names.join(" or ")} is not set`);
}

/** This task's local rank and the number of tasks on its node, from SLURM's variables. */
function slurmLocal(env: NodeJS.ProcessEnv): { localRank: number; localSize: number } {
  const localRank = int(env, ["SLURM_LOCALID"], 0, 2 ** 20);
  const perNode = env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE;
  const node = env.SLURM_NODEID === undefined ? 0 : int(env, ["SLURM_NODEID"], 0, 2 ** 20);
  const counts = perNode ? expandTasksPerNode(perNode) : [];
  return { localRank, localSize: counts[node] ?? localRank + 1 };
}

/** The rendezvous port of a direct srun launch: below Linux's ephemeral range, per job and step. */
export function slurmPort(jobId: number, stepId: number): number {
  return 10000 + ((jobId * 97 + stepId) % 20000);
}

/** Where a direct srun launch keeps the user's secret: `$XDG_CONFIG_HOME/tsmpi/job-key` (or ~/.config). */
export function keyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "tsmpi", "job-key");
}

/**
 * The secret only this user knows, from which a direct srun launch derives its job key:
 * `TSMPI_JOB_KEY` when set (srun passes the environment to every task), else the key file
 * ({@link keyFilePath}), created on first use with 32 random bytes, readable by the user alone
 * (0600, in a 0700 directory). Every node of the step must see the same one (a shared home,
 * or the variable). A key file others can read is refused, as ssh refuses such a private key.
 * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when the file cannot be made or is readable by others.
 */
export function userSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSMPI_JOB_KEY) return env.TSMPI_JOB_KEY;
  const file = keyFilePath(env);
  const fs = lazy("node:fs") as typeof import("node:fs");
  try {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // Written under a private name, then linked into place: of ranks starting together on a
      // shared home, one file wins and all read it.
      const crypto = lazy("node:crypto") as typeof import("node:crypto");
      const temp = `${file}.${os.hostname()}.${process.pid}`;
      fs.writeFileSync(temp, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
      try {
        fs.linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        fs.rmSync(temp, { force: true });
      }
    }
    const st = fs.statSync(file);
    if (st.mode & 0o077) {
      throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `the job key file ${file} must be readable by its owner only (mode 600), got mode ${(st.mode & 0o777).toString(8)}; run chmod 600 ${file}`);
    }
    const secret = fs.readFileSync(file, "utf8").trim();
    if (secret.length < 16) throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `the job key file ${file} must hold a secret of at least 16 characters, got ${secret.length}`);
    return secret;
  } catch (err) {
    if (err instanceof TsmpiError) throw err;
    throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `cannot read or create the job key file ${file} (${(err as Error).message}); set TSMPI_JOB_KEY to a secret instead`, { cause: err });
  }
}

/** Reads how this process was launched. */
export function launchInfo(env: NodeJS.ProcessEnv = process.env): LaunchInfo {
  const iface = env.TSMPI_IFACE || undefined;
  if (env.TSMPI_COORD) {
    const size = int(env, ["TSMPI_SIZE"], 1, 2 ** 20);
    const viaSrun = env.TSMPI_RANK === undefined;
    const rank = int(env, viaSrun ? ["SLURM_PROCID"] : ["TSMPI_RANK"], 0, size - 1);
    const local = viaSrun
      ? slurmLocal(env)
      : { localRank: int(env, ["TSMPI_LOCAL_RANK"], 0, size - 1), localSize: int(env, ["TSMPI_LOCAL_SIZE"], 1, size) };
    return { mode: "tsmpirun", rank, size, ...local, coordinator: env.TSMPI_COORD, key: env.TSMPI_JOB_KEY ?? "", jobDir: env.TSMPI_JOB_DIR || undefined, tcp: env.TSMPI_TCP === "1", iface, secure: env.TSMPI_INSECURE !== "1" };
  }
  if (env.SLURM_STEP_ID !== undefined && env.SLURM_PROCID !== undefined) {
    const size = int(env, ["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"], 1, 2 ** 20);
    const rank = int(env, ["SLURM_PROCID"], 0, size - 1);
    const nodes = expandHostlist(env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST ?? os.hostname());
    const jobId = int(env, ["SLURM_JOB_ID", "SLURM_JOBID"], 0, 2 ** 32);
    const stepId = int(env, ["SLURM_STEP_ID", "SLURM_STEPID"], 0, 2 ** 32);
    const port = env.TSMPI_SLURM_PORT ? int(env, ["TSMPI_SLURM_PORT"], 1, 65535) : slurmPort(jobId, stepId);
    // No launcher hands out a secret here: the user's own secret, mixed with the step's identity
    // (so one secret serves every job, and a job's key admits no other job's ranks).
    const key = sha256(`tsmpi-srun-key:${userSecret(env)}:${env.SLURM_CLUSTER_NAME ?? ""}/${jobId}.${stepId}`).toString("hex");
    return {
      mode: "srun",
      rank,
      size,
      ...slurmLocal(env),
      coordinator: `tcp:${hostPort(nodes[0]!, port)}`,
      key,
      tcp: nodes.length > 1,
      iface,
      serve: rank === 0 ? `tcp:${hostPort(nodes[0]!, port)}` : undefined,
      nodes,
      secure: env.TSMPI_INSECURE !== "1",
    };
  }
  return { mode: "singleton", rank: 0, size: 1, localRank: 0, localSize: 1, key: "", tcp: false, iface, secure: true };
}
