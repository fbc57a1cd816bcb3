/**
 * The choice of path per peer, and the {@link Transport} that sends each message along it.
 *
 * Every rank advertises its endpoints at the rendezvous: `ipc://` (same host), `tcp://` (other
 * hosts, when the job spans hosts) and `shm://` (its shared-memory inbox, when the native addon
 * is there and `TSMPI_SHM` is not `0`). For each peer the rank picks, once, after the rendezvous:
 *
 * 1. `shm` when the peer is on this host, in the same kernel boot and pid namespace (a pid names
 *    the same process), and both have an inbox that this rank could open;
 * 2. `ipc` (ZeroMQ over a Unix socket) for other peers on this host;
 * 3. `tcp` (ZeroMQ) for peers on other hosts.
 *
 * Same-host waits poll shared memory only when some peer uses it, and for at most
 * {@link MIXED_SPIN_US} when ZeroMQ peers may send too (a poll holds the event loop, so it would
 * delay their messages; asking the ZeroMQ socket whether one waits would swallow the edge its
 * event-loop watcher needs). Both ends decide
 * alike from the same table, and each (sender, receiver) pair then uses one path
 * for the whole job, so MPI's non-overtaking order per sender holds whatever the path; an
 * `ANY_SOURCE` receive sees every path, since all of them hand their messages to one handler.
 *
 * @module
 */
import os from "node:os";
import { TsmpiError } from "../errors.js";
import { waitPolicy } from "./polling.js";
import type { ShmTransport } from "./shm.js";
import type { Transport } from "./transport.js";
import type { ZmqTransport } from "./zmq.js";

/** The polling window (microseconds) of a rank that also has peers on ZeroMQ paths. */
export const MIXED_SPIN_US = 10;

/**
 * How long one ZeroMQ receive waits (ms) on a rank that has shared-memory peers. A waiter whose
 * message came through shared memory leaves a ZeroMQ receive pending, and that receive keeps the
 * process alive until it times out: a rank would otherwise exit up to 250 ms late.
 */
export const SHM_ZMQ_POLL_MS = 10;

/** How this rank reaches a peer (`self`: itself, never through a transport). */
export type PeerPath = "self" | "shm" | "ipc" | "tcp";

/** What the rendezvous tells every rank about every rank. */
export interface PeerTable {
  /** Endpoints by world rank. */
  addrs: readonly (readonly string[])[];
  /** Host names by world rank. */
  hosts: readonly string[];
  /** Memory domains (kernel boot and pid namespace) by world rank; "" when unknown. */
  domains: readonly string[];
}

/** Picks the ZeroMQ endpoint to reach a peer: its ipc:// one on this host, else its tcp:// one. */
function zmqEndpoint(addrs: readonly string[], sameHost: boolean, rank: number, host: string): string {
  const ipc = addrs.find((a) => a.startsWith("ipc://"));
  const tcp = addrs.find((a) => a.startsWith("tcp://"));
  const chosen = sameHost ? (ipc ?? tcp) : tcp;
  if (!chosen)
    throw new TsmpiError(
      "ERR_TSMPI_RENDEZVOUS",
      `rank ${rank} on ${host} has no endpoint reachable from ${os.hostname()} (it offered ${addrs.join(", ") || "none"})`,
    );
  return chosen;
}

/** The transport of a rank: ZeroMQ for some peers, shared memory for others. */
export class PathTransport implements Transport {
  private viaShm: boolean[] = [];
  /** The path to each peer, by world rank (set by {@link setPeers}). */
  paths: PeerPath[] = [];
  /** Why a same-host peer is not reached through shared memory, by world rank, where it is not. */
  readonly shmRefused = new Map<number, string>();

  constructor(
    readonly rank: number,
    private readonly zmq: ZmqTransport,
    private readonly shm: ShmTransport | null,
  ) {
    zmq.onGone = (dest) => this.onGone?.(dest);
  }

  onGone: ((dest: number) => void) | undefined;

  /** This rank's endpoints, for the rendezvous. */
  get endpoints(): string[] {
    return this.shm ? [...this.zmq.endpoints, this.shm.endpoint] : [...this.zmq.endpoints];
  }

  /** The shared-memory transport, when this rank has one. */
  get shared(): ShmTransport | null {
    return this.shm;
  }

