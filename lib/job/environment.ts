/**
 * How this process was launched, read from its environment (the `MPI_Init` side of things):
 *
 * - under `tsmpirun` (`TSMPI_COORD` set): locally, over ssh, or through `srun` (then the rank
 *   comes from `SLURM_PROCID`, since one environment serves every task);
 * - as a task started directly by `srun node script.js`: `SLURM_STEP_ID` is set (a batch
 *   script also carries `SLURM_PROCID`, but no step id). Ranks come from `SLURM_PROCID`,
 *   `SLURM_NTASKS`, `SLURM_LOCALID`, `SLURM_NODEID`, `SLURM_STEP_NODELIST`; rank 0 serves the
 *   rendezvous on its host (the step's first node) at the first free one of a few ports
 *   derived from the job and step ids ({@link slurmPorts}; `TSMPI_SLURM_PORT` names one); the
 *   job key comes from the user's secret (`TSMPI_JOB_KEY`, else `~/.config/tsmpi/job-key`, see
 *   {@link userSecret});
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
import { numberSetting, parseInteger } from "../config.js";
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
  /** Proof of membership in the job (removed from the environment once read, see {@link launchInfo}). */
  key: string;
  /** A private directory for ipc:// endpoints shared with the launcher (absent: make one). */
  jobDir?: string;
  /** Whether peers on other hosts exist, so a tcp:// endpoint is needed too. */
  tcp: boolean;
  /** Interface name or subnet to advertise (`TSMPI_IFACE`). */
  iface?: string;
  /** For rank 0 of a direct srun launch: where to serve the rendezvous (this node, the first candidate port). */
  serve?: string;
  /** A direct srun launch: the ports rank 0 tries in turn while one is taken ({@link slurmPorts}). */
  ports?: number[];
  /** Every node of the step (direct srun launch), to find a route to a remote one. */
  nodes?: string[];
  /** Whether traffic between hosts is encrypted (CURVE, TLS; off with `TSMPI_INSECURE=1`). */
  secure: boolean;
  /** The part of an MPMD command line this rank runs (`TSMPI_APPNUM`; absent: 0). */
  appnum?: number;
}

