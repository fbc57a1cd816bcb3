/**
 * The agents of a job: the processes that run its ranks (a local process per rank on this host,
 * an `ssh` client per rank on another host, or one `srun` for all ranks inside a SLURM
 * allocation), and the signals `tsmpirun` sends them: starting them, passing a signal on to
 * every rank, killing what is left after the grace period. What the agents' exits mean for the
 * job is `job.ts`'s.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { forwardLabelled, forwardRank, type OutputOptions } from "./output.js";
import { multiProg, partOfRank, type RankPart } from "./parts.js";
import type { Placement, Plan } from "./plan.js";
import { secretLine, spawnLocal, srunArgv, sshArgv } from "./spawn.js";

/** What starting the agents needs of the job's options (see `JobOptions`). */
export interface AgentOptions {
  plan: Plan;
  /** The command each rank runs (see `programArgv`). */
  argv: string[];
  /** Working directory of the ranks. */
  wdir: string;
  /** Extra environment for the ranks (from `-x`). */
  env: Record<string, string>;
  output: OutputOptions;
  /** The ssh command for remote ranks. */
  sshAgent: string[];
  /** `--node-path`: node on remote hosts. */
  nodePath?: string;
  oversubscribe: boolean;
  /** The spawner's descriptor (see `JobOptions.spawnerFd`): with one, no rank reads tsmpirun's stdin. */
  spawnerFd?: number;
  /**
   * An MPMD job's parts (`parts.ts`), in rank order: each rank runs its part's command, with its
   * part's `-x` variables and working directory instead of `argv`, `env` and `wdir`.
   */
  parts?: RankPart[];
}

/** What rank `rank` runs: its part's command, variables and directory (an MPMD job), else the job's; and its part's index. */
export function rankProgram(
  opts: AgentOptions,
  rank: number,
): { argv: string[]; env: Record<string, string>; wdir: string; appnum: number } {
  if (!opts.parts) return { argv: opts.argv, env: opts.env, wdir: opts.wdir, appnum: 0 };
  const { part, appnum } = partOfRank(opts.parts, rank);
  return { argv: part.argv, env: part.env, wdir: part.wdir, appnum };
}

/** The environments the job gives its agents. */
export interface AgentEnv {
  /** tsmpirun's environment without what was meant for tsmpirun alone. */
  parent(): NodeJS.ProcessEnv;
  /** Variables every rank gets. */
  common(): Record<string, string>;
  /** Variables of the rank placed at `p`. */
  rank(p: Placement): Record<string, string>;
}

/** A process that runs ranks: one local rank, one remote rank (ssh), or all ranks (srun). */
export interface Agent {
  kind: "local" | "ssh" | "srun";
  child: ChildProcess;
  ranks: number[];
  host: string;
  exited: boolean;
  /** Resolves once its output was fully forwarded. */
  drained: Promise<void>;
}

/** Whether `pid` (from a rank's hello, checked there too) may go into a shell command: a positive process id, never 0, 1 or negative. */
export function isPid(pid: unknown): pid is number {
  return Number.isSafeInteger(pid) && (pid as number) > 1 && (pid as number) <= 2 ** 22;
}

/**
 * Starts the agents of a job: one srun for all ranks in an allocation; else a local process or
 * an ssh client per rank. Each is handed to `track` as soon as it is started.
 */
