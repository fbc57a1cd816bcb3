/**
 * How the comparison starts jobs: the systems (tsmpi, and mpi4py on Open MPI over shared memory
 * and over TCP), the check that mpi4py and Open MPI are installed (and `--install`), the bench
 * lock shared with other bench runs on the machine, and one launch with a time bound.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(ROOT, "dist", "launcher", "cli.js");
/** Debian's python, which has Debian's mpi4py (a python earlier on PATH may not). */
export const PYTHON = "/usr/bin/python3";
/** The Debian packages the comparison needs. */
export const PACKAGES = ["openmpi-bin", "python3-mpi4py"];

export type SystemId = "tsmpi" | "mpi4py-shm" | "mpi4py-tcp";
export const SYSTEMS: readonly SystemId[] = ["tsmpi", "mpi4py-shm", "mpi4py-tcp"];
export const MPI4PY: readonly SystemId[] = ["mpi4py-shm", "mpi4py-tcp"];

/** How each system is named in tables and legends. */
export const LABEL: Record<SystemId, string> = {
  tsmpi: "tsmpi",
  "mpi4py-shm": "mpi4py shm",
  "mpi4py-tcp": "mpi4py tcp",
};

/** Open MPI's transport per mpi4py system: shared memory (vader) or TCP over loopback. */
const BTL: Record<Exclude<SystemId, "tsmpi">, string[]> = {
  "mpi4py-shm": ["--mca", "btl", "self,vader"],
  "mpi4py-tcp": ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"],
};

/** What a launch runs: a program (with its arguments) on `np` ranks of one system. */
export interface Job {
  system: SystemId;
  np: number;
  /** tsmpi: arguments after `tsmpirun -n N`; mpi4py: arguments after `python3` (a script or `-m mod`). */
  args: string[];
}

/** The command line of a job. */
export function commandLine(job: Job): { file: string; args: string[] } {
  if (job.system === "tsmpi") return { file: process.execPath, args: [CLI, "-n", String(job.np), ...job.args] };
  return { file: "mpiexec", args: ["-n", String(job.np), "--oversubscribe", ...BTL[job.system], PYTHON, ...job.args] };
}

/** The environment of every launch: Open MPI refuses root without these two. */
function environment(): NodeJS.ProcessEnv {
  return { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
}

export interface LaunchResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, milliseconds. */
  ms: number;
  timedOut: boolean;
}

const running = new Set<ChildProcess>();

/** Runs `job` to the end (its process group is killed after `timeoutMs`). */
export function launch(job: Job, timeoutMs: number): Promise<LaunchResult> {
  const { file, args } = commandLine(job);
  const t0 = process.hrtime.bigint();
  const child = spawn(file, args, { cwd: ROOT, env: environment(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on("error", (err) => (stderr += `\n${err.message}`));
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, ms, timedOut });
    });
  });
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    /* gone */
  }
}

/** Ends every launch still running (on Ctrl-C). */
export function killAll(): void {
  for (const child of running) killGroup(child);
}

/** What is there to compare against, or what to install. */
export interface Prerequisites {
  ok: boolean;
  /** Open MPI's and mpi4py's versions when ok. */
  openmpi?: string;
  mpi4py?: string;
  /** Why not, and what to install. */
  problem?: string;
}

/** Checks for Open MPI's mpiexec and Debian's mpi4py (without starting a job). */
export function checkPrerequisites(): Prerequisites {
  const missing: string[] = [];
  let openmpi: string | undefined;
  let mpi4py: string | undefined;
  const mpiexec = spawnSync("mpiexec", ["--version"], { encoding: "utf8" });
  if (mpiexec.status === 0 && /Open ?MPI|OpenRTE/.test(mpiexec.stdout)) openmpi = /(\d+\.\d+\.\d+)/.exec(mpiexec.stdout)?.[1] ?? "unknown";
  else missing.push("openmpi-bin");
  const py = fs.existsSync(PYTHON)
    ? spawnSync(PYTHON, ["-c", "import mpi4py; print(mpi4py.__version__)"], { encoding: "utf8" })
    : undefined;
  if (py?.status === 0) mpi4py = py.stdout.trim();
  else missing.push("python3-mpi4py");
  if (missing.length === 0) return { ok: true, openmpi, mpi4py };
  const found = [
    openmpi ? `Open MPI ${openmpi}` : mpiexec.error ? "no mpiexec on PATH" : "mpiexec is not Open MPI's",
    mpi4py ? `mpi4py ${mpi4py}` : `no mpi4py in ${PYTHON}`,
  ].join(", ");
  return {
    ok: false,
    problem: `mpi4py on Open MPI is needed to compare against (${found}). Install Debian's packages: sudo apt-get install ${missing.join(" ")}  (or, as root: npm run compare -- --install)`,
  };
}

