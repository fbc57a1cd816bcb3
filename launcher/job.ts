/**
 * A job: the ranks of one `tsmpirun`, their coordinator, and the rules that end it.
 *
 * Ranks are started by agents (`agents.ts`): a local process per rank on this host, an `ssh`
 * client per rank on another host, or one `srun` for all ranks inside a SLURM allocation. What
 * ends the job comes from two sides: the agents' exit statuses, and the coordinator, to which
 * every rank reports an uncaught error, `abort(code)`, its exit code, or silence (a connection
 * lost without bye: killed).
 *
 * mpi4py's `python -m mpi4py` semantics: an uncaught exception or unhandled rejection in any
 * rank, a rank exiting non-zero, a rank killed by a signal, or `comm.abort(code)` ends the whole
 * job: every rank is told to abort, local ranks are signalled (SIGTERM to their process groups,
 * SIGKILL after a grace period), remote ranks still alive after it are killed over ssh, and
 * `tsmpirun` says which rank failed and why and exits with its code (128+signal for a signal).
 * SIGINT/SIGTERM to `tsmpirun` stop every rank (exit 130/143); `--timeout` ends a job that runs
 * too long (exit 124); a reader that closes `tsmpirun`'s stdout (`| head`) ends it as SIGPIPE
 * would (exit 141). A rank whose launcher vanishes exits by itself. SIGUSR1 and SIGUSR2 to
 * `tsmpirun` are passed on to every rank, as Open MPI's mpirun does (SLURM's `--signal=USR1@120`
 * checkpoint warning reaches user code that listens for it; a rank with no listener ignores
 * SIGUSR1, see `runtime.ts`).
 *
 * @module
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { advertisedAddress, hostPort } from "../lib/job/network.js";
import { allocationKey, userSecret } from "../lib/job/environment.js";
import { rendezvousPsk } from "../lib/job/keys.js";
import { RendezvousServer } from "../lib/job/rendezvous-server.js";
import type { SpawnerJoin } from "../lib/job/spawn.js";
import { TsmpiError } from "../lib/errors.js";
import { forwardSignal, isPid, kill, killAgents, startAgents, type Agent, type AgentOptions } from "./agents.js";
import { onStdoutClosed } from "./output.js";
import { commonEnv, parentEnv, rankEnv, type JobFacts } from "./rank-env.js";
import { Heartbeat } from "./heartbeat.js";
import { trace, tracing } from "../lib/trace.js";

/** Exit code when `--timeout` ends a job (as GNU `timeout`). */
export const TIMEOUT_EXIT = 124;
/** Milliseconds between asking ranks to stop and killing them. */
const GRACE_MS = 2000;
/** Signals `tsmpirun` passes on to the ranks (mpirun's set). */
const FORWARDED: readonly NodeJS.Signals[] = ["SIGUSR1", "SIGUSR2"];
/** Milliseconds to wait for a failing rank's last reports before saying why it failed. */
const REPORT_WAIT_MS = 50;
/** How long a lost remote rank's ssh may take to report the exit status before the job ends anyway. */
const LOST_WAIT_MS = 2000;

/** Everything needed to run a job. */
export interface JobOptions extends AgentOptions {
  /** Seconds before the job is ended (0: never). */
  timeout: number;
  /** `--iface`: the interface or subnet to advertise. */
  iface?: string;
  /**
   * A file descriptor open for writing: the process that started this `tsmpirun` joins the job
   * as its last rank (rank `np`), as `MPI_Comm_spawn`'s parent does. What it needs to join
   * (see {@link SpawnerJoin}) is written there as one JSON line once the coordinator listens.
   * Set from `TSMPI_SPAWN_FD` (tsmpi/futures' PoolExecutor uses it, through `lib/job/spawn.ts`).
   */
  spawnerFd?: number;
  /**
   * How many processes join as the spawner's ranks (`np` .. `np + spawners - 1`; default 1): the
   * parents of `Comm.Spawn`, one per rank of the spawning communicator (`TSMPI_SPAWN_PARENTS`).
   */
  spawners?: number;
  /** `--insecure` / `TSMPI_INSECURE=1`: no encryption between hosts. */
  insecure?: boolean;
  /** Seconds a rank may stay stopped by a signal before the job ends (`TSMPI_STOPPED_TIMEOUT`, default 10). */
  stoppedTimeout?: number;
  /** Seconds without a heartbeat from a remote host before the job ends (`TSMPI_HEARTBEAT_TIMEOUT`, default 10). */
  heartbeatTimeout?: number;
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}

