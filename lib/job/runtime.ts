/**
 * The runtime of one rank: joins the job on import (or forms a world of one), owns the
 * transport, the matching engine and the coordinator connection, finalizes by itself when the
 * script has nothing left to do, and aborts the job when asked or when this rank fails.
 *
 * Launch modes (see `environment.ts`): under `tsmpirun` (join its coordinator); a task of a
 * direct `srun` (rank 0 serves the rendezvous); plain `node script` (a world of one: no sockets).
 *
 * Finalization: a pending zeromq.js receive keeps a process alive, so the transport receives
 * only while something waits for a message. When nothing does and the user's code has nothing
 * left either, Node emits `beforeExit`; then queued messages leave (shared memory, ZeroMQ) for as
 * long as they keep moving, at most `TSMPI_LINGER_MS` without progress (`transport/linger.ts`),
 * what never left or was never received is said on stderr, the coordinator hears `bye`, and the
 * process exits: a finished rank never hangs the job.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { config, textSetting } from "../config.js";
import { launchInfo, sha256, type LaunchInfo } from "./environment.js";
import { curveKeys, rendezvousPsk } from "./keys.js";
import { TsmpiError } from "../errors.js";
import { MatchingEngine } from "../p2p/matching.js";
import { hostPort, interfaceAddress, isLoopback, listenAddresses, routeTo } from "./network.js";
import { PointToPoint } from "../p2p/protocol.js";
import { RendezvousClient } from "./rendezvous-client.js";
import { RendezvousServer } from "./rendezvous-server.js";
import { trace, tracing } from "../trace.js";
import { getBinding } from "../native.js";
import { Linger } from "../transport/linger.js";
import { PathTransport } from "../transport/path.js";
import { waitPolicy } from "../transport/polling.js";
import { memoryDomain } from "../transport/host.js";
import { ShmTransport } from "../transport/shm.js";
import { ZmqTransport } from "../transport/zmq.js";

/** Signals that end a rank from outside, as SLURM sends them (scancel and time limits: SIGTERM; srun's Ctrl-C: SIGINT; a lost terminal: SIGHUP). */
const ENDING_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
/** The name of a {@link privateDir}: `tsmpi-r<rank>-<pid>-<6 random characters>`. */
const PRIVATE_DIR = /^tsmpi-r\d+-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * A directory for this rank's ipc:// endpoint when the launcher gave none (ranks on another host,
 * or started directly by srun), named with this process's pid; removed at exit, and when one of
 * {@link ENDING_SIGNALS} ends the rank (Node runs no exit handler then). A rank that does not
 * listen for the signal itself then ends by it, as it would have. Directories of earlier ranks
 * that SIGKILL ended (SLURM's last word after SIGTERM) are swept here first.
 */
function privateDir(rank: number): string {
  sweepPrivateDirs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsmpi-r${rank}-${process.pid}-`));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.on("exit", remove);
  for (const signal of ENDING_SIGNALS) {
    const onSignal = (): void => {
      remove();
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  return dir;
}

/** Removes this user's {@link privateDir}s in the temp directory whose process is gone. */
function sweepPrivateDirs(): void {
  const tmp = os.tmpdir();
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(PRIVATE_DIR.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (st.isDirectory() && st.uid === process.getuid?.()) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed meanwhile, or not ours to remove
    }
  }
}

/** Whether process `pid` exists (EPERM: it does, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Keeps Node's inspector closed: SIGUSR1 opens it on 127.0.0.1:9229 by default, where any local
 * user could attach and run code as this rank's owner (who holds the job key). Node 20 has no
 * `--disable-sigusr1`; any listener of our own keeps the default action from running. It does
 * nothing, so a rank ignores SIGUSR1 (SLURM's usual checkpoint warning, which tsmpirun passes
 * on) unless the user's code listens for it too. The listener keeps no process alive. A user who
 * wants the inspector asks for it: `tsmpirun -x NODE_OPTIONS=--inspect=127.0.0.1:0 ...`.
 */
function keepInspectorClosed(): void {
  process.on("SIGUSR1", () => {});
}

/** Context id of COMM_WORLD's point-to-point traffic (its collectives use id + 1). */
export const WORLD_CONTEXT = 2;
/** Context id of COMM_SELF. */
export const SELF_CONTEXT = 4;

/**
 * The context id of a communicator derived from `parent` by its `seq`-th dup/split with `color`:
 * the same on every member without communication, because members create communicators from
 * a parent in the same order (MPI requires it). A 52-bit hash: even (its collectives use id+1),
 * never one of the fixed ids.
 */
export function deriveContext(parent: number, seq: number, color: number): number {
  const words = [parent % 2 ** 32, Math.floor(parent / 2 ** 32), seq, color >>> 0];
  let a = 0x9e3779b9;
  let b = 0x7f4a7c15;
  for (const w of words) {
    a = Math.imul(a ^ w, 0x85ebca6b);
    a ^= a >>> 13;
    b = Math.imul(b ^ w ^ (a >>> 7), 0xc2b2ae35);
    b ^= b >>> 16;
  }
  a = Math.imul(a ^ (a >>> 15), 0x27d4eb2f) & ~1; // even (32-bit bitwise ops only: JS bit operators truncate)
  const id = (b >>> 12) * 2 ** 32 + (a >>> 0);
  return id < 16 ? id + 16 : id;
}

/** Milliseconds since the process started (without loading perf_hooks, as `performance` does). */
function uptimeMs(): number {
  return process.uptime() * 1000;
}

/** The 64-bit token every frame of the job carries, derived from the job key. */
function jobToken(key: string): [number, number] {
  const digest = sha256(`tsmpi-frame-token:${key}`);
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/** One rank's runtime state. */
export class Runtime {
  readonly engine = new MatchingEngine();
  readonly p2p: PointToPoint;
  readonly mode: LaunchInfo["mode"];
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  /** The part of an MPMD command line this rank runs, from 0 (`APPNUM`). */
  readonly appnum: number;
  /** Every rank's host name, by world rank. */
  hosts: string[];
  /** This rank's transport (null in a world of one). */
  transport: PathTransport | null = null;
  private client: RendezvousClient | null = null;
  /** The rendezvous this rank serves (rank 0 of a direct srun launch). */
  private server: RendezvousServer | null = null;
  private finalizing = false;

  private constructor(
    launch: LaunchInfo,
    /** What ends this rank from outside (an abort order, a lost coordinator, a transport failure): by default the process exits. */
    private readonly end: (code: number, why: string, quiet?: boolean) => void = (code, why, quiet) => {
      if (!quiet) process.stderr.write(`tsmpi: ${why}\n`);
      this.exitNow(code);
    },
    /** Joined another job beside this process's own (`attach`): the process's environment and CPU affinity are not this rank's to set. */
    private readonly attached = false,
  ) {
    this.mode = launch.mode;
    this.rank = launch.rank;
    this.size = launch.size;
    this.localRank = launch.localRank;
    this.localSize = launch.localSize;
    this.appnum = launch.appnum ?? 0;
    this.p2p = new PointToPoint(this.rank, this.engine, config());
    this.hosts = [os.hostname()];
  }

  /** Joins the job this process belongs to, or forms a world of one. */
  static async init(): Promise<Runtime> {
    const launch = launchInfo();
    // A rank of a job; a plain `node script` (a world of one) keeps Node's own SIGUSR1.
    if (launch.mode !== "singleton") keepInspectorClosed();
    const rt = new Runtime(launch);
    if (launch.mode !== "singleton") await rt.join(launch);
    rt.installHooks();
    return rt;
  }

  /**
   * Joins another job as one of its ranks, beside this process's own (as the parent of
   * `MPI_Comm_spawn` does): used by tsmpi/futures' PoolExecutor for the jobs of its workers.
   * No process hooks are installed: the owner finalizes it, and `onEnd` hears what ends the job
   * from outside (an abort order, a lost coordinator, a transport failure) instead of an exit.
   * The process stays as it was: its environment (`TSMPI_RANK`, ...) keeps its own job's values,
   * and no thread is bound to a core.
   */
  static async attach(launch: LaunchInfo, onEnd: (code: number, why: string) => void): Promise<Runtime> {
    const rt = new Runtime(launch, onEnd, true);
    await rt.join(launch);
    return rt;
  }

  /** Milliseconds since process start of each start-up phase (`TSMPI_TRACE=startup`). */
  private readonly phases: Record<string, number> = { init: uptimeMs() };

  private async join(launch: LaunchInfo): Promise<void> {
    const deadline = Date.now() + config().rendezvousTimeout * 1000;
    // What the rank learned from SLURM, where user code (and the GPU choice) expects it; not
    // for a job joined beside this process's own.
    if (!this.attached) {
      Object.assign(process.env, {
        TSMPI_RANK: String(this.rank),
        TSMPI_SIZE: String(this.size),
        TSMPI_LOCAL_RANK: String(this.localRank),
        TSMPI_LOCAL_SIZE: String(this.localSize),
      });
    }
    if (launch.serve) {
      this.server = await this.serve(launch);
      this.server.hold(false);
    }
    const psk = launch.secure ? rendezvousPsk(launch.key) : undefined;
    this.client = await RendezvousClient.connect(
      launch.coordinator!,
      deadline,
      {
        abort: (code, reason) => this.end(code, reason || `the job was aborted with code ${code}`, true),
        lost: () => {
          // The launcher that made the job directory is gone (killed): nobody else will remove it.
          if (launch.jobDir) fs.rmSync(launch.jobDir, { recursive: true, force: true });
          this.end(1, `rank ${this.rank} lost its coordinator (the launcher or rank 0 is gone); exiting`);
        },
      },
      launch.mode === "srun",
      psk,
    );
    this.phases.connected = uptimeMs();
    const host = os.hostname();
    let addrs: string[] = [];
    if (this.size > 1) {
      const binds = [`ipc://${launch.jobDir ?? privateDir(this.rank)}/r${this.rank}.sock`];
      if (launch.tcp) binds.push(`tcp://${hostPort(await this.tcpAddress(launch), "*")}`);
      const { sendHwm, zmqHwm, maxFrame } = config();
      const curve = launch.tcp && launch.secure ? curveKeys(launch.key) : undefined;
      const heartbeatMs = Math.round(config().heartbeatTimeout * 1000);
      const zmq = await ZmqTransport.bind(this.rank, binds, this.p2p.onFrames, (err) => this.fail(err), {
        sendHwm,
        zmqHwm,
        maxFrame,
        curve,
        heartbeatMs,
      });
      this.transport = new PathTransport(this.rank, zmq, this.sharedMemory(launch));
      this.p2p.attach(this.transport, jobToken(launch.key), this.size);
      addrs = this.transport.endpoints;
    }
    this.phases.bound = uptimeMs();
    // The memory domain rides in the hello's `cma` field: single copy and shared memory need it.
    const domain = memoryDomain();
    const table = await this.client.join(
      { t: "hello", key: launch.key, rank: this.rank, size: this.size, pid: process.pid, host, addrs, cma: domain },
      deadline,
    );
    this.phases.joined = uptimeMs();
    this.hosts = table.hosts;
    this.transport?.setPeers({ addrs: table.addrs, hosts: table.hosts, domains: table.cma });
    this.p2p.setPeers(
      table.hosts.map((h, r) => (domain && r !== this.rank && h === host && table.cma[r] === domain ? { pid: table.pids[r]! } : null)),
    );
    this.bindToCore(table.hosts.slice(0, this.rank).filter((h) => h === host).length);
    this.keepHeap();
    if (tracing("transport"))
      trace("transport", {
        rank: this.rank,
        paths: this.transport?.paths,
        wait: this.transport?.shared?.waitPolicy,
        cpu: this.cpu,
        heapKept: this.heapKept,
        refused: Object.fromEntries(this.transport?.shmRefused ?? []),
      });
  }

  /** The CPU this rank's main thread is bound to (-1: not bound). */
  cpu = -1;

  /**
   * Binds the main thread to one core when this rank polls shared memory with a core of its own
   * (as Open MPI binds ranks to cores): the `index`-th of the allowed CPUs, `index` being this
   * rank's place among the ranks of its host. Unbound, two polling ranks often start on one core
   * and take turns until the scheduler separates them. `TSMPI_BIND=0` leaves threads unbound, and
   * a runtime joined beside the process's own job (`attach`) never binds.
   */
  private bindToCore(index: number): void {
    if (this.attached || this.transport?.shared?.waitPolicy.mode !== "spin" || textSetting("TSMPI_BIND") === "0") return;
    this.cpu = getBinding()?.bindThread(index) ?? -1;
  }

  /** Whether malloc keeps freed memory for reuse ({@link keepHeap}). */
  heapKept = false;

  /**
   * Keeps freed memory in malloc's heap for reuse: every received message is a new buffer of its
   * size, freed in bulk by the garbage collector, and with glibc's start-up thresholds the heap is
   * trimmed after each such sweep, so the next buffers fault their pages in again (a 64 KiB
   * ping-pong after smaller sizes: 19-29 us one way instead of 6-7). Fixes the thresholds at what
   * glibc's own dynamic rule reaches at most (mmap from 32 MiB, trim past 64 MiB free): a rank
   * may keep up to 64 MiB it freed. `TSMPI_KEEP_HEAP=0` leaves malloc alone; a runtime joined
   * beside the process's own job (`attach`) never touches it.
   */
  private keepHeap(): void {
    if (this.attached || textSetting("TSMPI_KEEP_HEAP") === "0") return;
    this.heapKept = getBinding()?.keepHeap(32 * 2 ** 20, 64 * 2 ** 20) ?? false;
  }

  /**
   * This rank's shared-memory inbox, or null: turned off (`TSMPI_SHM=0`), no native addon, or the
   * system refused (then ranks of this host talk through ipc:// sockets; the reason is traced).
   */
  private sharedMemory(launch: LaunchInfo): ShmTransport | null {
    const binding = config().shm ? getBinding() : null;
    if (!binding) return null;
    try {
      return ShmTransport.create(binding, this.rank, this.size, launch.localSize, waitPolicy(launch.localSize), this.p2p.onFrames, (err) =>
        this.fail(err),
      );
    } catch (err) {
      if (tracing("transport")) trace("transport", { rank: this.rank, shm: `off: ${(err as Error).message}` });
      return null;
    }
  }

  /**
   * The address peers on other hosts reach this rank at: from TSMPI_IFACE, else the local end of
   * the connection to the coordinator; if that is a loopback address (the coordinator's host
   * name resolved to 127.x here), the route towards another node of the job.
   */
  private async tcpAddress(launch: LaunchInfo): Promise<string> {
    if (launch.iface) return interfaceAddress(launch.iface);
    const local = this.client?.localAddress?.replace(/^::ffff:/, "");
    if (local && !isLoopback(local)) return local;
    const remote = launch.nodes?.find((n) => n !== os.hostname());
    if (remote) return routeTo(remote);
    throw new TsmpiError(
      "ERR_TSMPI_RENDEZVOUS",
      `rank ${this.rank} found no address other hosts can reach (it reaches the coordinator from ${local}); set TSMPI_IFACE to an interface or subnet`,
    );
  }

  /** Rank 0 of a direct srun launch serves the rendezvous and ends the job when a rank fails. */
  private async serve(launch: LaunchInfo): Promise<RendezvousServer> {
    const stop = (code: number, why: string): void => {
      process.stderr.write(`tsmpi: ${why}; ending the job\n`);
      this.server?.abortAll(code, why);
      this.exitNow(code);
    };
    const port = Number(/:(\d+)$/.exec(launch.serve!)![1]);
    const remote = launch.nodes?.find((n) => n !== launch.nodes![0]);
    const listen = (await listenAddresses(launch.nodes![0]!, remote, launch.iface)).map((a) => `tcp:${hostPort(a, port)}`);
    if (!launch.secure)
      process.stderr.write(
        "tsmpi: warning: TSMPI_INSECURE=1: traffic between hosts is not encrypted, and anyone who can reach the nodes can read it\n",
      );
    return RendezvousServer.listen(
      listen,
      this.size,
      launch.key,
      {
        abort: (rank, code) => stop(code, `rank ${rank} called abort(${code})`),
        exit: (rank, code) => (code !== 0 ? stop(code, `rank ${rank} exited with code ${code}`) : undefined),
        lost: (rank) => stop(1, `rank ${rank} ended before finishing (killed?)`),
      },
      { psk: launch.secure ? rendezvousPsk(launch.key) : undefined, ports: launch.ports },
    );
  }

  private installHooks(): void {
    process.on("beforeExit", () => {
      if (this.finalizing) return;
      // What must happen before this rank leaves (a spawned child's implicit Disconnect): one at
      // a time; its pending operations keep the process alive, and beforeExit comes again.
      const step = this.beforeFinalize.shift();
      if (step) {
        void step().catch(() => {});
        return;
      }
      this.phases.beforeExit = uptimeMs();
      void this.finalize().then(() => (this.phases.finalized = uptimeMs()));
    });
    if (tracing("startup")) {
      process.on("exit", () => {
        const ms = Object.fromEntries(Object.entries({ ...this.phases, exit: uptimeMs() }).map(([k, v]) => [k, Math.round(v * 10) / 10]));
        trace("startup", { rank: this.rank, ms });
      });
    }
    if (!this.client) return;
    process.on("exit", (code) => this.client?.report({ t: "exit", code }));
    process.on("uncaughtExceptionMonitor", (err, origin) => {
      const what = origin === "unhandledRejection" ? "unhandled rejection" : "uncaught exception";
      this.client?.report({ t: "error", reason: `${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` });
    });
  }

  /**
   * Steps run when the script has nothing left to do, before the runtime finalizes by itself
   * (`Comm.Get_parent()`'s implicit Disconnect, as MPI_Finalize disconnects): one at a time.
   */
  readonly beforeFinalize: (() => Promise<void>)[] = [];

  /** True once the runtime shut down; every communication call then rejects. */
  get finalized(): boolean {
    return this.finalizing;
  }

  /** Throws `ERR_TSMPI_FINALIZED` once the runtime has shut down. */
  checkAlive(what: string): void {
    if (this.finalizing) throw new TsmpiError("ERR_TSMPI_FINALIZED", `${what} after tsmpi finalized (the script had finished)`);
  }

  /**
   * Shuts down: waits for large messages to arrive, tells the peers this rank finished (BYE),
   * hands queued messages on, closes the transport, tells the coordinator. The waits end once
   * nothing moved for `lingerMs` (`TSMPI_LINGER_MS`; a PoolExecutor leaving a dead worker's job
   * passes 0): a peer that finished drops what waits for it at once (its BYE), a receiver that
   * takes nothing ends them after `lingerMs`. What was not received is dropped, and said on
   * stderr (how many messages, to which ranks) unless `quiet`. Runs once; later calls return
   * the same promise.
   */
  async finalize(lingerMs = config().lingerMs, quiet = false): Promise<void> {
    this.finalizing = true;
    this.finalized0 ??= this.shutDown(lingerMs, quiet);
    return this.finalized0;
  }

  /** The shutdown in progress, once started (finalize runs once). */
  private finalized0: Promise<void> | undefined;

  private async shutDown(lingerMs: number, quiet: boolean): Promise<void> {
    // Waits only while the data moves: a receiver that takes nothing for lingerMs ends it.
    const linger = new Linger(lingerMs, () => this.p2p.progress());
    try {
      await this.p2p.flush(Infinity, linger.expired);
      await this.p2p.farewell(lingerMs);
      await this.transport?.close(lingerMs === 0 ? 0 : Infinity, linger.expired);
    } finally {
      linger.stop(); // its timer would keep the process alive
    }
    const lost = [...this.p2p.unreceived()].sort((a, b) => a[0] - b[0]);
    if (lost.length > 0 && !quiet) {
      const what = lost.map(([r, n]) => `${n.exact ? "" : "at least "}${n.count} to rank ${r}`).join(", ");
      process.stderr.write(
        `tsmpi: warning: rank ${this.rank} finished with messages that were never received: ${what} (the receiver finished without receiving them, or took nothing for TSMPI_LINGER_MS=${lingerMs} ms)\n`,
      );
    }
    this.client?.bye();
    // Serving the rendezvous, stay until every rank finished, or the others would think rank 0 died.
    if (this.server) {
      this.server.hold(true);
      await this.server.allFinished();
      this.server.close();
    }
  }

  /** A fatal transport error: report it and end this rank (the job then ends). */
  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.client?.report({ t: "error", reason: message });
    this.end(1, `rank ${this.rank}: ${message}`);
  }

  /** Ends the whole job with `code` (`MPI_Abort`): tells the coordinator, then exits. */
  abort(code: number, reason: string): never {
    this.client?.report({ t: "abort", code, reason });
    this.exitNow(code);
  }

  private exitNow(code: number): never {
    process.exit(code);
  }
}
