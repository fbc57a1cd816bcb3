/**
 * Running `tsmpirun` from tests: every job has a hard time bound (the launcher's process group
 * is killed when it passes, and the result says so: a hang is a failure), and a per-job marker
 * variable lets a test prove that no process of the job is left afterwards. {@link checkJob}
 * asserts all three (exit status, no timeout, no leftovers) in one call.
 */
import assert from "node:assert/strict";
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
  /** The harness killed the job at its time bound (it hung). */
  timedOut: boolean;
  /** Processes of the job still alive when the harness killed it at its time bound. */
  leftAtTimeout: number[];
}

export interface JobOptions {
  /** Hard bound; the launcher's process group is SIGKILLed after it (default 60 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** Called with the launcher's pid (to signal it) and the job's marker once started. */
  onStart?: (pid: number, marker: string) => void;
  /** Do not read the job's stdout until its stderr matches this (a stalled reader). */
  holdStdoutUntil?: RegExp;
  /** Close the job's stdout once this many characters came through (a reader that exits, as `| head`). */
  closeStdoutAfter?: number;
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
  let timedOut = false;
  let leftAtTimeout: number[] = [];
  let reading = false;
  const readStdout = (): void => {
    if (reading) return;
    reading = true;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (opts.closeStdoutAfter !== undefined && stdout.length >= opts.closeStdoutAfter) child.stdout.destroy();
    });
  };
  if (!opts.holdStdoutUntil) readStdout();
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    if (opts.holdStdoutUntil?.test(stderr)) readStdout();
  });
  child.stdin.on("error", () => {});
  child.stdin.end(opts.input ?? "");
  const timer = setTimeout(() => {
    timedOut = true;
    stderr += `\n[test harness: the job exceeded ${opts.timeoutMs ?? 60000} ms; killed]\n`;
    leftAtTimeout = leftovers(marker);
    stderr += describeProcesses(leftAtTimeout);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
    for (const pid of leftAtTimeout) killQuietly(pid);
    readStdout();
  }, opts.timeoutMs ?? 60000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, marker, timedOut, leftAtTimeout });
    });
  });
}

/**
 * Asserts what every multi-process test must: the job ended by itself within its time bound
 * (a hang fails), with exit status `code` (default 0), and no process of it is left.
 */
export async function checkJob(r: JobResult, code = 0, settleMs = 3000): Promise<void> {
  assert.equal(
    r.timedOut,
    false,
    `the job hung (killed by the test harness after ${r.ms} ms); stdout:\n${r.stdout.slice(-1500)}\nstderr:\n${r.stderr.slice(-3000)}`,
  );
  assert.equal(
    r.code,
    code,
    `exit code ${r.code}${r.signal ? ` (signal ${r.signal})` : ""}, expected ${code}; stderr:\n${r.stderr.slice(-3000)}`,
  );
  assert.deepEqual(await settledLeftovers(r.marker, settleMs), [], "no process of the job may be left");
}

/**
 * One line per process of a hung job, for the failure message: pid, the rank it was (if any),
 * its state, where the kernel has it waiting, its CPU seconds and its command (so a hang in CI
 * says whether ranks spun, slept in the event loop or were stopped).
 */
function describeProcesses(pids: number[]): string {
  const lines = pids.map((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const hz = 100;
      const cpu = ((Number(fields[11]) + Number(fields[12])) / hz).toFixed(2);
      const rank =
        fs
          .readFileSync(`/proc/${pid}/environ`, "latin1")
          .split("\0")
          .find((e) => e.startsWith("TSMPI_RANK=")) ?? "launcher";
      const wchan = fs.readFileSync(`/proc/${pid}/wchan`, "latin1");
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim().slice(0, 120);
      return `  pid ${pid} ${rank} state ${fields[0]} wchan ${wchan || "-"} cpu ${cpu} s: ${cmd}`;
    } catch {
      return `  pid ${pid}: gone`;
    }
  });
  return lines.length > 0 ? `[test harness: processes of the job when it was killed]\n${lines.join("\n")}\n` : "";
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

/** The lines of `text` that are JSON objects, parsed (what fixtures print for the test). */
// biome-ignore lint/suspicious/noExplicitAny: each fixture prints its own fields, which the test files read directly (faults, futures, launcher, robustness, soak, shm, cluster, security); typing them belongs with those callers
export function jsonLines(text: string): any[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

/** A compiled fixture's path. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** PIDs of the job's rank processes (those with `TSMPI_RANK` set), among the processes carrying `marker`. */
export function rankPids(marker: string): number[] {
  return leftovers(marker).filter((pid) => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/environ`, "latin1")
        .split("\0")
        .some((e) => e.startsWith("TSMPI_RANK="));
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
