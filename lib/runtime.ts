/**
 * The runtime of one rank: joins the job on import (or forms a world of one), owns the
 * transport, the matching engine and the coordinator connection, finalizes by itself when the
 * script has nothing left to do, and aborts the job when asked or when this rank fails.
 *
 * Launch modes: under `tsmpirun` (`TSMPI_COORD` set: join its coordinator); plain `node script`
 * (a world of one: no sockets at all).
 *
 * Finalization: a pending zeromq.js receive keeps a process alive, so the transport receives
 * only while something waits for a message. When nothing does and the user's code has nothing
 * left either, Node emits `beforeExit`; then queued messages are handed to ZeroMQ (which sends
 * them within the linger time), the coordinator hears `bye`, and the process exits.
 *
 * @module
 */
import os from "node:os";
import { config } from "./config.js";
import { TsmpiError } from "./errors.js";
import { MatchingEngine } from "./matching.js";
import { PointToPoint } from "./p2p.js";
import { RendezvousClient } from "./rendezvous.js";
import type { ZmqTransport } from "./transport/zmq.js";

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

/** How this rank was started. */
export type LaunchMode = "singleton" | "tsmpirun";

function envInt(name: string, min: number, max: number): number {
  const raw = process.env[name];
  const n = Number(raw);
  if (raw === undefined || raw === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** One rank's runtime state. */
export class Runtime {
  readonly engine = new MatchingEngine();
  readonly p2p: PointToPoint;
  /** World rank of every host name, by world rank. */
  hosts: string[];
  private transport: ZmqTransport | null = null;
  private client: RendezvousClient | null = null;
  private finalizing = false;

  private constructor(
    readonly mode: LaunchMode,
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
    readonly localSize: number,
  ) {
    this.p2p = new PointToPoint(rank, this.engine, config());
    this.hosts = [os.hostname()];
  }

  /** Joins the job this process belongs to, or forms a world of one. */
  static async init(): Promise<Runtime> {
    const env = process.env;
    if (!env.TSMPI_COORD) {
      const rt = new Runtime("singleton", 0, 1, 0, 1);
      rt.installHooks();
      return rt;
    }
    const size = envInt("TSMPI_SIZE", 1, 2 ** 20);
    const rank = envInt("TSMPI_RANK", 0, size - 1);
    const localSize = envInt("TSMPI_LOCAL_SIZE", 1, size);
    const localRank = envInt("TSMPI_LOCAL_RANK", 0, localSize - 1);
    const rt = new Runtime("tsmpirun", rank, size, localRank, localSize);
    await rt.join(env.TSMPI_COORD, env.TSMPI_JOB_KEY ?? "", env.TSMPI_JOB_DIR);
    rt.installHooks();
    return rt;
  }

  private async join(coordinator: string, key: string, jobDir: string | undefined): Promise<void> {
    const host = os.hostname();
    let addr: string | null = null;
    if (this.size > 1) {
      if (!jobDir) throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", "TSMPI_JOB_DIR is not set");
      const { ZmqTransport } = await import("./transport/zmq.js");
      this.transport = await ZmqTransport.bind(this.rank, `ipc://${jobDir}/r${this.rank}.sock`, this.p2p.onFrames, (err) => this.fail(err));
      this.p2p.attach(this.transport);
      addr = this.transport.endpoint;
    }
    const hello = { t: "hello" as const, key, rank: this.rank, size: this.size, pid: process.pid, host, addr };
    this.client = await RendezvousClient.join(
      coordinator,
      hello,
      config().rendezvousTimeout * 1000,
      (code) => this.exitNow(code),
      () => {
        process.stderr.write(`tsmpi: rank ${this.rank} lost its coordinator (the launcher is gone); exiting\n`);
        this.exitNow(1);
      },
    );
    this.hosts = this.client.hosts;
    this.transport?.setPeers(this.client.addrs.map((a, r) => a ?? `unreachable:${r}`));
  }

  private installHooks(): void {
    process.on("beforeExit", () => {
      if (!this.finalizing) void this.finalize();
    });
    if (!this.client) return;
    process.on("uncaughtExceptionMonitor", (err, origin) => {
      const what = origin === "unhandledRejection" ? "unhandled rejection" : "uncaught exception";
      this.client?.report({ t: "error", reason: `${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` });
    });
  }

  /** True once the runtime shut down; every communication call then rejects. */
  get finalized(): boolean {
    return this.finalizing;
  }

  /** Throws `ERR_TSMPI_FINALIZED` once the runtime has shut down. */
  checkAlive(what: string): void {
    if (this.finalizing) throw new TsmpiError("ERR_TSMPI_FINALIZED", `${what} after tsmpi finalized (the script had finished)`);
  }

  /** Shuts down: hands queued messages to ZeroMQ, closes sockets, tells the coordinator. */
  async finalize(): Promise<void> {
    this.finalizing = true;
    await this.p2p.flush(config().lingerMs);
    await this.transport?.close(config().lingerMs);
    this.client?.bye();
  }

  /** A fatal transport error: report it and end this rank (the job then ends). */
  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tsmpi: rank ${this.rank}: ${message}\n`);
    this.client?.report({ t: "error", reason: message });
    this.exitNow(1);
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
