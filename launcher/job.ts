/**
 * A job: the ranks of one `tsmpirun`, their coordinator, and the rules that end it.
 *
 * mpi4py's `python -m mpi4py` semantics: an uncaught exception or unhandled rejection in any
 * rank, a rank exiting non-zero, a rank killed by a signal, or `comm.abort(code)` ends the whole
 * job: the other ranks are stopped (SIGTERM to each rank's process group, SIGKILL after a grace
 * period), `tsmpirun` says which rank failed and why, and exits with that rank's code (128+signal
 * for a signal). SIGINT/SIGTERM to `tsmpirun` stop every rank (exit 130/143); `--timeout` ends a
 * job that runs too long (exit 124). A rank whose launcher vanishes exits by itself (it loses
 * its coordinator connection).
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RendezvousServer } from "../lib/rendezvous.js";
import { forwardRank, type OutputOptions } from "./output.js";
import { spawnLocal } from "./spawn.js";

/** Exit code when `--timeout` ends a job (as GNU `timeout`). */
export const TIMEOUT_EXIT = 124;
/** Milliseconds between SIGTERM and SIGKILL when stopping ranks. */
const GRACE_MS = 2000;

/** Everything needed to run a job. */
export interface JobOptions {
  np: number;
  /** The command each rank runs (see `programArgv`). */
  argv: string[];
  /** Working directory of the ranks. */
  wdir: string;
  /** Extra environment for the ranks (from `-x`). */
  env: Record<string, string>;
  output: OutputOptions;
  /** Seconds before the job is ended (0: never). */
  timeout: number;
}

interface RankProcess {
  rank: number;
  child: ChildProcess;
  exited: boolean;
  /** Resolves once the rank's output was fully forwarded. */
  drained: Promise<void>;
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}

/** Runs one job to its end and resolves with `tsmpirun`'s exit code. */
export async function runJob(opts: JobOptions): Promise<number> {
  const job = new Job(opts);
  return job.run();
}

class Job {
  private readonly ranks: RankProcess[] = [];
  private readonly dir: string;
  private readonly key = crypto.randomBytes(16).toString("hex");
  private coordinator!: RendezvousServer;
  private exitCode: number | undefined;
  private stopping = false;
  private finish!: (code: number) => void;
  private readonly reasons = new Map<number, string>();
  private aborts = new Map<number, number>();

  constructor(private readonly opts: JobOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-"));
  }

  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.finish = resolve));
    const onSignal = (signal: NodeJS.Signals): void => {
      this.fail(signalExitCode(signal), `tsmpirun: received ${signal}; stopping ${this.liveCount()} rank(s)`, signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    let timer: NodeJS.Timeout | undefined;
    try {
      this.coordinator = await RendezvousServer.listen(`unix:${path.join(this.dir, "coord.sock")}`, this.opts.np, this.key, {
        join: () => this.checkStragglers(),
        abort: (rank, code) => {
          this.aborts.set(rank, code);
          this.fail(code, `tsmpirun: rank ${rank} called abort(${code}); stopping the other ranks`);
        },
        error: (rank, reason) => this.reasons.set(rank, reason),
      });
      if (this.opts.timeout > 0) {
        timer = setTimeout(() => {
          this.fail(TIMEOUT_EXIT, `tsmpirun: the job did not finish within ${this.opts.timeout} s (--timeout); stopping ${this.liveCount()} rank(s)`);
        }, this.opts.timeout * 1000);
      }
      this.spawnAll();
      const code = await done;
      await Promise.race([Promise.all(this.ranks.map((r) => r.drained)), new Promise((r) => setTimeout(r, 1000))]);
      return code;
    } finally {
      clearTimeout(timer);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      this.coordinator?.close();
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private spawnAll(): void {
    const { np, argv, wdir } = this.opts;
    for (let rank = 0; rank < np; rank++) {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...this.opts.env,
        TSMPI_RANK: String(rank),
        TSMPI_SIZE: String(np),
        TSMPI_LOCAL_RANK: String(rank),
        TSMPI_LOCAL_SIZE: String(np),
        TSMPI_COORD: this.coordinator.address,
        TSMPI_JOB_KEY: this.key,
        TSMPI_JOB_DIR: this.dir,
      };
      const child = spawnLocal({ argv, cwd: wdir, env, stdin: rank === 0 });
      const drained = forwardRank(rank, child.stdout!, child.stderr!, this.opts.output);
      const proc: RankProcess = { rank, child, exited: false, drained };
      this.ranks.push(proc);
      if (child.stdin) {
        process.stdin.pipe(child.stdin);
        child.stdin.on("error", () => {});
      }
      child.on("error", (err) => {
        proc.exited = true;
        this.fail(127, `tsmpirun: rank ${rank} could not start ${argv[0]}: ${err.message}`);
        this.checkDone();
      });
      child.on("exit", (code, signal) => this.onExit(proc, code, signal));
    }
  }

  private onExit(proc: RankProcess, code: number | null, signal: NodeJS.Signals | null): void {
    proc.exited = true;
    const { rank, child } = proc;
    const who = `rank ${rank} (pid ${child.pid} on ${os.hostname()})`;
    if (signal) {
      this.fail(signalExitCode(signal), `tsmpirun: ${who} was killed by signal ${signal}; stopping the other ranks`);
    } else if (code !== 0) {
      // The rank's last report (abort, uncaught error) may still be in flight on its coordinator
      // connection: read it before saying why the rank failed.
      setTimeout(() => {
        const why = this.reasons.get(rank);
        if (!this.aborts.has(rank)) this.fail(code!, `tsmpirun: ${who} exited with code ${code}${why ? ` after an ${why}` : ""}; stopping the other ranks`);
        this.checkDone();
      }, 50);
      return;
    } else {
      this.checkStragglers();
    }
    this.checkDone();
  }

  /**
   * A rank that exited before joining while others joined would leave them waiting for it
   * forever: end the job.
   */
  private checkStragglers(): void {
    if (!this.coordinator || this.coordinator.joinedCount === 0 || this.coordinator.joinedCount === this.opts.np) return;
    const gone = this.ranks.find((r) => r.exited && !this.coordinator.hasJoined(r.rank));
    if (gone) {
      this.fail(1, `tsmpirun: rank ${gone.rank} exited without joining the job (did its script import tsmpi?), while other ranks wait for it; stopping them`);
    }
  }

  private liveCount(): number {
    return this.ranks.filter((r) => !r.exited).length;
  }

  /** Records the first failure, reports it, and stops every live rank. */
  private fail(code: number, message: string, signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.exitCode === undefined) {
      this.exitCode = code;
      process.stderr.write(message + "\n");
    }
    if (this.stopping) return;
    this.stopping = true;
    for (const r of this.ranks) if (!r.exited) kill(r.child, signal);
    const hard = setTimeout(() => {
      for (const r of this.ranks) if (!r.exited) kill(r.child, "SIGKILL");
    }, GRACE_MS);
    hard.unref();
    this.checkDone();
  }

  private checkDone(): void {
    if (this.ranks.length === this.opts.np && this.ranks.every((r) => r.exited)) this.finish(this.exitCode ?? 0);
  }
}

/** Signals a rank's whole process group (its children too); ignores ranks already gone. */
function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
