/**
 * Reduce-scatter: every rank contributes a full array; rank i gets block i of the reduction.
 * Commutative ops use the ring (N-1 steps, each moving one block); others reduce to rank 0 in
 * rank order and scatter the blocks.
 *
 * @module
 */
import type { Op } from "../op.js";
import type { TypedArray } from "../serializer.js";
import { borrowScratch, giveBack, packedDispls, scratch } from "./blocks.js";
import type { Channel } from "./channel.js";
import { scattervArray } from "./gather.js";
import { reduceArrayBinomial, reduceScatterRing } from "./reduce.js";

/** Reduce-scatter with per-rank block sizes `counts` (their sum is `send.length`). */
export async function reduceScatterArray(
  ch: Channel,
  send: TypedArray,
  recv: TypedArray,
  counts: readonly number[],
  op: Op,
): Promise<void> {
  const displs = packedDispls(counts);
  if (op.commute) {
    const acc = borrowScratch(send);
    try {
      await reduceScatterRing(ch, send, acc, [...displs, send.length], op, 0);
      (recv as Uint8Array).set(acc.subarray(displs[ch.rank]!, displs[ch.rank]! + counts[ch.rank]!) as Uint8Array);
    } finally {
      giveBack(acc);
    }
    return;
  }
  const full = ch.rank === 0 ? scratch(send) : null;
  await reduceArrayBinomial(ch, 0, send, full, op);
  await scattervArray(ch, 0, full, recv.subarray(0, counts[ch.rank]) as TypedArray, counts, displs);
}