/** Runs one job to its end and resolves with `tsmpirun`'s exit code. */
export async function runJob(opts: JobOptions): Promise<number> {
  let job: Job;
  try {
    job = new Job(opts);
  } catch (err) {
    // No job key (the user's secret cannot be read inside an allocation): one line, no stack.
    if (!(err instanceof TsmpiError)) throw err;
    process.stderr.write(`tsmpirun: ${err.message}\n`);
    return 1;
  }
  return job.run();
}

class Job {
  private readonly agents: Agent[] = [];
  private readonly dir: string;
  /**
   * The job key: 128 random bits. Inside a SLURM allocation it is derived from the user's secret
   * and {@link nonce} instead, so that it never travels in srun's environment (`allocationKey`).
   */
  private readonly key: string;
  /** The random part of an allocation's key, which may travel in the clear (`TSMPI_JOB_NONCE`). */
  private readonly nonce: string | undefined;
  private coordinator!: RendezvousServer;
  private exitCode: number | undefined;
  private stopping = false;
  private finish!: (code: number) => void;
  private readonly reasons = new Map<number, string>();
  private readonly exits = new Map<number, number>();
  private readonly aborted = new Set<number>();
  /** The heartbeat of each remote host, once all its ranks joined (`heartbeat.ts`). */
  private readonly heartbeats = new Map<string, Heartbeat>();

  constructor(private readonly opts: JobOptions) {
    if (opts.plan.mode === "slurm") {
      this.nonce = crypto.randomBytes(16).toString("hex");
      // The key file, never TSMPI_JOB_KEY: that variable would travel in srun's environment.
      this.key = allocationKey(userSecret({ ...process.env, TSMPI_JOB_KEY: "" }), this.nonce);
    } else this.key = crypto.randomBytes(16).toString("hex");
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-"));
  }

  /** Ranks in the job: the planned ones, plus the spawner's (or spawners') when there is one. */
  private get size(): number {
    return this.opts.plan.np + (this.opts.spawnerFd === undefined ? 0 : (this.opts.spawners ?? 1));
  }

