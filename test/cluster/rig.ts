/**
 * The test cluster from TypeScript: fake ssh hosts `node1..nodeN` and a SLURM cluster on them,
 * brought up and down by the scripts beside this file (`up.sh`, `down.sh`; see README.md).
 * Tests use it as
 *
 * ```ts
 * before(async function () {
 *   const avail = await clusterAvailable();
 *   if (!avail.ok) { console.log(`skipping: ${avail.reason}`); this.skip(); }
 *   const up = await rigUp();
 *   if (!up.ok) throw new Error(up.reason);
 * });
 * after(() => rigDown());
 * ```
 *
 * Every child process gets a timeout; on expiry its whole process group is killed (the daemons
 * the scripts start run in their own sessions and are stopped by `rigDown`, by recorded PID).
 *
 * Not supported: running without root, or on anything but Linux with Debian's packages (the
 * scripts need namespaces, sshd on port 22, /etc/hosts, apt/dpkg); several rigs at once on one
 * machine (they would share the host names, the bridge and the SLURM ports).
 *
 * @module
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder of the rig scripts (`test/cluster/`). */
export const RIG_SCRIPTS = fileURLToPath(new URL(".", import.meta.url));

/** The rig's state folder (`TSMPI_CLUSTER_DIR`, default `/tmp/tsmpi-cluster`). */
export const CLUSTER_DIR = process.env.TSMPI_CLUSTER_DIR ?? "/tmp/tsmpi-cluster";

/** The SLURM config of the rig; pass it as `SLURM_CONF` (see {@link rigEnv}). */
export const SLURM_CONF = join(CLUSTER_DIR, "slurm", "slurm.conf");

/** A private ssh client config for the fake hosts, for `ssh -F` when `~/.ssh/config` interferes. */
export const SSH_CONFIG = join(CLUSTER_DIR, "hosts", "ssh_config");

/** What a child process did. */
export interface RunResult {
  /** Exit code, or null when killed by a signal (e.g. on timeout). */
  code: number | null;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
  /** True when the timeout expired and the process group was killed. */
  timedOut: boolean;
}

/** A running rig, as {@link rigUp} reports it. */
export interface RigInfo {
  /** Always true: the rig is up. */
  ok: true;
  /** Host names, `node1..nodeN`. */
  hosts: string[];
  /** Whether SLURM runs on the hosts. */
  slurm: boolean;
  /** `netns` (own network stack per host) or `lo` (shared network, 127.0.0.X per host). */
  mode: "netns" | "lo";
  /** Whether each host reports its own name from `hostname` (false without CAP_SYS_ADMIN). */
  ownHostnames: boolean;
  /** The hosts' /24 subnet, e.g. `10.78.0` (host i is .1X; this machine .1 in netns mode). */
  subnet: string;
}

/** Why something about the rig cannot be done. */
export interface RigUnavailable {
  /** Always false. */
  ok: false;
  /** One line (or a short text) to print, e.g. before `this.skip()`. */
  reason: string;
}

/**
 * Runs a command with a hard timeout; never rejects for a failing command.
 *
 * @param cmd - the program.
 * @param args - its arguments.
 * @param options - `timeoutMs` (required: every spawn is bounded), `env` (default
 *   {@link rigEnv}), `cwd`.
 * @returns exit code, output and whether it timed out. Never rejects: a program that cannot
 *   be spawned gives `code: null` with the error text in `stderr`.
 *
 * @example
 * ```ts
 * const r = await run("ssh", ["node1", "hostname"], { timeoutMs: 15_000 });
 * assert.equal(r.stdout.trim(), "node1");
 * ```
 */
export function run(
  cmd: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: options.env ?? rigEnv(),
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // own process group, so a timeout can kill the scripts' children too
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(err), timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * The environment for commands that talk to the rig: this process's, plus `SLURM_CONF`
 * pointing at the rig's config (needed when `/etc/slurm/slurm.conf` was not free to link).
 *
 * @returns a new environment object.
 *
 * @example
 * ```ts
 * await run("srun", ["-n", "2", "hostname"], { timeoutMs: 60_000, env: rigEnv() });
 * ```
 */
export function rigEnv(): NodeJS.ProcessEnv {
  return { ...process.env, SLURM_CONF };
}

/** The last non-empty line of a text, for short failure reasons. */
function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}

