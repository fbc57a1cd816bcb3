/**
 * The small transport interface collective algorithms run over, and its implementation on a
 * communicator's collective context.
 *
 * Each collective call gets its own tag from a per-communicator sequence number taken when the
 * call is issued, so several outstanding collectives never mix (MPI matches them by issue
 * order) and none ever matches user point-to-point traffic (a different context).
 *
 * Errors never hang the others: when a call fails on one rank (bad argument, size mismatch), that
 * rank sends an error notice to every member; a rank still waiting in the same call rejects
 * with the same code. Tracing (`TSMPI_TRACE=collectives`) prints each call's message counts.
 *
 * @module
 */
import { ANY_SOURCE, TAG_UB } from "../constants.js";
import { TsmpiError, type TsmpiErrorCode } from "../errors.js";
import type { PeerMemory } from "../p2p/peer-memory.js";
import type { PointToPoint } from "../p2p/protocol.js";
import { readInto, readObject } from "../p2p/receive.js";
import { packObject, unpackObject } from "../serializer.js";
import { trace, tracing } from "../trace.js";
import { algorithmName } from "./select.js";

/** What a collective algorithm needs: ranked byte messages to and from the other members. */
export interface Channel {
  readonly rank: number;
  readonly size: number;
  /**
   * Sends `data` to `dest`; resolves when `data` may be changed again. `owned` promises the
   * bytes are private to this message (no copy or arrival wait needed).
   */
  send(dest: number, data: Uint8Array, owned?: boolean): Promise<void>;
  /**
   * Receives the next message from `src`: into `into`, which it must fill exactly, or into a
   * new array.
   */
  recv(src: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * The algorithm this rank chose for the call (see `select.ts`); messages carry it, so ranks
   * that chose differently (mismatched sizes) fail instead of waiting for each other.
   */
  algorithm?: number;
  /** Direct access to the other members' memory when all are on this host (see `peer.ts`). */
  readonly peerMemory?: PeerMemory;
}

const UINT8 = 2;
const TRACE = tracing("collectives");

/** Error notices carry this (msgpack). */
interface Notice {
  code: TsmpiErrorCode;
  message: string;
  rank: number;
}

/** A {@link Channel} for one collective call on a communicator. */
export class CollectiveChannel implements Channel {
  private readonly tag: number;
  private sends = 0;
  private recvs = 0;
  private bytes = 0;
  private remote: TsmpiError | undefined;
  private readonly waiting = new Set<(err: TsmpiError) => void>();
  private cancelNotice: (() => boolean) | undefined;
  /** This rank's own failure, once {@link fail} was called. */
  private failure: TsmpiError | undefined;
  algorithm = 0;

  constructor(
    private readonly p2p: PointToPoint,
    /** The communicator's collective context id. */
    private readonly ctx: number,
    readonly rank: number,
    /** World rank of each member. */
    private readonly group: readonly number[],
    seq: number,
    /** The collective's name, for messages and traces. */
    readonly name: string,
  ) {
    this.tag = (seq * 2) % (TAG_UB - 1);
  }

  get size(): number {
    return this.group.length;
  }

  private peers: PeerMemory | null | undefined;

  get peerMemory(): PeerMemory | undefined {
    if (this.peers === undefined) this.peers = this.p2p.peerMemory(this.group) ?? null;
    return this.peers ?? undefined;
  }

  send(dest: number, data: Uint8Array, owned = false): Promise<void> {
    if (this.remote) return quiet(Promise.reject(this.remote));
    this.sends++;
    this.bytes += data.byteLength;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return new Promise((resolve) => {
      this.p2p.send(
        this.ctx,
        this.rank,
        this.group[dest]!,
        this.tag,
        { raw: true, dtype: UINT8, bytes, mode: owned ? "owned" : "borrow", algo: this.algorithm },
        false,
        resolve,
      );
    });
  }

