/**
 * MPI message matching: posted receives, the unexpected-message queue and probes, per context.
 *
 * An incoming message matches the earliest posted receive of its context whose source and tag
 * equal the message's or are wildcards; a new receive matches the earliest unexpected message
 * that fits. With messages delivered in arrival order (ZeroMQ keeps each sender's order), this
 * gives MPI's non-overtaking rule per (sender, communicator). Plain data structures, no I/O.
 *
 * @module
 */
import { ANY_SOURCE, ANY_TAG } from "../constants.js";

/** An incoming message; its payload may still be arriving in pieces. */
export class InMsg {
  /** Payload pieces received and not yet consumed by a sink. */
  parts: Buffer[] = [];
  /** Payload bytes received so far. */
  received = 0;
  /** Once matched, where further pieces go (offset = byte offset in the payload). */
  sink: ((piece: Buffer, offset: number) => void) | undefined;
  /** Called once when the last byte has arrived. */
  private waiters: (() => void)[] = [];
  /**
   * For a message whose bytes are still in the sender's memory (same host, single copy): copies
   * them into `target` (all `total` bytes) and returns true, or returns false when it cannot
   * (the bytes then come as pieces); `undefined` asks for the pieces at once.
   */
  fetcher: ((target: Uint8Array | undefined) => boolean) | undefined;

  constructor(
    readonly ctx: number,
    readonly src: number,
    readonly tag: number,
    readonly flags: number,
    readonly dtype: number,
    /** Sender's world rank. */
    readonly wsrc: number,
    /** Sender's message id. */
    readonly seq: number,
    /** Total payload bytes. */
    readonly total: number,
    /** Collective algorithm id the sender used (0: point-to-point). */
    readonly algo = 0,
  ) {}

  get complete(): boolean {
    return this.received >= this.total;
  }

  /** Adds a payload piece (in order); `length` counts bytes delivered another way (a fetch). */
  add(piece: Buffer, length = piece.byteLength): void {
    const offset = this.received;
    this.received += length;
    if (this.sink) this.sink(piece, offset);
    else this.parts.push(piece);
    if (this.complete && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const fn of waiters) fn();
    }
  }

  /** Fetches bytes still in the sender's memory into a buffer of their own (see {@link fetcher}). */
  fetchNow(): void {
    const fetch = this.fetcher;
    if (!fetch) return;
    this.fetcher = undefined;
    let copy: Buffer;
    try {
      copy = Buffer.allocUnsafe(this.total);
    } catch {
      fetch(undefined); // no room for it here: the sender is asked for its bytes as pieces
      return;
    }
    if (fetch(copy)) this.add(copy);
  }

  /** Puts the whole payload into `target` (its first `total` bytes): with one copy when it can. */
  fillInto(target: Uint8Array): void {
    const fetch = this.fetcher;
    if (fetch) {
      this.fetcher = undefined;
      if (fetch(target.subarray(0, this.total))) {
        this.sink = () => {};
        this.add(EMPTY_PIECE, this.total);
        return;
      }
    }
    this.drainTo((piece, offset) => target.set(piece, offset));
  }

  /** Routes the pieces received so far and all later ones to `sink`. */
  drainTo(sink: (piece: Buffer, offset: number) => void): void {
    this.fetchNow();
    let offset = 0;
    for (const p of this.parts) {
      sink(p, offset);
      offset += p.byteLength;
    }
    this.parts = [];
    this.sink = sink;
  }

  /** Runs `fn` once all bytes are here (at once if they already are). */
  whenComplete(fn: () => void): void {
    if (this.complete) fn();
    else this.waiters.push(fn);
  }

  /** The whole payload as one buffer (call when complete and no sink was set). */
  payload(): Buffer {
    this.fetchNow();
    if (this.parts.length === 1) return this.parts[0]!;
    return Buffer.concat(this.parts, this.total);
  }
}

const EMPTY_PIECE = Buffer.alloc(0);

/** A receive waiting for a message. */
export interface PostedRecv {
  readonly ctx: number;
  readonly src: number;
  readonly tag: number;
  /** Called once, synchronously, with the matched message (possibly not yet complete). */
  deliver(msg: InMsg): void;
}

/** A probe waiting for a matching message to arrive (it does not consume it). */
interface PendingProbe {
  readonly src: number;
  readonly tag: number;
  found(msg: InMsg): void;
}

interface Node<T> {
  value: T;
  prev: Node<T> | undefined;
  next: Node<T> | undefined;
}

/** A doubly linked list: O(1) append and removal of a matched entry anywhere. */
class List<T> {
  head: Node<T> | undefined;
  tail: Node<T> | undefined;
  length = 0;

  push(value: T): Node<T> {
    const node: Node<T> = { value, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.length++;
    return node;
  }

  remove(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = undefined;
    this.length--;
  }

  find(pred: (value: T) => boolean): Node<T> | undefined {
    for (let n = this.head; n; n = n.next) if (pred(n.value)) return n;
    return undefined;
  }
}

function fits(wantSrc: number, wantTag: number, src: number, tag: number): boolean {
  return (wantSrc === ANY_SOURCE || wantSrc === src) && (wantTag === ANY_TAG || wantTag === tag);
}

/** Matching state of one process, across all its communicators' contexts. */
export class MatchingEngine {
  // A context's entry is deleted when its list empties, so the maps hold only live contexts.
  private readonly posted = new Map<number, List<PostedRecv>>();
  private readonly unexpected = new Map<number, List<InMsg>>();
  private readonly probes = new Map<number, List<PendingProbe>>();
  /** Contexts of freed communicators: messages that still arrive for them are discarded. */
  private readonly closed = new Set<number>();