  /** Chooses every peer's path from the rendezvous table (see the module comment). */
  setPeers(table: PeerTable): void {
    const me = this.rank;
    const host = table.hosts[me]!;
    const domain = table.domains[me] ?? "";
    const zmqEndpoints: string[] = [];
    this.paths = table.hosts.map((h, r) => {
      if (r === me) {
        zmqEndpoints.push("");
        return "self";
      }
      const sameHost = h === host;
      const shmEndpoint = table.addrs[r]!.find((a) => a.startsWith("shm://"));
      if (sameHost && this.shm && shmEndpoint && domain !== "" && table.domains[r] === domain) {
        const opened = this.shm.connect(r, shmEndpoint);
        if (opened.ok) {
          zmqEndpoints.push("");
          return "shm";
        }
        this.shmRefused.set(r, opened.why);
      }
      zmqEndpoints.push(zmqEndpoint(table.addrs[r]!, sameHost, r, h));
      return sameHost && zmqEndpoints[r]!.startsWith("ipc://") ? "ipc" : "tcp";
    });
    this.viaShm = this.paths.map((p) => p === "shm");
    // No peer can write into this rank's inbox (none shares its host and memory domain with an
    // inbox of its own; one that could not open ours back still counts): stop looking at it, or
    // a rank alone on its host pays a pump per wait for nothing.
    if (
      !table.hosts.some(
        (h, r) =>
          r !== me && h === host && domain !== "" && table.domains[r] === domain && table.addrs[r]!.some((a) => a.startsWith("shm://")),
      )
    )
      this.shm?.unused();
    this.shm?.connected();
    this.zmq.setPeers(zmqEndpoints);
    // Poll shared memory only when a peer uses it, and only briefly when ZeroMQ peers may send
    // too: a poll holds the event loop, and with it their messages.
    const ranksHere = table.hosts.filter((h) => h === host).length;
    const shmPeers = this.viaShm.filter(Boolean).length;
    const zmqPeers = this.paths.filter((p) => p === "ipc" || p === "tcp").length;
    const policy = waitPolicy(ranksHere);
    if (shmPeers > 0) this.zmq.setReceivePoll(SHM_ZMQ_POLL_MS);
    if (shmPeers === 0) this.shm?.setWaitPolicy({ ...policy, mode: "sleep", spinUs: 0 });
    else
      this.shm?.setWaitPolicy(
        zmqPeers > 0 && policy.spinUs > MIXED_SPIN_US && !process.env.TSMPI_SPIN_US ? { ...policy, spinUs: MIXED_SPIN_US } : policy,
      );
  }

  send(dest: number, frames: Buffer[], sent?: () => void, borrowed?: boolean): void {
    if (this.viaShm[dest]) this.shm!.send(dest, frames, sent, borrowed);
    else this.zmq.send(dest, frames, sent);
  }

  copiesBorrowed(dest: number): boolean {
    return this.viaShm[dest] === true;
  }

  lending(dest: number, bytes: number): void {
    if (this.viaShm[dest]) this.shm!.lending(bytes);
  }

  hold(): void {
    this.zmq.hold();
    this.shm?.hold();
  }

  release(): void {
    this.zmq.release();
    this.shm?.release();
  }

  poke(): void {
    this.zmq.poke();
    this.shm?.poke();
  }

  /** Closes both paths, each bounded by `lingerMs` and `giveUp` (in parallel, so the whole close is too). */
  async close(lingerMs: number, giveUp?: Promise<void>): Promise<void> {
    await Promise.all([this.zmq.close(lingerMs, giveUp), this.shm?.close(lingerMs, giveUp)]);
  }

  progress(): number {
    return this.zmq.progress() + (this.shm?.progress() ?? 0);
  }

  nearby(dest: number): boolean {
    return this.viaShm[dest] === true;
  }

  abandon(dest: number): void {
    if (this.viaShm[dest]) this.shm!.abandon(dest);
    else this.zmq.abandon(dest);
  }

  undelivered(): Map<number, number> {
    const out = this.zmq.undelivered();
    for (const [dest, n] of this.shm?.undelivered() ?? []) out.set(dest, (out.get(dest) ?? 0) + n);
    return out;
  }

  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([this.zmq.drain(timeoutMs), this.shm?.drain()]);
  }
}
