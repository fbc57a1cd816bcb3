/**
 * The heartbeat of a remote host: one `ssh` per host running a small POSIX shell loop that,
 * every second, prints the scheduler state of each of the job's rank processes there (read from
 * `/proc/<pid>/stat` with shell builtins only) and then a beat line. tsmpirun reads it and tells
 * the job when
 *
 * - no beat has come for `silentMs`: the host's link is down, or the host (its sshd and its
 *   ranks) is frozen, or it crashed, which no exit status ever reports;
 * - a rank has been stopped by a signal (state `T`, SIGSTOP/SIGTSTP) for `stoppedMs`: it
 *   answers no other rank, and they would wait for it forever.
 *
 * It watches processes, not event loops: a rank busy in a long computation keeps its host's
 * heartbeat going and is never taken for dead. The loop ends by itself once none of the ranks it
 * watches is alive, or when its connection goes (the shell gets SIGHUP or SIGPIPE).
 *
 * Not covered: ranks started by `srun` (SLURM watches its nodes itself), and local ranks, which
 * tsmpirun reads in `/proc` directly (`job.ts`).
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";
import { TsmpiError } from "../lib/errors.js";

/** How often the heartbeat is judged (milliseconds). */
const CHECK_MS = 250;

/** What is watched on one host, and whom to tell. */
export interface HostWatch {
  /** The ssh command and options (`--launch-agent`). */
  agent: readonly string[];
  host: string;
  /** The ranks' pids on that host, by rank. */
  pids: ReadonlyMap<number, number>;
  /** No beat for this long: the host is gone. */
  silentMs: number;
  /** A rank stopped (state T) this long: it is lost. */
  stoppedMs: number;
  /** The host stopped answering for `ms`. */
  onSilent(ms: number): void;
  /** A rank has been stopped for `ms`. */
  onStopped(rank: number, ms: number): void;
}

/**
 * The remote loop: `<pid> <state>` per watched pid (`-` once it is gone), then `beat`. The pids
 * come from the ranks' hellos and go into a shell command: each must be a process id (an integer
 * above 1; the coordinator refuses other hellos), never text or a negative number.
 * @throws TsmpiError `ERR_TSMPI_INTERNAL` for anything else.
 */
export function heartbeatScript(pids: readonly number[]): string {
  for (const pid of pids) {
    if (!Number.isSafeInteger(pid) || pid < 2 || pid > 2 ** 22)
      throw new TsmpiError("ERR_TSMPI_INTERNAL", `a heartbeat needs process ids in [2, ${2 ** 22}], got ${JSON.stringify(pid)}`);
  }
  const list = pids.join(" ");
  return (
    `while :; do alive=0; for p in ${list}; do ` +
    `if read -r l < /proc/$p/stat 2>/dev/null; then l=\${l##*) }; echo "$p \${l%% *}"; alive=1; else echo "$p -"; fi; ` +
    `done; echo beat; [ $alive = 1 ] || exit 0; sleep 1; done`
  );
}

/** A running heartbeat; {@link stop} ends it. */
export class Heartbeat {
  private child: ChildProcess;
  private lastCheck = Date.now();
  private readonly timer: NodeJS.Timeout;
  private lastBeat = Date.now();
  private readonly stoppedSince = new Map<number, number>();
  private readonly rankOf = new Map<number, number>();
  private ended = false;
  private allGone = false;

  constructor(private readonly w: HostWatch) {
    for (const [rank, pid] of w.pids) this.rankOf.set(pid, rank);
    this.child = this.connect();
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /**
   * Starts the ssh that runs the loop. If it ends while ranks still run there (its connection
   * broke, sshd refused one more session for a moment), it is started again: only the silence
   * decides that the host is gone.
   */
  private connect(): ChildProcess {
    const args = [
      ...this.w.agent.slice(1),
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=10",
      "-n",
      "--",
      this.w.host,
      heartbeatScript([...this.rankOf.keys()]),
    ];
    const child = spawn(this.w.agent[0]!, args, { stdio: ["ignore", "pipe", "ignore"], detached: true });
    child.on("error", () => {});
    readline.createInterface({ input: child.stdout! }).on("line", (line) => this.onLine(line));
    child.on("exit", () => {
      if (this.ended || this.allGone) return;
      setTimeout(() => {
        if (!this.ended && !this.allGone) this.child = this.connect();
      }, CHECK_MS * 2).unref();
    });
    return child;
  }

  private onLine(line: string): void {
    if (line === "beat") {
      this.lastBeat = Date.now();
      return;
    }
    const [pidText, state] = line.split(" ");
    const rank = this.rankOf.get(Number(pidText));
    if (rank === undefined) return;
    if (state === "-") {
      this.rankOf.delete(Number(pidText));
      if (this.rankOf.size === 0) this.allGone = true;
    }
    if (state !== "T") {
      this.stoppedSince.delete(rank);
      return;
    }
    const since = this.stoppedSince.get(rank) ?? Date.now();
    this.stoppedSince.set(rank, since);
  }

  private check(): void {
    if (this.ended || this.allGone) return;
    const now = Date.now();
    // This event loop was held up (a long stretch of output, a busy machine): read what came
    // meanwhile before judging anyone by it.
    const late = now - this.lastCheck > 4 * CHECK_MS;
    this.lastCheck = now;
    if (late) return;
    if (now - this.lastBeat >= this.w.silentMs) {
      this.stop();
      this.w.onSilent(now - this.lastBeat);
      return;
    }
    for (const [rank, since] of this.stoppedSince) {
      if (now - since >= this.w.stoppedMs) {
        this.stop();
        this.w.onStopped(rank, now - since);
        return;
      }
    }
  }

  /** Ends the heartbeat (its ssh, here; the remote loop ends with the connection). */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}