function int(env: NodeJS.ProcessEnv, names: string[], min: number, max: number): number {
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    return parseInteger(name, raw, min, max, { code: "ERR_TSMPI_RENDEZVOUS" });
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

/** How many ports a direct srun launch tries for its rendezvous before giving up. */
export const SLURM_PORT_TRIES = 8;

/**
 * The ports rank 0 of a direct srun launch tries for its rendezvous, in order, below Linux's
 * ephemeral range (10000-29999), per job and step: any user of the node can predict them and
 * hold one (or another job's rendezvous can hash to it), so rank 0 serves on the first it can
 * bind, and ranks try each until one passes the TLS handshake, which only a holder of the job key
 * can (`rendezvous.ts`). `TSMPI_SLURM_PORT` names a single port instead.
 */
export function slurmPorts(jobId: number, stepId: number): number[] {
  const ports: number[] = [];
  for (let i = 0; ports.length < SLURM_PORT_TRIES; i++) {
    const digest = sha256(`tsmpi-srun-port:${jobId}.${stepId}:${i}`);
    const port = 10000 + (digest.readUInt32LE(0) % 20000);
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

/** Where a direct srun launch keeps the user's secret: `$XDG_CONFIG_HOME/tsmpi/job-key` (or ~/.config). */
export function keyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "tsmpi", "job-key");
}

/** The least key material a user's secret holds: 128 bits (see {@link checkSecret}). */
export const MIN_SECRET_BITS = 128;

/**
 * Checks that `secret` holds at least {@link MIN_SECRET_BITS} bits of key material, measured by
 * how it is written: hexadecimal digits count 4 bits each (at least 32 of them), else base64 or
 * base64url characters count 6 bits each (at least 22, `=` padding not counted); anything else
 * (a passphrase, whose strength cannot be told) is refused, as is a string of fewer than 8
 * different characters (`0000...`). `openssl rand -hex 16` or `-base64 16` makes one.
 * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` naming `where` and what was found (never the secret).
 */
export function checkSecret(secret: string, where: string): void {
  const hex = /^[0-9a-fA-F]+$/.test(secret);
  const base64 = /^[A-Za-z0-9+/_-]+={0,2}$/.test(secret);
  const digits = secret.replace(/=+$/, "").length;
  const bits = hex ? digits * 4 : base64 ? digits * 6 : 0;
  const kinds = new Set(secret).size;
  if (bits >= MIN_SECRET_BITS && kinds >= 8) return;
  const found =
    hex || base64
      ? `${digits} ${hex ? "hex digits" : "base64 characters"} (${bits} bits${kinds < 8 ? `, only ${kinds} different characters` : ""})`
      : `${secret.length} characters that are neither hex nor base64`;
  throw new TsmpiError(
    "ERR_TSMPI_RENDEZVOUS",
    `${where} must hold at least ${MIN_SECRET_BITS} bits of random key material, written as at least 32 hex digits or 22 base64 characters (e.g. openssl rand -hex 16), got ${found}`,
  );
}

/**
 * Writes `text` to `file` (mode 0600) as a whole or not at all: under a private name first,
 * then linked into place, so that of ranks starting together on a shared home one file wins and
 * all read it, and a write that fails (ENOSPC) leaves no partial file behind.
 */
function writeKeyFile(fs: typeof import("node:fs"), file: string, text: string): void {
  const temp = `${file}.${os.hostname()}.${process.pid}.tmp`;
  try {
    fs.rmSync(temp, { force: true }); // a leftover of a process that had this pid before
    fs.writeFileSync(temp, text, { mode: 0o600, flag: "wx" });
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !fs.existsSync(file)) throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * The secret only this user knows, from which a direct srun launch (and `tsmpirun` inside an
 * allocation) derives its job key: `TSMPI_JOB_KEY` when set (srun passes the environment to
 * every task), else the key file ({@link keyFilePath}), created on first use with 32 random bytes
 * (64 hex digits), readable by the user alone (0600, in a 0700 directory). Every node of the step
 * must see the same one (a shared home, or the variable). A key file others can read is refused,
 * as ssh refuses such a private key, and so is a secret of less than 128 bits ({@link checkSecret}).
 * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when the file cannot be made, is readable by others or
 *   the secret is too weak.
 */
export function userSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSMPI_JOB_KEY) {
    checkSecret(env.TSMPI_JOB_KEY, "TSMPI_JOB_KEY");
    return env.TSMPI_JOB_KEY;
  }
  const file = keyFilePath(env);
  const fs = lazy("node:fs") as typeof import("node:fs");
  try {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const crypto = lazy("node:crypto") as typeof import("node:crypto");
      writeKeyFile(fs, file, `${crypto.randomBytes(32).toString("hex")}\n`);
    }
    const st = fs.statSync(file);
    if (st.mode & 0o077) {
      throw new TsmpiError(
        "ERR_TSMPI_RENDEZVOUS",
        `the job key file ${file} must be readable by its owner only (mode 600), got mode ${(st.mode & 0o777).toString(8)}; run chmod 600 ${file}`,
      );
    }
    const secret = fs.readFileSync(file, "utf8").trim();
    checkSecret(secret, `the job key file ${file}`);
    return secret;
  } catch (err) {
    if (err instanceof TsmpiError) throw err;
    throw new TsmpiError(
      "ERR_TSMPI_RENDEZVOUS",
      `cannot read or create the job key file ${file} (${(err as Error).message}); set TSMPI_JOB_KEY to a secret instead`,
      { cause: err },
    );
  }
}

/**
 * The job key of `tsmpirun` inside a SLURM allocation: srun carries the tasks' environment in
 * slurmd's RPCs, which are signed but not encrypted, so the key itself never goes there. Only
 * a random `nonce` does (`TSMPI_JOB_NONCE`); each rank mixes it with the user's secret, as
 * tsmpirun did: the 0600 key file ({@link keyFilePath}) every node reads from the shared home,
 * never `TSMPI_JOB_KEY` (which would travel in srun's environment; tsmpirun does not pass it on).
 */