  recv(src: number, into?: Uint8Array): Promise<Uint8Array> {
    // listen first: a notice that arrived before this rank entered the call fails it right here
    this.watchNotices();
    if (this.remote) return quiet(Promise.reject(this.remote));
    this.recvs++;
    const received = new Promise<Uint8Array>((resolve, reject) => {
      let cancel: (() => boolean) | undefined;
      const fail = (err: TsmpiError): void => {
        cancel?.();
        reject(err);
      };
      this.waiting.add(fail);
      const settle = (err: unknown, value?: Uint8Array): void => {
        this.waiting.delete(fail);
        if (err) reject(err);
        else resolve(value!);
      };
      cancel = this.p2p.receive(this.ctx, src, this.tag, (msg) => {
        if (msg.algo !== this.algorithm) {
          msg.drainTo(() => {});
          const err = new TsmpiError(
            "ERR_TSMPI_COUNT",
            `${this.name}: rank ${src} chose another algorithm than rank ${this.rank} (mismatched buffer sizes or arguments across ranks?)`,
          );
          return msg.whenComplete(() => settle(err));
        }
        if (!into) return readObject(msg, (value, err) => settle(err, value as Uint8Array));
        readInto(msg, into, (count, err) => {
          if (!err && count !== into.byteLength) {
            err = new TsmpiError(
              "ERR_TSMPI_COUNT",
              `${this.name}: rank ${src} sent ${count} bytes where rank ${this.rank} expected ${into.byteLength} (mismatched buffer sizes?)`,
            );
          }
          settle(err, into);
        });
      });
    });
    return quiet(received);
  }

  /** Listens (once per call) for another rank's error notice. */
  private watchNotices(): void {
    if (this.cancelNotice) return;
    this.cancelNotice = this.p2p.receive(this.ctx, ANY_SOURCE, this.tag + 1, (msg) =>
      readObject(msg, (value) => {
        const n = unpackObject(value as Uint8Array) as Notice;
        this.remote = new TsmpiError(n.code, `${this.name} failed on rank ${n.rank}: ${n.message}`);
        for (const fail of this.waiting) fail(this.remote);
        this.waiting.clear();
      }),
    );
  }

  /**
   * Tells every other member this call failed here (unless the failure came from one of them).
   * An error other than a TsmpiError can only come from an op (a user op, or a JavaScript
   * operator on objects), so the others see it as `ERR_TSMPI_OP`.
   */
  fail(err: unknown): void {
    this.failure ??=
      err instanceof TsmpiError
        ? err
        : new TsmpiError("ERR_TSMPI_OP", err instanceof Error ? `${err.name}: ${err.message}` : String(err), { cause: err });
    const e = this.failure;
    if (this.remote) return;
    const notice = packObject({ code: e.code, message: e.message, rank: this.rank } satisfies Notice);
    for (let r = 0; r < this.size; r++) {
      // not to itself (by world rank: an intercommunicator's channel spans the remote group, where rank r is another process)
      if (this.group[r] === this.p2p.rank) continue;
      this.p2p.send(
        this.ctx,
        this.rank,
        this.group[r]!,
        this.tag + 1,
        { raw: true, dtype: UINT8, bytes: notice, mode: "owned" },
        false,
        () => {},
      );
    }
  }

  /**
   * Ends the call: stops listening for notices and writes the trace line if enabled. A failed
   * call can leave receives posted (the other halves of a `Promise.all`); they are withdrawn, as
   * a posted receive keeps the process waiting for a message that may never come.
   */
  close(): void {
    this.cancelNotice?.();
    if (this.waiting.size > 0) {
      const failure = this.remote ?? this.failure ?? new TsmpiError("ERR_TSMPI_INTERNAL", `${this.name} ended with a receive still posted`);
      for (const fail of this.waiting) fail(failure);
      this.waiting.clear();
    }
    if (TRACE)
      trace("collectives", {
        name: this.name,
        rank: this.rank,
        size: this.size,
        algorithm: algorithmName(this.algorithm),
        sends: this.sends,
        recvs: this.recvs,
        bytes: this.bytes,
      });
  }
}

/**
 * Marks `p` handled and returns it: awaiting it still throws, but an algorithm that gave up on it
 * (it failed on another message of the same call) does not leave an unhandled rejection, which
 * would end the process.
 */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Packs several byte strings into one: `u32 count, u32 length each, bytes...`. */
export function bundle(parts: readonly Uint8Array[]): Uint8Array {
  const head = 4 * (parts.length + 1);
  let total = head;
  for (const p of parts) total += p.byteLength;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(parts.length, 0);
  let off = head;
  parts.forEach((p, i) => {
    out.writeUInt32LE(p.byteLength, 4 * (i + 1));
    out.set(p, off);
    off += p.byteLength;
  });
  return out;
}

/** Inverse of {@link bundle} (views into `data`, no copies). */
export function unbundle(data: Uint8Array): Uint8Array[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = b.readUInt32LE(0);
  const parts: Uint8Array[] = [];
  let off = 4 * (n + 1);
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32LE(4 * (i + 1));
    parts.push(b.subarray(off, off + len));
    off += len;
  }
  return parts;
}