  /** Tells the spawner how to join (one JSON line on its descriptor), then closes the descriptor. */
  private tellSpawner(fd: number): void {
    const join: SpawnerJoin = {
      coordinator: this.coordinator.address,
      key: this.key,
      rank: this.opts.plan.np,
      size: this.size,
      jobDir: this.dir,
      tcp: commonEnv(this.opts, this.facts()).TSMPI_TCP === "1",
    };
    fs.writeSync(fd, `${JSON.stringify(join)}\n`);
    fs.closeSync(fd);
  }

  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.finish = resolve));
    const onSignal = (signal: NodeJS.Signals): void => {
      this.fail(signalExitCode(signal), `tsmpirun: received ${signal}; stopping the job`, signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    const onForward = (signal: NodeJS.Signals): void => {
      if (!this.stopping) forwardSignal(this.agents, signal, this.opts.sshAgent, (rank) => this.coordinator.helloOf(rank)?.pid);
    };
    for (const s of FORWARDED) process.on(s, onForward);
    // `tsmpirun ... | head`: once the reader is gone, end the job as SIGPIPE ends a pipeline.
    const offStdout = onStdoutClosed(() =>
      this.fail(signalExitCode("SIGPIPE"), "tsmpirun: standard output was closed by its reader (EPIPE); stopping the job"),
    );
    let timer: NodeJS.Timeout | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    if (this.opts.insecure)
      process.stderr.write(
        "tsmpirun: warning: --insecure (or TSMPI_INSECURE=1): traffic between hosts is not encrypted, and anyone who can reach the hosts can read it\n",
      );
    try {
      this.coordinator = await this.listen();
      if (this.opts.spawnerFd !== undefined) {
        this.tellSpawner(this.opts.spawnerFd);
        // The spawner holds our stdin open: its end means the spawner is gone, even before it joined.
        process.stdin.on("close", () => this.fail(137, "tsmpirun: the process that spawned this job is gone; stopping the ranks"));
        process.stdin.on("error", () => {});
        process.stdin.resume();
      }
      if (this.opts.timeout > 0) {
        timer = setTimeout(
          () => this.fail(TIMEOUT_EXIT, `tsmpirun: the job did not finish within ${this.opts.timeout} s (--timeout); stopping it`),
          this.opts.timeout * 1000,
        );
      }
      const started = process.uptime() * 1000;
      startAgents(
        this.opts,
        { parent: parentEnv, common: () => commonEnv(this.opts, this.facts()), rank: (p) => rankEnv(this.opts, this.facts(), p) },
        (agent) => this.track(agent),
        this.dir,
      );
      const spawned = process.uptime() * 1000;
      watchdog = setInterval(() => this.checkStopped(), 1000);
      watchdog.unref();
      const code = await done;
      if (tracing("startup")) {
        const ms = (t: number): number => Math.round(t * 10) / 10;
        trace("startup", { launcher: "job", ms: { spawning: ms(started), spawned: ms(spawned), done: ms(process.uptime() * 1000) } });
      }
      await Promise.race([Promise.all(this.agents.map((a) => a.drained)), new Promise((r) => setTimeout(r, 1000))]);
      return code;
    } finally {
      clearTimeout(timer);
      clearInterval(watchdog);
      this.stopHeartbeats();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      for (const s of FORWARDED) process.off(s, onForward);
      offStdout();
      this.coordinator?.close();
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The coordinator: a unix socket in the job directory, or TCP when ranks run elsewhere. */
  private async listen(): Promise<RendezvousServer> {
    const { plan } = this.opts;
    const events = {
      join: () => {
        this.checkStragglers();
        this.watchHosts();
      },
      abort: (rank: number, code: number) => {
        this.aborted.add(rank);
        this.fail(code, `tsmpirun: rank ${rank} called abort(${code}); stopping the other ranks`);
      },
      error: (rank: number, reason: string) => this.reasons.set(rank, reason),
      exit: (rank: number, code: number) => {
        this.exits.set(rank, code);
        if (code !== 0) this.later(() => this.rankFailed(rank, code));
      },
      lost: (rank: number) => this.later(() => this.rankLost(rank)),
      // A parent of Comm.Spawn that disconnected or finished: the job may be done (checkDone).
      bye: () => this.checkDone(),
    };
    if (plan.mode === "local") return RendezvousServer.listen(`unix:${path.join(this.dir, "coord.sock")}`, this.size, this.key, events);
    const peers = plan.mode === "ssh" ? plan.remoteHosts : plan.nodes;
    const address = await advertisedAddress(peers, this.opts.iface);
    // Only the interface the ranks dial, not every interface of this host; over TLS-PSK.
    return RendezvousServer.listen(`tcp:${hostPort(address, 0)}`, this.size, this.key, events, {
      advertise: address,
      psk: this.opts.insecure ? undefined : rendezvousPsk(this.key),
    });
  }

  /** Failure verdicts waiting for a rank's last reports: the job is not done while one is pending. */
  private pendingVerdicts = 0;

  private later(fn: () => void): void {
    this.pendingVerdicts++;
    setTimeout(() => {
      this.pendingVerdicts--;
      fn();
      this.checkDone();
    }, REPORT_WAIT_MS);
  }

  /** What the ranks' environment says of this job (`rank-env.ts`). */
  private facts(): JobFacts {
    return { size: this.size, coordinator: this.coordinator.address, key: this.key, nonce: this.nonce, dir: this.dir };
  }

  private track(agent: Agent): void {
    this.agents.push(agent);
    const { child } = agent;
    if (child.stdin && agent.ranks.includes(0) && !child.stdin.writableEnded) {
      process.stdin.pipe(child.stdin);
      child.stdin.on("error", () => {});
    }
    child.on("error", (err) => {
      agent.exited = true;
      this.fail(127, `tsmpirun: could not start ${agent.kind === "local" ? `rank ${agent.ranks[0]}` : agent.kind} (${err.message})`);
      this.checkDone();
    });
    child.on("exit", (code, signal) => {
      agent.exited = true;
      this.agentExited(agent, code, signal);
      this.checkDone();
    });
  }

  private agentExited(agent: Agent, code: number | null, signal: NodeJS.Signals | null): void {
    const rank = agent.ranks[0]!;
    if (agent.kind === "local") {
      if (signal) this.rankFailed(rank, signalExitCode(signal), signal);
      else if (code !== 0) this.later(() => this.rankFailed(rank, code!));
      else this.checkStragglers();
      return;
    }
    if (agent.kind === "ssh") {
      if (code === 255 && this.coordinator.hasJoined(rank) && !this.exits.has(rank)) {
        // ssh's own code after the rank joined and reported no exit: sshd saw it killed by a
        // signal, or the link to its host broke.
        this.later(() => {
          if (!this.exits.has(rank))
            this.fail(
              137,
              `tsmpirun: ${this.describe(rank)} died without a word (killed by a signal, or its host became unreachable); stopping the other ranks`,
            );
          else this.rankFailed(rank, this.exits.get(rank)!);
        });
      } else if (code === 255 && !this.coordinator.hasJoined(rank)) {
        this.fail(
          255,
          `tsmpirun: could not start rank ${rank} on ${agent.host} with ${this.opts.sshAgent.join(" ")} (exit code 255: host unreachable or login refused; ssh's message is above)`,
        );
      } else if (code !== 0 || signal) {
        this.later(() => this.rankFailed(rank, this.exits.get(rank) ?? code ?? signalExitCode(signal!)));
      } else this.checkStragglers();
      return;
    }
    if (code !== 0 || signal)
      this.later(() =>
        this.fail(
          code ?? signalExitCode(signal!),
          `tsmpirun: srun exited with ${signal ? `signal ${signal}` : `code ${code}`}; its message is above`,
        ),
      );
  }

  private describe(rank: number): string {
    const hello = this.coordinator.helloOf(rank);
    return hello ? `rank ${rank} (pid ${hello.pid} on ${hello.host})` : `rank ${rank}`;
  }

  private rankFailed(rank: number, code: number, signal?: NodeJS.Signals): void {
    if (this.aborted.has(rank)) {
      this.checkDone();
      return;
    }
    const why = this.reasons.get(rank);
    const what = signal ? `was killed by signal ${signal}` : `exited with code ${code}${why ? ` after an ${why}` : ""}`;
    this.fail(code, `tsmpirun: ${this.describe(rank)} ${what}; stopping the other ranks`);
    this.checkDone();
  }

  /** A rank's coordinator connection closed without bye and without an exit report: it was killed. */
  private rankLost(rank: number, waited = false): void {
    if (this.exits.has(rank) || this.aborted.has(rank) || this.stopping) return;
    if (this.opts.spawnerFd !== undefined && rank >= this.opts.plan.np) {
      this.fail(
        137,
        `tsmpirun: a process that spawned this job (rank ${rank}, pid ${this.coordinator.helloOf(rank)?.pid}) is gone; stopping the ranks`,
      );
      return;
    }
    // A rank's own process here, or its ssh: its exit status will say more (over TLS the
    // rank's last report may not have left before it exited), if it comes soon.
    const agent = this.agents.find((a) => a.ranks.includes(rank) && a.kind !== "srun");
    if (agent?.kind === "local" && !agent.exited) return;
    if (agent && !agent.exited && !waited) {
      setTimeout(() => this.rankLost(rank, true), LOST_WAIT_MS).unref();
      return;
    }
    if (agent?.exited) return;
    this.fail(137, `tsmpirun: ${this.describe(rank)} died without a word (killed by a signal?); stopping the other ranks`);
  }

  /** Since when each local rank has been seen stopped (by pid). */
  private readonly stoppedSince = new Map<number, number>();

  /**
   * A local rank stopped by a signal (SIGSTOP, SIGTSTP: state T in /proc) answers nobody, and
   * the others wait for it forever: after `TSMPI_STOPPED_TIMEOUT` seconds (default 10) of it the
   * job ends. (A rank stopped by a debugger is in state t, and left alone.)
   */
  private checkStopped(): void {
    const limit = (this.opts.stoppedTimeout ?? 10) * 1000;
    for (const a of this.agents) {
      const pid = a.child.pid;
      if (a.kind !== "local" || a.exited || pid === undefined) continue;
      let state = "";
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
        state = stat[stat.lastIndexOf(")") + 2] ?? "";
      } catch {
        continue; // gone, or no /proc here
      }
      if (state !== "T") {
        this.stoppedSince.delete(pid);
        continue;
      }
      const since = this.stoppedSince.get(pid) ?? Date.now();
      this.stoppedSince.set(pid, since);
      if (Date.now() - since >= limit) {
        this.rankStopped(a.ranks[0]!, Date.now() - since);
      }
    }
  }

  private rankStopped(rank: number, ms: number): void {
    this.fail(
      1,
      `tsmpirun: ${this.describe(rank)} has been stopped by a signal (SIGSTOP?) for ${Math.round(ms / 1000)} s and answers no other rank (TSMPI_STOPPED_TIMEOUT); stopping the job`,
    );
  }

  /**
   * Starts the heartbeat of each remote host whose ranks have all joined (their pids are known
   * then): a host that goes silent, or a rank there stopped by a signal, ends the job.
   */
  private watchHosts(): void {
    const { plan } = this.opts;
    if (plan.mode !== "ssh" || this.stopping) return;
    for (const host of plan.remoteHosts) {
      if (this.heartbeats.has(host)) continue;
      const ranks = plan.placements.filter((p) => p.host === host && !p.local).map((p) => p.rank);
      if (ranks.length === 0 || !ranks.every((r) => this.coordinator.hasJoined(r))) continue;
      const pids = new Map(ranks.map((r) => [r, this.coordinator.helloOf(r)!.pid]));
      if (![...pids.values()].every(isPid)) continue; // the coordinator refuses such hellos; never into a shell
      const silentMs = (this.opts.heartbeatTimeout ?? 10) * 1000;
      this.heartbeats.set(
        host,
        new Heartbeat({
          agent: this.opts.sshAgent,
          host,
          pids,
          silentMs,
          stoppedMs: (this.opts.stoppedTimeout ?? 10) * 1000,
          onSilent: (ms) =>
            this.fail(
              255,
              `tsmpirun: host ${host} (rank${ranks.length > 1 ? "s" : ""} ${ranks.join(", ")}) stopped answering: no heartbeat for ${Math.round(ms / 1000)} s (its link is down, or it is frozen or gone; TSMPI_HEARTBEAT_TIMEOUT); stopping the job`,
            ),
          onStopped: (rank, ms) => this.rankStopped(rank, ms),
        }),
      );
    }
  }

  private stopHeartbeats(): void {
    for (const h of this.heartbeats.values()) h.stop();
  }

  /** A rank that exited before joining while others joined would leave them waiting: end the job. */
  private checkStragglers(): void {
    if (!this.coordinator || this.coordinator.joinedCount === 0 || this.coordinator.joinedCount === this.size) return;
    const gone = this.agents.find((a) => a.kind !== "srun" && a.exited && !this.coordinator.hasJoined(a.ranks[0]!));
    if (gone) {
      this.fail(
        1,
        `tsmpirun: rank ${gone.ranks[0]} exited without joining the job (did its script import tsmpi?), while other ranks wait for it; stopping them`,
      );
    }
  }

  /** Records the first failure, reports it, and stops every rank. */
  private fail(code: number, message: string, signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.exitCode === undefined) {
      this.exitCode = code;
      process.stderr.write(`${message}\n`);
    }
    if (this.stopping) return;
    this.stopping = true;
    this.stopHeartbeats();
    this.coordinator?.abortAll(code, message);
    for (const a of this.agents) if (!a.exited && a.kind !== "ssh") kill(a.child, signal);
    const hard = setTimeout(() => killAgents(this.agents, this.opts.sshAgent, (rank) => this.coordinator.helloOf(rank)?.pid), GRACE_MS);
    hard.unref();
    this.checkDone();
  }

  private checkDone(): void {
    // A rank that failed last (or alone) is judged before the job's code is decided.
    if (this.pendingVerdicts === 0 && this.agents.length > 0 && this.agents.every((a) => a.exited) && this.parentsDone())
      this.finish(this.exitCode ?? 0);
  }

  /**
   * The parents of a `Comm.Spawn` job are connected to it until they disconnect (or finish),
   * as MPI's: the job ends once its ranks exited and every parent said bye, or when it fails.
   * (A pool's worker job, `spawners` unset, ends with its ranks: its parent replaces a worker
   * that exits.)
   */
  private parentsDone(): boolean {
    if (this.opts.spawners === undefined || this.stopping || !this.coordinator) return true;
    const { np } = this.opts.plan;
    for (let r = np; r < this.size; r++) if (!this.coordinator.hasFinished(r)) return false;
    return true;
  }
}