export function startAgents(opts: AgentOptions, envs: AgentEnv, track: (agent: Agent) => void, dir: string): void {
  const { plan, wdir } = opts;
  if (plan.mode === "slurm") {
    const env: NodeJS.ProcessEnv = { ...envs.parent(), ...envs.common() };
    // Only the nonce goes to srun: the ranks derive the key from the user's secret themselves.
    for (const k of [
      "TSMPI_RANK",
      "TSMPI_LOCAL_RANK",
      "TSMPI_LOCAL_SIZE",
      "TSMPI_JOB_DIR",
      "TSMPI_LAUNCHER_PID",
      "TSMPI_JOB_KEY",
      "TSMPI_APPNUM",
    ])
      delete env[k];
    let argv = opts.argv;
    if (opts.parts) {
      // An MPMD job: one srun step, each part's ranks running its line of a --multi-prog file.
      const file = path.join(dir, "multi-prog.conf");
      fs.writeFileSync(file, multiProg(opts.parts, wdir), { mode: 0o600 });
      argv = ["--multi-prog", file];
    }
    const child = spawnLocal({
      argv: srunArgv(plan.np, argv, { ppn: plan.ppn, oversubscribe: opts.oversubscribe }),
      cwd: wdir,
      env,
      stdin: opts.spawnerFd === undefined,
    });
    track({
      kind: "srun",
      child,
      ranks: Array.from({ length: plan.np }, (_, i) => i),
      host: os.hostname(),
      exited: false,
      drained: forwardLabelled(child.stdout!, child.stderr!, opts.output),
    });
    return;
  }
  for (const p of plan.placements) {
    const stdin = p.rank === 0 && opts.spawnerFd === undefined;
    const { argv, env: exported, wdir } = rankProgram(opts, p.rank);
    let child: ChildProcess;
    if (p.local) child = spawnLocal({ argv, cwd: wdir, env: { ...envs.parent(), ...envs.rank(p) }, stdin });
    else {
      // The job key and the user's -x values go through ssh's stdin, never on a command line
      // (ps shows those on both hosts, for the whole job); the remote shell reads its first
      // line, rank 0's stdin follows it.
      const env = envs.rank(p);
      const secret = new Set(["TSMPI_JOB_KEY", ...Object.keys(exported)]);
      const shown = Object.fromEntries(Object.entries(env).filter(([k]) => !secret.has(k)));
      const hidden = Object.fromEntries(Object.entries(env).filter(([k]) => secret.has(k)));
      child = spawnLocal({
        argv: sshArgv({ agent: opts.sshAgent, host: p.host, argv, env: shown, secrets: true, wdir, nodePath: opts.nodePath, stdin }),
        cwd: wdir,
        env: envs.parent(),
        stdin: true,
      });
      child.stdin!.on("error", () => {});
      child.stdin!.write(secretLine(hidden));
      if (!stdin) child.stdin!.end();
    }
    track({
      kind: p.local ? "local" : "ssh",
      child,
      ranks: [p.rank],
      host: p.host,
      exited: false,
      drained: forwardRank(p.rank, child.stdout!, child.stderr!, opts.output),
    });
  }
}

/**
 * Passes `signal` on to every running rank: to the rank's own process here (not its process
 * group: a user's child processes are theirs to signal), to srun (which passes it to its
 * tasks), and over one ssh per remote host to the pids the ranks there said hello with.
 */
export function forwardSignal(
  agents: readonly Agent[],
  signal: NodeJS.Signals,
  sshAgent: readonly string[],
  pidOf: (rank: number) => number | undefined,
): void {
  const remote = new Map<string, number[]>();
  for (const a of agents) {
    if (a.exited || a.child.pid === undefined) continue;
    if (a.kind !== "ssh") {
      try {
        process.kill(a.child.pid, signal);
      } catch {
        /* just exited */
      }
      continue;
    }
    const pid = pidOf(a.ranks[0]!);
    if (isPid(pid)) remote.set(a.host, [...(remote.get(a.host) ?? []), pid]);
  }
  for (const [host, pids] of remote) {
    const name = signal.replace(/^SIG/, "");
    const sender = spawn(
      sshAgent[0]!,
      [...sshAgent.slice(1), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-n", "--", host, `kill -s ${name} ${pids.join(" ")}`],
      { stdio: "ignore", detached: true },
    );
    sender.on("error", () => {});
    setTimeout(() => kill(sender, "SIGKILL"), 10_000).unref();
  }
}

/** After the grace period: SIGKILL what is left here, and kill remote ranks over ssh. */
export function killAgents(agents: readonly Agent[], sshAgent: readonly string[], pidOf: (rank: number) => number | undefined): void {
  for (const a of agents) {
    if (a.exited) continue;
    if (a.kind === "ssh") {
      const pid = pidOf(a.ranks[0]!);
      if (isPid(pid)) {
        const killer = spawn(
          sshAgent[0]!,
          [...sshAgent.slice(1), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-n", "--", a.host, `kill -KILL ${pid}`],
          { stdio: "ignore", detached: true },
        );
        killer.on("error", () => {});
        setTimeout(() => kill(killer, "SIGKILL"), 5000).unref();
      }
    }
    kill(a.child, "SIGKILL");
  }
}

/** Signals an agent's whole process group (its children too); ignores ones already gone. */
export function kill(child: ChildProcess, signal: NodeJS.Signals): void {
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
