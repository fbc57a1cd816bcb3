/**
 * The point-to-point protocol between ranks, over a {@link Transport} and the {@link MatchingEngine}.
 *
 * Sends are eager: a payload the sender may not keep (`copy`), or a small buffer-tier payload,
 * is copied and the send completes at once. A buffer-tier payload larger than the eager limit is
 * sent without a copy (`borrow`) and completes when the receiver's process has all its bytes (an
 * ARRIVAL ack), so MPI's "the buffer may be reused once Send returns" holds without copying large
 * arrays. `ssend` completes when the receiver matched the message (a SYNC ack). Payloads larger
 * than the chunk size travel in pieces that the receiver copies while the next is in flight.
 * Large eager messages also ask for an ARRIVAL ack, which only finalization waits for: a rank
 * that finishes right after a big send leaves once the data is out, not when a timer expires.
 * Messages to oneself never touch the transport.
 *
 * Between ranks of one host, a payload from the CMA threshold on does not cross the socket at
 * all (as Open MPI's CMA): the message carries the payload's address, the receiver copies it
 * straight out of the sender's memory (`process_vm_readv`, via the native addon) into the
 * matched receive buffer, or into a buffer of its own when no receive matches yet, so a sender
 * never waits for a matching receive, and acks; the sender keeps the payload until then. A
 * receiver that cannot read the sender asks for the bytes (RESEND), which then come as CHUNKs.
 * Single-copy frames are accepted only from ranks of this host and memory domain (`peer-memory.ts`).
 *
 * Finishing: a rank that finalizes tells the peers that may still send to it (BYE), with how
 * many of their messages it received. A peer drops what it still queues for a
 * finished rank (it can never be received), so an erroneous program whose sends nobody
 * receives still ends, and each rank says at exit how many of its messages to which ranks were
 * never received ({@link PointToPoint.unreceived}).
 *
 * Bounds on what peers make this rank hold: a message's announced size is at most what one
 * buffer can hold; at most one message per sender arrives in pieces at a time (pieces of one
 * message follow each other on the sender's one path), so a message whose pieces stop coming is
 * freed when the sender's next one starts; at most {@link INFLIGHT_PER_SENDER} single-copy
 * messages per sender wait for their bytes (`arrivals.ts`). Turning a matched message into a
 * value or an array is `receive.ts`'s; matching it to a receive, `matching.ts`'s.
 *
 * Size: about 630 lines because the protocol is one state machine: sends, acks,
 * incoming frames and finishing all read and change the same per-message tables (loans, acks
 * awaited, undelivered messages, finished peers). What has its own state already left
 * (`arrivals.ts`, `peer-memory.ts`, `receive.ts`); splitting the rest would make those tables
 * public to several modules on the hottest path of the library.
 *
 * @module
 */