  private static list<T>(map: Map<number, List<T>>, ctx: number): List<T> {
    let l = map.get(ctx);
    if (!l) {
      l = new List<T>();
      map.set(ctx, l);
    }
    return l;
  }

  private static remove<T>(map: Map<number, List<T>>, ctx: number, list: List<T>, node: Node<T>): void {
    list.remove(node);
    if (list.length === 0) map.delete(ctx);
  }

  /**
   * A message arrived (its first piece): hand it to the earliest fitting receive and return
   * true, or queue it and return false. A message for a freed communicator that no receive
   * still waits for is consumed and discarded (true).
   */
  arrive(msg: InMsg): boolean {
    const posted = this.posted.get(msg.ctx);
    const node = posted?.find((r) => fits(r.src, r.tag, msg.src, msg.tag));
    if (node) {
      MatchingEngine.remove(this.posted, msg.ctx, posted!, node);
      node.value.deliver(msg);
      return true;
    }
    if (this.closed.has(msg.ctx)) {
      msg.drainTo(() => {});
      return true;
    }
    MatchingEngine.list(this.unexpected, msg.ctx).push(msg);
    const probes = this.probes.get(msg.ctx);
    if (!probes) return false;
    for (let n = probes.head; n; ) {
      const next = n.next;
      if (fits(n.value.src, n.value.tag, msg.src, msg.tag)) {
        MatchingEngine.remove(this.probes, msg.ctx, probes, n);
        n.value.found(msg);
      }
      n = next;
    }
    return false;
  }

  /**
   * Posts a receive. When an unexpected message fits, it is delivered at once (synchronously)
   * and `post` returns undefined; otherwise a handle for {@link cancel} is returned.
   */
  post(recv: PostedRecv): object | undefined {
    const queue = this.unexpected.get(recv.ctx);
    const node = queue?.find((m) => fits(recv.src, recv.tag, m.src, m.tag));
    if (node) {
      MatchingEngine.remove(this.unexpected, recv.ctx, queue!, node);
      recv.deliver(node.value);
      return undefined;
    }
    return MatchingEngine.list(this.posted, recv.ctx).push(recv);
  }

  /** Withdraws a posted receive; false when it was already matched. */
  cancel(ctx: number, handle: object): boolean {
    const posted = this.posted.get(ctx);
    const node = handle as Node<PostedRecv>;
    if (!posted || (posted.head !== node && node.prev === undefined)) return false;
    MatchingEngine.remove(this.posted, ctx, posted, node);
    return true;
  }

  /** The earliest unexpected message that fits, left in place (for probe/iprobe). */
  peek(ctx: number, src: number, tag: number): InMsg | undefined {
    return this.unexpected.get(ctx)?.find((m) => fits(src, tag, m.src, m.tag))?.value;
  }

  /** Calls `found` with the first fitting message: an unexpected one now, or the next to arrive. */
  probe(ctx: number, src: number, tag: number, found: (msg: InMsg) => void): void {
    const msg = this.peek(ctx, src, tag);
    if (msg) found(msg);
    else MatchingEngine.list(this.probes, ctx).push({ src, tag, found });
  }

  /** Removes a specific unexpected message (a matched probe's message being received). */
  take(msg: InMsg): boolean {
    const queue = this.unexpected.get(msg.ctx);
    const node = queue?.find((m) => m === msg);
    if (!node) return false;
    MatchingEngine.remove(this.unexpected, msg.ctx, queue!, node);
    return true;
  }

  /** Unexpected messages queued for `ctx` (for tests and diagnostics). */
  pendingCount(ctx: number): number {
    return this.unexpected.get(ctx)?.length ?? 0;
  }

  /** The senders' world ranks of the unexpected messages (those never received so far). */
  unexpectedSenders(): Set<number> {
    const out = new Set<number>();
    for (const list of this.unexpected.values()) for (let n = list.head; n; n = n.next) out.add(n.value.wsrc);
    return out;
  }

  /** Contexts with any posted receive, unexpected message or probe (for tests and diagnostics). */
  get liveContexts(): number {
    return new Set([...this.posted.keys(), ...this.unexpected.keys(), ...this.probes.keys()]).size;
  }

  /**
   * Forgets a context (its communicator was freed): its unexpected messages and probes are
   * dropped, and messages that arrive for it later are discarded. Receives still posted on it
   * stay and complete normally, as `MPI_Comm_free` requires of pending operations.
   */
  forget(ctx: number): void {
    for (let n = this.unexpected.get(ctx)?.head; n; n = n.next) n.value.drainTo(() => {});
    this.unexpected.delete(ctx);
    this.probes.delete(ctx);
    this.closed.add(ctx);
  }
}