export function allocationKey(secret: string, nonce: string): string {
  return sha256(`tsmpi-allocation-key:${secret}:${nonce}`).toString("hex");
}

/**
 * The job key as this rank reads it, removed from `env` at once (with an allocation's nonce): a
 * rank's environment is inherited by every process it starts, and none of them is the job's (a
 * tsmpirun it starts makes its own).
 */
function takeKey(env: NodeJS.ProcessEnv): string {
  const key = env.TSMPI_JOB_NONCE
    ? allocationKey(userSecret({ ...env, TSMPI_JOB_KEY: "" }), env.TSMPI_JOB_NONCE)
    : (env.TSMPI_JOB_KEY ?? "");
  delete env.TSMPI_JOB_KEY;
  delete env.TSMPI_JOB_NONCE;
  return key;
}

/**
 * Reads how this process was launched. The job key (`TSMPI_JOB_KEY`) is taken out of `env`
 * once read, so that no child process of the rank inherits it.
 */
export function launchInfo(env: NodeJS.ProcessEnv = process.env): LaunchInfo {
  const iface = env.TSMPI_IFACE || undefined;
  if (env.TSMPI_COORD) {
    const size = int(env, ["TSMPI_SIZE"], 1, 2 ** 20);
    const viaSrun = env.TSMPI_RANK === undefined;
    const rank = int(env, viaSrun ? ["SLURM_PROCID"] : ["TSMPI_RANK"], 0, size - 1);
    const local = viaSrun
      ? slurmLocal(env)
      : { localRank: int(env, ["TSMPI_LOCAL_RANK"], 0, size - 1), localSize: int(env, ["TSMPI_LOCAL_SIZE"], 1, size) };
    const appnum = numberSetting("TSMPI_APPNUM", env) ?? 0;
    return {
      mode: "tsmpirun",
      rank,
      size,
      ...local,
      coordinator: env.TSMPI_COORD,
      key: takeKey(env),
      jobDir: env.TSMPI_JOB_DIR || undefined,
      tcp: env.TSMPI_TCP === "1",
      iface,
      secure: env.TSMPI_INSECURE !== "1",
      appnum,
    };
  }
  if (env.SLURM_STEP_ID !== undefined && env.SLURM_PROCID !== undefined) {
    const size = int(env, ["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"], 1, 2 ** 20);
    const rank = int(env, ["SLURM_PROCID"], 0, size - 1);
    const nodes = expandHostlist(env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST ?? os.hostname());
    const jobId = int(env, ["SLURM_JOB_ID", "SLURM_JOBID"], 0, 2 ** 32);
    const stepId = int(env, ["SLURM_STEP_ID", "SLURM_STEPID"], 0, 2 ** 32);
    const port = numberSetting("TSMPI_SLURM_PORT", env);
    const ports = port !== undefined ? [port] : slurmPorts(jobId, stepId);
    // No launcher hands out a secret here: the user's own secret, mixed with the step's identity
    // (so one secret serves every job, and a job's key admits no other job's ranks).
    const key = sha256(`tsmpi-srun-key:${userSecret(env)}:${env.SLURM_CLUSTER_NAME ?? ""}/${jobId}.${stepId}`).toString("hex");
    delete env.TSMPI_JOB_KEY;
    return {
      mode: "srun",
      rank,
      size,
      ...slurmLocal(env),
      coordinator: `tcp:${hostPort(nodes[0]!, ports.join(","))}`,
      key,
      tcp: nodes.length > 1,
      iface,
      serve: rank === 0 ? `tcp:${hostPort(nodes[0]!, ports[0]!)}` : undefined,
      ports,
      nodes,
      secure: env.TSMPI_INSECURE !== "1",
    };
  }
  return { mode: "singleton", rank: 0, size: 1, localRank: 0, localSize: 1, key: "", tcp: false, iface, secure: true };
}
