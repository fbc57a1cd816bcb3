/**
 * Running `tsmpirun` from tests: every job has a hard time bound (the launcher's process group
 * is killed when it passes), and a per-job marker variable lets a test prove that no process of
 * the job is left afterwards.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(ROOT, "dist", "launcher", "cli.js");
/** Compiled fixtures (npm test builds first). */
export const FIXTURES = path.join(ROOT, "dist", "test", "fixtures");

export interface JobResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The marker this job's processes carried in their environment. */
  marker: string;
}

export interface JobOptions {
  /** Hard bound; the launcher's process group is SIGKILLed after it (default 60 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** Called with the launcher's pid (to signal it) and the job's marker once started. */
  onStart?: (pid: number, marker: string) => void;
}

/** Runs `tsmpirun ...args` and collects its output. */
export function tsmpirun(args: string[], opts: JobOptions = {}): Promise<JobResult> {
  return run([CLI, ...args], opts);
}

/** Runs plain `node ...args` (no launcher), with the same bounds and bookkeeping. */
export function runNode(args: string[], opts: JobOptions = {}): Promise<JobResult> {
  return runProgram(process.execPath, args, opts);
}

function run(nodeArgs: string[], opts: JobOptions): Promise<JobResult> {
  return runProgram(process.execPath, nodeArgs, opts);
}

/** Runs any program (e.g. `srun`) with the same bounds and bookkeeping. */
export function runProgram(file: string, args: string[], opts: JobOptions = {}): Promise<JobResult> {
  const marker = `TSMPI_TEST_MARK=${crypto.randomBytes(6).toString("hex")}`;
  const [k, v] = marker.split("=") as [string, string];
  const t0 = Date.now();
  const child = spawn(file, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env, [k]: v },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  opts.onStart?.(child.pid!, marker);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin.on("error", () => {});
  child.stdin.end(opts.input ?? "");
  const timer = setTimeout(() => {
    stderr += `\n[test harness: tsmpirun exceeded ${opts.timeoutMs ?? 60000} ms; killed]\n`;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
    for (const pid of leftovers(marker)) killQuietly(pid);
  }, opts.timeoutMs ?? 60000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, marker });
    });
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

/** PIDs of live processes whose environment holds `marker` (NAME=value). */
export function leftovers(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1");
      if (!env.split("\0").includes(marker)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "latin1");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie is already dead
      pids.push(Number(entry));
    } catch {
      /* exited or not ours to read */
    }
  }
  return pids;
}

/** Waits until no process carries `marker` (up to `ms`), then returns the stragglers (should be none). */
export async function settledLeftovers(marker: string, ms = 3000): Promise<number[]> {
  const end = Date.now() + ms;
  let left = leftovers(marker);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = leftovers(marker);
  }
  for (const pid of left) killQuietly(pid);
  return left;
}

/** A compiled fixture's path. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** PIDs of the job's rank processes (those with `TSMPI_RANK` set), among the processes carrying `marker`. */
export function rankPids(marker: string): number[] {
  return leftovers(marker).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").some((e) => e.startsWith("TSMPI_RANK="));
    } catch {
      return false;
    }
  });
}

/** Waits (up to `ms`) until `n` ranks of the job with `marker` run; throws if they do not. */
export async function waitForRankPids(marker: string, n: number, ms = 15000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const pids = rankPids(marker);
    if (pids.length >= n) return pids;
    if (Date.now() > end) throw new Error(`only ${pids.length} of ${n} ranks started within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