import type { Config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { isKindCode } from "../serializer.js";
import { trace, tracing } from "../trace.js";
import {
  FLAG_ARRIVAL,
  FLAG_INLINE,
  FLAG_PEER,
  FLAG_RAW,
  FLAG_SYNC,
  HEADER_BYTES,
  KIND_ACK,
  KIND_BYE,
  KIND_CHUNK,
  KIND_MSG,
  KIND_RESEND,
  decodeHeader,
  encodeHeader,
  frameProblem,
  type Header,
} from "../transport/frame.js";
import type { Transport } from "../transport/transport.js";
import { Arrivals, INFLIGHT_PER_SENDER } from "./arrivals.js";
import { InMsg, type MatchingEngine } from "./matching.js";
import { SameHostPeers, type PeerMemory } from "./peer-memory.js";

/** Payloads up to this size ride in the header frame (one frame, one small copy). */
const INLINE_MAX = 8192;

/**
 * What to send. `mode` says who owns `bytes`: `owned` (private to the message, e.g. msgpack
 * output), `copy` (the caller may change them once the send returns: copy now), `borrow` (the
 * caller keeps them unchanged until the send completes: copy only when small).
 */
export interface OutPayload {
  raw: boolean;
  dtype: number;
  bytes: Buffer;
  mode: "owned" | "copy" | "borrow";
  /** Collective algorithm id (collectives only). */
  algo?: number;
}

/** Point-to-point messaging of one process. */
export class PointToPoint {
  private seq = 0;
  private readonly acks = new Map<number, { remaining: number; done: () => void; dest: number; remote: boolean }>();
  /** Large eager messages not yet known to have arrived (finalize waits for them): their destination by sequence number. */
  private readonly undelivered = new Map<number, number>();
  private delivered: (() => void) | undefined;
  /** Messages still waiting for bytes (arriving in pieces, or still at the sender). */
  private readonly arrivals = new Arrivals();
  /**
   * Point-to-point messages sent to each world rank (not counting this one). Only those of the
   * communicators' point-to-point contexts (even ids): a collective's own traffic includes
   * notices that are never received by design (see `collectives/channel.ts`).
   */
  private readonly sentTo: number[] = [];
  /** Point-to-point messages from each world rank that a receive matched (this rank's BYE tells each). */
  private readonly matchedFrom: number[] = [];
  /**
   * Ranks that finished (said BYE), with how many of this rank's messages they received, or
   * that the transport found gone (undefined: not known).
   */
  private readonly finished = new Map<number, number | undefined>();
  private transport: Transport | null = null;
  /** Same-host peers and single-copy access to their memory. */
  private readonly local: SameHostPeers;
  /** Payloads sent by address, kept until the receiver acks (or asks to resend). */
  private readonly lent = new Map<number, { bytes: Buffer; dest: number; header: Header }>();

  constructor(
    /** This process's world rank. */
    readonly rank: number,
    readonly engine: MatchingEngine,
    private readonly cfg: Config,
  ) {
    this.local = new SameHostPeers(rank, cfg);
  }

  /**
   * Connects the transport (absent in a world of one). `token` proves frames belong to the job;
   * frames claiming a sender outside `[0, worldSize)` are dropped.
   */
  attach(transport: Transport, token: readonly [number, number], worldSize = 0): void {
    this.transport = transport;
    transport.onGone = (r) => this.peerFinished(r, undefined);
    [this.token0, this.token1] = token;
    this.worldSize = worldSize;
  }

  private token0 = 0;
  private token1 = 0;
  /** The number of ranks in the job (0: not told; senders are then not checked). */
  private worldSize = 0;

  /**
   * Sets the same-host peers whose memory single-copy transfers use (null where not), by world
   * rank.
   */
  setPeers(peers: ({ pid: number } | null)[]): void {
    this.local.set(peers);
  }

  /**
   * Direct access to the memory of every member of `group` (world ranks) but this rank, when
   * all are single-copy peers on this host; undefined otherwise.
   */
  peerMemory(group: readonly number[]): PeerMemory | undefined {
    return this.local.memoryOf(group);
  }

  private link(dest: number): Transport {
    if (!this.transport) throw new TsmpiError("ERR_TSMPI_INTERNAL", `no transport to reach world rank ${dest}`);
    return this.transport;
  }

  /**
   * Sends `payload` on context `ctx` as rank `src` of the communicator to world rank `dest`.
   * Calls `done` when the send is complete (at once for eager sends).
   */
  send(ctx: number, src: number, dest: number, tag: number, payload: OutPayload, sync: boolean, done: () => void): void {
    const seq = (this.seq + 1) >>> 0;
    this.seq = seq;
    const total = payload.bytes.byteLength;
    let flags = (payload.raw ? FLAG_RAW : 0) | (sync ? FLAG_SYNC : 0);
    if (dest === this.rank) {
      const msg = new InMsg(ctx, src, tag, flags, payload.dtype, dest, seq, total, payload.algo ?? 0);
      msg.add(payload.mode === "owned" ? payload.bytes : Buffer.from(payload.bytes));
      if (sync) this.expectAcks(seq, 1, done, false);
      this.engine.arrive(msg);
      if (!sync) done();
      return;
    }
    const t = this.link(dest);
    if (ctx % 2 === 0) this.sentTo[dest] = (this.sentTo[dest] ?? 0) + 1;
    // A finished rank receives nothing more: the send never completes, and is counted among
    // those never received (reported at exit).
    if (this.finished.has(dest)) return;
    const large = total > this.cfg.eagerLimit;
    const borrow = payload.mode === "borrow" && large;
    if (large) flags |= FLAG_ARRIVAL; // borrowed: the send waits for it; eager: finalize does
    if (large && !borrow) this.undelivered.set(seq, dest);
    const waits = (sync ? 1 : 0) + (borrow ? 1 : 0);
    if (waits > 0) this.expectAcks(seq, waits, done, true, dest);
    const header: Header = {
      kind: KIND_MSG,
      flags,
      dtype: payload.dtype,
      algo: payload.algo ?? 0,
      src,
      tag,
      wsrc: this.rank,
      ctx,
      seq,
      total,
      token0: this.token0,
      token1: this.token1,
    };
    const mustCopy = payload.mode === "copy" || (payload.mode === "borrow" && !borrow);
    // An eager send completes once the transport holds the message where it is bounded (its
    // ring, for shared memory): a receiver that falls behind makes its senders wait.
    const sent = waits === 0 ? done : undefined;
    const native = total >= this.cfg.cmaThreshold ? this.local.lenderTo(dest) : null;
    if (native) {
      // Single copy: the receiver reads the bytes from here; keep them until it acks.
      const bytes = mustCopy ? Buffer.from(payload.bytes) : payload.bytes; // an eager send resolves now: lend a copy
      header.flags |= FLAG_PEER | FLAG_ARRIVAL; // acked once read (or, after a RESEND, arrived)
      this.lent.set(seq, { bytes, dest, header });
      if (!borrow) this.undelivered.set(seq, dest); // the receiver reads them later: do not exit before it did
      const address = Buffer.allocUnsafe(8);
      address.writeBigUInt64LE(native.addressOf(bytes));
      t.send(dest, [encodeHeader(header), address], sent);
      t.lending?.(dest, total);
    } else if (total > INLINE_MAX && total <= this.cfg.chunkSize && mustCopy && t.copiesBorrowed(dest)) {
      // The transport copies the payload itself (into the receiver's ring): no copy here.
      t.send(dest, [encodeHeader(header), payload.bytes], sent, true);
    } else if (total <= INLINE_MAX || (mustCopy && total <= this.cfg.chunkSize)) {
      header.flags |= FLAG_INLINE;
      const frame = encodeHeader(header, total);
      payload.bytes.copy(frame, HEADER_BYTES);
      t.send(dest, [frame], sent);
    } else {
      const bytes = mustCopy ? Buffer.from(payload.bytes) : payload.bytes;
      const more = bytes.byteLength > this.cfg.chunkSize;
      t.send(dest, [encodeHeader(header), bytes.subarray(0, this.cfg.chunkSize)], more ? undefined : sent);
      if (more) this.sendChunks(dest, header, bytes, this.cfg.chunkSize, sent);
    }
  }

  /** Sends `bytes` from `from` on as CHUNK messages of message `header.seq`; `sent` once the transport took the last. */
  private sendChunks(dest: number, header: Header, bytes: Buffer, from: number, sent?: () => void): void {
    if (from >= bytes.byteLength) {
      sent?.();
      return;
    }
    const chunk = this.cfg.chunkSize;
    const more = encodeHeader({ ...header, kind: KIND_CHUNK });
    for (let off = from; off < bytes.byteLength; off += chunk) {
      this.emit(dest, [more, bytes.subarray(off, off + chunk)], off + chunk >= bytes.byteLength ? sent : undefined);
    }
  }

  /** A receiver could not read a single-copy message: send its bytes, and stop lending to it. */
  private resend(seq: number): void {
    const loan = this.lent.get(seq);
    if (!loan) return;
    this.local.stopLending(loan.dest);
    this.sendChunks(loan.dest, loan.header, loan.bytes, 0);
  }

  /** Copies a single-copy message's bytes from the sender into `target`; on failure asks for them. */
  private fetch(msg: InMsg, address: bigint, target: Uint8Array | undefined): boolean {
    if (!this.local.read(msg.wsrc, address, msg.total, target)) {
      this.emit(msg.wsrc, [this.control(KIND_RESEND, 0, msg.seq, 0)]);
      return false;
    }
    this.arrivals.untrack(msg);
    if (tracing("transport") && !this.readFrom.has(msg.wsrc)) {
      // The first single-copy read from each sender (tests prove with it that single copy was used).
      this.readFrom.add(msg.wsrc);
      trace("transport", { rank: this.rank, singleCopy: { from: msg.wsrc, bytes: msg.total } });
    }
    this.sendAck(msg, FLAG_ARRIVAL);
    return true;
  }

  /** Senders this rank read a single-copy message from (traced once each). */
  private readonly readFrom = new Set<number>();

  /** Sends frames to `dest` unless it finished (then they could never be received). */
  private emit(dest: number, frames: Buffer[], sent?: () => void): void {
    if (!this.finished.has(dest)) this.link(dest).send(dest, frames, sent);
  }

  private expectAcks(seq: number, remaining: number, done: () => void, remote: boolean, dest = this.rank): void {
    this.acks.set(seq, { remaining, done, dest, remote });
    if (remote) this.transport!.hold();
  }

  /**
   * Pieces of `msg` from its sender start arriving: the sender's previous message that still
   * lacks pieces never gets them, so it is forgotten, with a warning (see `arrivals.ts`).
   */
  private receivingFrom(msg: InMsg): void {
    const before = this.arrivals.receivingFrom(msg);
    if (!before) return;
    this.engine.take(before); // unreceived: its pieces so far are freed
    this.drop(
      "stale",
      `message ${before.seq} from world rank ${msg.wsrc}, whose pieces stopped after ${before.received} of ${before.total} bytes`,
    );
  }

  /** Acks received so far (for {@link progress}). */
  private acksIn = 0;

  /** A counter that grows whenever this rank's outgoing data moved on (for the linger at finalize). */
  progress(): number {
    return this.acksIn + (this.transport?.progress?.() ?? 0);
  }

  private ack(seq: number, remote: boolean): void {
    if (remote) this.acksIn++;
    this.lent.delete(seq);
    if (this.undelivered.delete(seq)) {
      if (this.undelivered.size === 0) this.delivered?.();
      return;
    }
    const waiter = this.acks.get(seq);
    if (!waiter || --waiter.remaining > 0) return;
    this.acks.delete(seq);
    if (remote) this.transport!.release();
    waiter.done();
  }

  private sendAck(msg: InMsg, flag: number): void {
    if (msg.wsrc === this.rank) {
      this.ack(msg.seq, false);
      return;
    }
    this.emit(msg.wsrc, [this.control(KIND_ACK, flag, msg.seq, 0)]);
  }

  /** A control frame (ACK, RESEND, BYE): a header alone, from this rank, with the job's token. */
  private control(kind: number, flags: number, seq: number, total: number): Buffer {
    const h: Header = {
      kind,
      flags,
      dtype: 0,
      algo: 0,
      src: 0,
      tag: 0,
      wsrc: this.rank,
      ctx: 0,
      seq,
      total,
      token0: this.token0,
      token1: this.token1,
    };
    return encodeHeader(h);
  }

  /**
   * World rank `r` finished (its BYE) having received `matched` of this rank's messages (or
   * the transport found it gone: undefined): what is still queued for it, lent to it or waiting
   * for its acks is dropped (it can never be received), and the pieces of its messages that
   * never came are forgotten.
   */
  private peerFinished(r: number, matched: number | undefined): void {
    if (this.finished.has(r) || r === this.rank) return;
    this.finished.set(r, matched);
    this.transport?.abandon?.(r);
    for (const [seq, loan] of this.lent) if (loan.dest === r) this.lent.delete(seq);
    for (const [seq, dest] of this.undelivered) if (dest === r) this.undelivered.delete(seq);
    if (this.undelivered.size === 0) this.delivered?.();
    for (const [seq, waiter] of this.acks) {
      if (waiter.dest !== r || !waiter.remote) continue;
      this.acks.delete(seq); // the send never completes, and no longer keeps this rank alive
      this.transport?.release();
    }
    this.arrivals.forget(r);
  }

  /**
   * Tells the peers that may have messages queued for this rank that it finished (BYE), each
   * with how many of its messages this rank received: every peer on shared memory, and, after
   * taking in what has arrived, those whose messages this rank did not all receive. Call once
   * the script is done; the transport's close then hands the BYEs on.
   */
  async farewell(timeoutMs: number): Promise<void> {
    const t = this.transport;
    if (!t) return;
    await t.drain?.(timeoutMs);
    // Peers on shared memory all hear it (it costs a few bytes in a ring they read, and one may
    // flood this rank only after it finished). Over ZeroMQ only those with messages here that
    // were never received: a BYE to every rank would cost a connection each, and one to a rank
    // that already exited would keep this process for ZeroMQ's linger at exit. A flood from a
    // rank that never reached this one is given up by the sender when it finds this rank's
    // socket gone.
    const to = this.engine.unexpectedSenders();
    for (let r = 0; r < this.worldSize; r++) if (t.nearby?.(r)) to.add(r);
    for (const r of to) {
      if (r === this.rank || this.finished.has(r)) continue;
      t.send(r, [this.control(KIND_BYE, 0, 0, this.matchedFrom[r] ?? 0)]);
    }
  }

  /**
   * How many messages to each world rank were never received, as far as this rank can tell:
   * for a rank that finished, those it sent beyond what that rank received; for the others,
   * those still queued here or not yet acknowledged (`exact` false: at least that many). Empty
   * when all were received.
   */
  unreceived(): Map<number, { count: number; exact: boolean }> {
    const out = new Map<number, { count: number; exact: boolean }>();
    const add = (r: number, n: number, exact = false): void => {
      if (n > 0) out.set(r, { count: (out.get(r)?.count ?? 0) + n, exact });
    };
    for (const [r, matched] of this.finished) if (matched !== undefined) add(r, (this.sentTo[r] ?? 0) - matched, true);
    const waiting = (r: number): boolean => this.finished.get(r) === undefined;
    for (const [r, n] of this.transport?.undelivered?.() ?? []) if (waiting(r)) add(r, n);
    for (const dest of this.undelivered.values()) if (waiting(dest)) add(dest, 1);
    for (const loan of this.lent.values()) if (waiting(loan.dest) && !this.undelivered.has(loan.header.seq)) add(loan.dest, 1);
    return out;
  }

  /**
   * Waits (at most `timeoutMs`, which may be Infinity, or until `giveUp` resolves) until every
   * large eager message sent so far has arrived, so that closing the transport does not have
   * to wait for data still in flight.
   */
  async flush(timeoutMs: number, giveUp?: Promise<void>): Promise<void> {
    if (this.undelivered.size === 0 || !this.transport || timeoutMs <= 0) return;
    this.transport.hold();
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.delivered = resolve;
      if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, timeoutMs);
      void giveUp?.then(resolve);
    });
    clearTimeout(timer);
    this.delivered = undefined;
    this.transport.release();
  }

  /** Frames dropped so far, by kind of problem (see {@link drop}). */
  readonly dropped = new Map<string, number>();

  /**
   * Handles one incoming transport message (header frame first). Anything malformed is
   * dropped with one warning per kind of problem ({@link drop}); nothing here throws on bad
   * input (an error that still escapes is a bug, and the transport ends the rank with it).
   */
  onFrames = (frames: Buffer[]): void => {
    const head = frames[0];
    if (!head || head.byteLength < HEADER_BYTES) {
      this.drop("short", `a frame too short for a header (${head?.byteLength ?? 0} bytes)`);
      return;
    }
    const h = decodeHeader(head);
    if (h.token0 !== this.token0 || h.token1 !== this.token1) {
      this.drop("token", `a frame without this job's token (claiming world rank ${h.wsrc})`);
      return;
    }
    const problem =
      frameProblem(h, frames, this.worldSize) ??
      (h.flags & FLAG_RAW && h.kind === KIND_MSG && !isKindCode(h.dtype)
        ? (["dtype", `a message of unknown element kind ${h.dtype}`] as const)
        : undefined);
    if (problem) {
      this.drop(problem[0], problem[0] === "sender" ? problem[1] : `${problem[1]} from world rank ${h.wsrc}`);
      return;
    }
    if (h.kind === KIND_ACK) {
      this.ack(h.seq, true);
      return;
    }
    if (h.kind === KIND_RESEND) {
      this.resend(h.seq);
      return;
    }
    if (h.kind === KIND_BYE) {
      this.peerFinished(h.wsrc, h.total);
      return;
    }
    const msg = h.kind === KIND_MSG ? this.onMessage(h, head, frames) : this.onChunk(h, frames[1]!);
    if (msg?.complete && msg.flags & FLAG_ARRIVAL) this.sendAck(msg, FLAG_ARRIVAL);
  };

  /**
   * The first frame of a message: checked against what this rank holds from the sender, then
   * matched. Returns the message when its bytes are here or arriving by chunks, undefined when
   * it was dropped or fetches its bytes by itself (single copy).
   */
  private onMessage(h: Header, head: Buffer, frames: Buffer[]): InMsg | undefined {
    if (this.arrivals.get(h.wsrc, h.seq)) {
      this.drop("shape", `a second message ${h.seq} from world rank ${h.wsrc} while the first still arrives`);
      return undefined;
    }
    if (h.flags & FLAG_PEER && !this.local.shares(h.wsrc)) {
      this.drop("peer", `a single-copy message from world rank ${h.wsrc}, which does not share this rank's host and memory`);
      return undefined;
    }
    if (h.flags & FLAG_PEER && this.arrivals.countFrom(h.wsrc) >= INFLIGHT_PER_SENDER) {
      this.drop(
        "inflight",
        `a single-copy message from world rank ${h.wsrc}, which has ${INFLIGHT_PER_SENDER} whose bytes did not come yet`,
      );
      return undefined;
    }
    const msg = new InMsg(h.ctx, h.src, h.tag, h.flags, h.dtype, h.wsrc, h.seq, h.total, h.algo);
    if (h.flags & FLAG_PEER) {
      const address = frames[1]!.readBigUInt64LE(0);
      msg.fetcher = (target) => this.fetch(msg, address, target);
      this.arrivals.track(msg); // for a RESEND's chunks
      // Matched now: the receive fetches into its own buffer. Unmatched: fetch at the end of
      // this event-loop turn, so the sender never waits for a matching receive, yet a receive
      // that code running now posts (an await that this very batch of frames resolved) still
      // gets the bytes straight into its buffer, not through a copy of our own.
      if (!this.engine.arrive(msg)) setImmediate(() => msg.fetchNow());
      return undefined;
    }
    msg.add(h.flags & FLAG_INLINE ? head.subarray(HEADER_BYTES) : frames[1]!);
    if (!msg.complete) {
      this.receivingFrom(msg);
      this.arrivals.track(msg);
    }
    this.engine.arrive(msg);
    return msg;
  }

  /** A piece of a message that is arriving; undefined when dropped. */
  private onChunk(h: Header, piece: Buffer): InMsg | undefined {
    const msg = this.arrivals.get(h.wsrc, h.seq);
    if (!msg) {
      this.drop("chunk", `a piece of message ${h.seq}, which is not arriving`);
      return undefined;
    }
    if (piece.byteLength > msg.total - msg.received) {
      this.drop("chunk", `a piece of ${piece.byteLength} bytes for message ${h.seq}, which lacks only ${msg.total - msg.received}`);
      return undefined;
    }
    this.receivingFrom(msg);
    msg.add(piece);
    if (msg.complete) this.arrivals.untrack(msg);
    return msg;
  }

  /**
   * Drops a malformed frame, or one that does not belong to this job (someone else connected
   * to our port): counted by `kind`, with one warning on stderr for the first of each kind.
   */
  private drop(kind: string, what: string): void {
    const n = (this.dropped.get(kind) ?? 0) + 1;
    this.dropped.set(kind, n);
    if (n === 1)
      process.stderr.write(`tsmpi: rank ${this.rank} dropped ${what}; further ones of this kind (${kind}) are dropped silently\n`);
  }

  /**
   * Posts a receive; `onMatch` gets the matched message (possibly still arriving) synchronously.
   * Returns a cancel function (true when the receive was withdrawn before matching).
   */
  receive(ctx: number, src: number, tag: number, onMatch: (msg: InMsg) => void): () => boolean {
    return this.post(ctx, src, tag, (msg) => this.receiveMatched(msg, onMatch, true));
  }

  /**
   * Posts a matched probe (`MPI_Mprobe`): it matches as a receive does, in order with them, and
   * hands `onMatch` the message, taken out of matching, for {@link receiveMatched} to receive.
   * Until then a same-host message's bytes stay at the sender only for this event-loop turn
   * (then copied here), so a sender never waits for the receive, as with unexpected messages.
   */
  mprobe(ctx: number, src: number, tag: number, onMatch: (msg: InMsg) => void): () => boolean {
    return this.post(ctx, src, tag, (msg) => {
      this.transport?.release(); // the post's hold: the receive holds again
      onMatch(msg);
      if (msg.fetcher) setImmediate(() => msg.fetchNow());
    });
  }

  /** The first message that has arrived and fits, taken out of matching (`MPI_Improbe`), or undefined. */
  improbe(ctx: number, src: number, tag: number): InMsg | undefined {
    const msg = this.iprobe(ctx, src, tag);
    if (msg) this.engine.take(msg);
    return msg;
  }

  /**
   * Receives a message that a receive or matched probe matched: `onMatch` reads it (see
   * `receive.ts`). The transport is held until the last byte is in; `held`: the caller's hold
   * (a posted receive's) is that hold.
   */
  receiveMatched(msg: InMsg, onMatch: (msg: InMsg) => void, held = false): void {
    const t = this.transport;
    if (t && !held) t.hold();
    if (msg.wsrc !== this.rank && msg.ctx % 2 === 0) this.matchedFrom[msg.wsrc] = (this.matchedFrom[msg.wsrc] ?? 0) + 1;
    if (msg.flags & FLAG_SYNC) this.sendAck(msg, FLAG_SYNC);
    onMatch(msg);
    msg.fetchNow(); // bytes still at the sender that onMatch did not fetch itself
    if (t) msg.whenComplete(() => t.release());
  }

  /** Posts `deliver` as a receive, the transport held from now; `deliver` takes over the hold. Returns a cancel function. */
  private post(ctx: number, src: number, tag: number, deliver: (msg: InMsg) => void): () => boolean {
    const t = this.transport;
    t?.hold();
    let matched = false;
    const handle = this.engine.post({
      ctx,
      src,
      tag,
      deliver: (msg) => {
        matched = true;
        deliver(msg);
      },
    });
    return () => {
      if (matched || !handle || !this.engine.cancel(ctx, handle)) return false;
      t?.release();
      return true;
    };
  }

  /** Resolves with the first message that fits, without receiving it (`MPI_Probe`). */
  probe(ctx: number, src: number, tag: number): Promise<InMsg> {
    return new Promise((resolve) => {
      const t = this.transport;
      t?.hold();
      this.engine.probe(ctx, src, tag, (msg) => {
        t?.release();
        resolve(msg);
      });
    });
  }

  /** The first message that has arrived and fits, or undefined (`MPI_Iprobe`); never waits. */
  iprobe(ctx: number, src: number, tag: number): InMsg | undefined {
    const msg = this.engine.peek(ctx, src, tag);
    if (msg || !this.transport) return msg;
    // Take in what has arrived (shared memory does so at once, ZeroMQ on its next turn) and look again.
    this.transport.poke();
    return this.engine.peek(ctx, src, tag);
  }
}