/**
 * Says whether the rig can run here, without changing anything: Linux, root, the packages
 * (`setup.sh --check`) and the commands present, and `TSMPI_SKIP_CLUSTER` not set to `1`.
 *
 * @returns `{ ok: true }`, or `{ ok: false, reason }` to print before skipping.
 *
 * @example
 * ```ts
 * const avail = await clusterAvailable();
 * if (!avail.ok) { console.log(`skipping: ${avail.reason}`); this.skip(); }
 * ```
 */
export async function clusterAvailable(): Promise<{ ok: true } | RigUnavailable> {
  if (process.env.TSMPI_SKIP_CLUSTER === "1") return { ok: false, reason: "TSMPI_SKIP_CLUSTER=1" };
  if (process.platform !== "linux") return { ok: false, reason: `needs Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (namespaces, sshd, /etc/hosts)" };
  const check = await run(join(RIG_SCRIPTS, "setup.sh"), ["--check"], { timeoutMs: 30_000 });
  if (check.code !== 0) {
    return { ok: false, reason: `packages: ${lastLine(`${check.stdout}\n${check.stderr}`)} (run test/cluster/setup.sh)` };
  }
  const cmds = ["ssh", "ssh-keygen", "ip", "srun", "sinfo", "slurmctld", "slurmd", "munged"];
  const which = await run("sh", ["-c", `for c in ${cmds.join(" ")}; do command -v "$c" >/dev/null || echo "$c"; done`], {
    timeoutMs: 10_000,
  });
  const missing = which.stdout.split("\n").filter((l) => l !== "");
  if (which.code !== 0 || missing.length > 0) return { ok: false, reason: `not on PATH: ${missing.join(" ") || which.stderr}` };
  return { ok: true };
}

/**
 * Brings the whole rig up with `test/cluster/up.sh` (tearing down a previous one first).
 *
 * @param options - `timeoutMs` (default 120 s; normal start-up takes 2-3 s), `env` (extra
 *   variables for the scripts, e.g. `{ NODES: "3" }` or `{ WITH_SLURM: "0" }`).
 * @returns {@link RigInfo}, or `{ ok: false, reason }` with the script's reason. The rig is
 *   down again after a failure, except after a timeout: call {@link rigDown} in `after`.
 *
 * @example
 * ```ts
 * const up = await rigUp({ env: { NODES: "3" } });
 * if (!up.ok) throw new Error(up.reason);
 * ```
 */
export async function rigUp(options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RigInfo | RigUnavailable> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const r = await run(join(RIG_SCRIPTS, "up.sh"), [], { timeoutMs, env: { ...rigEnv(), ...options.env } });
  if (r.timedOut) return { ok: false, reason: `up.sh took longer than ${timeoutMs} ms:\n${r.stdout}${r.stderr}` };
  const ready = /^cluster: ready \(hosts: ([^,]*), slurm: (yes|no)\)$/m.exec(r.stdout);
  if (r.code !== 0 || !ready) return { ok: false, reason: lastLine(r.stderr) || `up.sh exited ${r.code}:\n${r.stdout}` };
  const [mode, , subnet, , own] = readFileSync(join(CLUSTER_DIR, "hosts", "mode"), "utf8")
    .trim()
    .split(/\s+/);
  return {
    ok: true,
    hosts: ready[1]!.split(" "),
    slurm: ready[2] === "yes",
    mode: mode === "netns" ? "netns" : "lo",
    ownHostnames: own === "yes",
    subnet: subnet!,
  };
}

/**
 * Takes the rig down with `test/cluster/down.sh`. Safe when nothing is up.
 *
 * @param options - `timeoutMs` (default 60 s; normally 0.3 s).
 * @returns `{ ok: true }`, or `{ ok: false, reason }`.
 *
 * @example
 * ```ts
 * after(async () => { const down = await rigDown(); if (!down.ok) console.log(down.reason); });
 * ```
 */
export async function rigDown(options: { timeoutMs?: number } = {}): Promise<{ ok: true } | RigUnavailable> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const r = await run(join(RIG_SCRIPTS, "down.sh"), [], { timeoutMs });
  if (r.code === 0) return { ok: true };
  return { ok: false, reason: r.timedOut ? `down.sh took longer than ${timeoutMs} ms` : lastLine(`${r.stderr}\n${r.stdout}`) };
}