/** `--install`: apt-get the packages (root only). Throws with the reason when it cannot. */
export function installPrerequisites(log: (line: string) => void): void {
  if (process.getuid?.() !== 0) throw new Error(`--install needs root (it runs apt-get); as root: apt-get install ${PACKAGES.join(" ")}`);
  if (spawnSync("apt-get", ["--version"]).status !== 0)
    throw new Error(`--install needs apt-get (Debian or Ubuntu); install Open MPI and mpi4py for ${PYTHON} by hand`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  log("apt-get update");
  execFileSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  log(`apt-get install -y ${PACKAGES.join(" ")}`);
  execFileSync("apt-get", ["install", "-y", "-q", ...PACKAGES], { stdio: "inherit", env });
}

/**
 * The lock that keeps bench runs on one machine from overlapping (`flock FILE`, as the project's
 * bench runs take it). Held by a `flock FILE cat` child for one round of launches at a time, so
 * others' benches run between rounds, never during one. Without `flock`, nothing is locked.
 */
export class BenchLock {
  private holder: ChildProcess | null = null;

  constructor(readonly file: string | null) {}

  /** Resolves once the lock is held. */
  async acquire(): Promise<void> {
    if (!this.file || this.holder) return;
    const child = spawn("flock", [this.file, "sh", "-c", "echo locked; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
    this.holder = child;
    // A flock still waiting would outlive us (it notices its closed stdin only once it holds the lock).
    const end = () => child.kill();
    process.once("exit", end);
    child.once("exit", () => process.off("exit", end));
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code) => reject(new Error(`flock ${this.file} exited with ${code}`)));
      child.stdout!.once("data", () => resolve());
    });
    child.removeAllListeners("exit");
  }

  release(): void {
    this.holder?.stdin?.end();
    this.holder = null;
  }
}

/** Whether `flock` is on PATH. */
export function haveFlock(): boolean {
  return spawnSync("flock", ["--version"]).status === 0;
}

/** Is dist/ older than the sources it is built from (or missing)? */
export function buildIsStale(): boolean {
  if (!fs.existsSync(CLI)) return true;
  const built = fs.statSync(path.join(ROOT, "dist", "lib", "bench.js"), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (/\.ts$/.test(e.name)) t = Math.max(t, fs.statSync(p).mtimeMs);
    }
    return t;
  };
  return ["lib", "launcher", "examples"].some((d) => newest(path.join(ROOT, d)) > built);
}

/**
 * Who holds the lock on `file`, in words, for the line that says the run is waiting: the holder
 * from /proc/locks and, when that process is gone, the processes that still have the file open
 * (a daemon started under `flock` without `-o` keeps the lock for as long as it lives).
 */
export function lockHolder(file: string): string {
  try {
    const st = fs.statSync(file);
    const dev = `${Math.floor(Number(st.dev) / 256)
      .toString(16)
      .padStart(2, "0")}:${(Number(st.dev) % 256).toString(16).padStart(2, "0")}:${st.ino}`;
    const line = fs
      .readFileSync("/proc/locks", "utf8")
      .split("\n")
      .find((l) => l.includes(` ${dev} `) && !l.includes("->"));
    const pid = line?.trim().split(/\s+/)[4];
    if (!pid) return "by nobody visible";
    const cmd = (p: string) => fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 80);
    if (fs.existsSync(`/proc/${pid}`)) return `by pid ${pid} (${cmd(pid)})`;
    const open: string[] = [];
    for (const p of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
      try {
        if (fs.readdirSync(`/proc/${p}/fd`).some((fd) => fs.readlinkSync(`/proc/${p}/fd/${fd}`) === file)) open.push(`${p} (${cmd(p)})`);
      } catch {
        /* not ours to read, or gone */
      }
    }
    return `by pid ${pid}, which has exited; the file is still open in ${open.length ? open.join(", ") : "no process visible here"}`;
  } catch {
    return "by a process not visible here";
  }
}
