/**
 * The incoming messages whose bytes are not all here yet: those arriving in pieces (CHUNKs), and
 * single-copy ones whose bytes are still in the sender's memory. The protocol (`protocol.ts`)
 * finds a piece's message here by sender and sequence number.
 *
 * This is where the bounds on what a peer makes this rank hold are kept: at most one message per
 * sender arrives in pieces at a time (pieces of one message follow each other on the sender's one
 * path), so one whose pieces stop coming is given up when the sender's next one starts; and at
 * most {@link INFLIGHT_PER_SENDER} messages per sender wait here.
 *
 * @module
 */
import type { InMsg } from "./matching.js";

/**
 * Single-copy messages of one sender that may wait for their bytes at once (read failed, a
 * RESEND asked for them): beyond, that sender's single-copy frames are dropped. A real sender
 * has that many only with that many large sends outstanding; the bound is against a peer that
 * announces messages whose bytes never come.
 */
export const INFLIGHT_PER_SENDER = 65536;

/** The key of a message arriving in pieces: its sender and its sequence number. */
function inflightKey(wsrc: number, seq: number): number {
  return wsrc * 2 ** 32 + seq;
}

/** Incoming messages still waiting for bytes, by sender and sequence number. */
export class Arrivals {
  /** Messages still arriving in pieces, by {@link inflightKey} of sender and sequence number. */
  private readonly inflight = new Map<number, InMsg>();
  /** Entries in {@link inflight} by sender. */
  private readonly inflightFrom: number[] = [];
  /** The message each sender's pieces currently go to (its earlier ones are then complete or lost). */
  private readonly receiving = new Map<number, InMsg>();

  /** Message `seq` of world rank `wsrc`, when it still waits for bytes. */
  get(wsrc: number, seq: number): InMsg | undefined {
    return this.inflight.get(inflightKey(wsrc, seq));
  }

  /** How many messages of world rank `wsrc` wait for bytes. */
  countFrom(wsrc: number): number {
    return this.inflightFrom[wsrc] ?? 0;
  }

  /** Adds `msg` (it is arriving in pieces, or its bytes are still at the sender). */
  track(msg: InMsg): void {
    this.inflight.set(inflightKey(msg.wsrc, msg.seq), msg);
    this.inflightFrom[msg.wsrc] = (this.inflightFrom[msg.wsrc] ?? 0) + 1;
  }

  /** Removes `msg` (all its bytes are here, or it was given up). */
  untrack(msg: InMsg): void {
    if (this.inflight.delete(inflightKey(msg.wsrc, msg.seq))) this.inflightFrom[msg.wsrc]!--;
    if (this.receiving.get(msg.wsrc) === msg) this.receiving.delete(msg.wsrc);
  }

  /**
   * Pieces of `msg` from its sender start arriving: the sender's previous message that still
   * lacks pieces never gets them (one path per sender, pieces of a message in a row), so it is
   * removed and returned, for the caller to free and report, instead of being kept for ever.
   */
  receivingFrom(msg: InMsg): InMsg | undefined {
    const before = this.receiving.get(msg.wsrc);
    const stale = before && before !== msg && !before.complete ? before : undefined;
    if (stale) this.untrack(stale);
    this.receiving.set(msg.wsrc, msg);
    return stale;
  }

  /** World rank `wsrc` finished: forgets its messages whose pieces never came (not those whose bytes this rank still reads). */
  forget(wsrc: number): void {
    for (const msg of [...this.inflight.values()]) if (msg.wsrc === wsrc && !msg.fetcher) this.untrack(msg);
  }
}
