/**
 * Single-copy access to the memory of same-host ranks (`process_vm_readv`, via the native
 * addon): which peers share this rank's host and memory domain, to which of them large payloads
 * are lent by address, the addon once this process was made readable by them, and direct
 * access to a group's memory for single-copy collectives ({@link PeerMemory}).
 *
 * A part of the point-to-point protocol (`protocol.ts`) of its own because it is the one place
 * that decides whether memory is shared: the protocol asks it whether to lend a payload and to
 * read one, collectives ask it for a group's memory, and all of them see the same answer.
 *
 * @module
 */
import type { Config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { getBinding, type NativeBinding } from "../native.js";
import { kindCode, type TypedArray } from "../serializer.js";
import { peerTracer } from "../transport/host.js";

/**
 * Direct access to the memory of the other members of a group, all on this host (single-copy
 * collectives, `collectives/peer.ts`). Ranks are ranks of the group.
 */
export interface PeerMemory {
  /** The address of an array's elements, to publish to the other members. */
  addressOf(array: TypedArray): bigint;
  /** Copies `byteLength` bytes at `address` in `rank`'s memory into `into` at `intoByteOffset`. */
  read(rank: number, address: bigint, byteLength: number, into: TypedArray, intoByteOffset: number): void;
  /** `into = op(into, rank's elements at address)` in one pass; false when not handled natively. */
  reduce(rank: number, address: bigint, into: TypedArray, op: string): boolean;
  /** Whether every member can read every other, once they agreed on it (undefined: not yet checked). */
  verified: boolean | undefined;
}

/** Stands in for the addon where it is missing: nothing is readable, every read fails. */
const NO_PEER_ACCESS: Pick<NativeBinding, "addressOf" | "peerRead" | "peerReduce"> = {
  addressOf: () => 0n,
  peerRead: () => {
    throw new TsmpiError("ERR_TSMPI_TRANSPORT", "single-copy reads need the native addon");
  },
  peerReduce: () => false,
};

const NATIVE_OPS: Record<string, number> = { SUM: 0, PROD: 1, MAX: 2, MIN: 3 };

/** The same-host peers of one process and single-copy access to their memory. */
export class SameHostPeers {
  /** Same-host ranks of this memory domain, by world rank, whatever `TSMPI_CMA` says: only they may send single-copy frames. */
  private sameHost: boolean[] = [];
  /**
   * Ranks of this host and memory domain (their pids), by world rank: the same on every rank, so
   * collectives choose alike from it.
   */
  private peers: ({ pid: number } | null)[] = [];
  /** Peers single-copy messages are sent to; one is dropped for good when a read from it failed. */
  private readonly lendable = new Set<number>();
  /** The native addon with this process readable by its peers, once tried (null: unavailable). */
  private cma: NativeBinding | null | undefined;
  /** Agreed single-copy access per group (world ranks joined by commas). */
  private readonly verifiedGroups = new Map<string, boolean>();

  constructor(
    /** This process's world rank. */
    private readonly rank: number,
    private readonly cfg: Config,
  ) {}

  /**
   * Sets the same-host peers whose memory single-copy transfers use (null where not), by world
   * rank.
   */
  set(peers: ({ pid: number } | null)[]): void {
    this.sameHost = peers.map((p) => p !== null);
    this.peers = this.cfg.cma ? peers : [];
    this.lendable.clear();
    this.peers.forEach((p, w) => p && this.lendable.add(w));
  }

  /** Whether world rank `w` shares this rank's host and memory domain (it may send single-copy frames). */
  shares(w: number): boolean {
    return this.sameHost[w] === true;
  }

  /** The addon to lend payloads to world rank `dest` by address, or null when they are not lent to it. */
  lenderTo(dest: number): NativeBinding | null {
    return this.lendable.has(dest) ? this.access() : null;
  }

  /** Stops lending payloads to world rank `dest` (a read by it, or from it, failed). */
  stopLending(dest: number): void {
    this.lendable.delete(dest);
  }

  /**
   * Copies `byteLength` bytes at `address` in world rank `wsrc`'s memory into `target`; false
   * (and no more lending to `wsrc`) when that cannot be done, or when there is no `target`.
   */
  read(wsrc: number, address: bigint, byteLength: number, target: Uint8Array | undefined): boolean {
    const peer = this.peers[wsrc];
    const native = peer ? this.access() : null;
    try {
      if (!native || this.cfg.cmaFailReads || !target) throw new Error("no single-copy access to this peer");
      native.peerRead(peer!.pid, address, byteLength, target, 0);
      return true;
    } catch {
      this.lendable.delete(wsrc);
      return false;
    }
  }

  /**
   * Direct access to the memory of every member of `group` (world ranks) but this rank, when
   * all are single-copy peers on this host; undefined otherwise.
   */
  memoryOf(group: readonly number[]): PeerMemory | undefined {
    if (group.length < 2 || !group.every((w) => w === this.rank || this.peers[w])) return undefined;
    // Without the addon this rank still takes part (publishing nothing readable), so that the
    // members' check fails on all of them alike.
    const native = (!this.cfg.cmaFailReads && this.access()) || NO_PEER_ACCESS;
    const pid = (r: number) => this.peers[group[r]!]!.pid;
    const key = group.join(",");
    const verified = this.verifiedGroups;
    return {
      addressOf: (array) => native.addressOf(array),
      read: (r, address, byteLength, into, intoByteOffset) => native.peerRead(pid(r), address, byteLength, into, intoByteOffset),
      reduce: (r, address, into, op) =>
        op in NATIVE_OPS && native.peerReduce(pid(r), address, into.byteLength, into, 0, kindCode(into), NATIVE_OPS[op]!),
      get verified() {
        return verified.get(key);
      },
      set verified(ok) {
        verified.set(key, ok === true);
      },
    };
  }

  /**
   * The addon for single-copy transfers, loaded on first use; null when unavailable. Readable
   * only by the nearest common ancestor of this rank and its same-host peers and that
   * ancestor's descendants, when that ancestor is the job's (tsmpirun, slurmstepd: see
   * {@link peerTracer}); else null: no single-copy reads (see native/README.md).
   */
  private access(): NativeBinding | null {
    if (this.cma === undefined) {
      const b = getBinding();
      const peers = this.peers.flatMap((p) => (p ? [p.pid] : []));
      const tracer = peerTracer(process.pid, peers);
      this.cma = b && tracer !== undefined && b.allowPeerAccess(tracer) ? b : null;
    }
    return this.cma;
  }
}
