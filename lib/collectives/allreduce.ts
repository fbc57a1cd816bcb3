/**
 * Allreduce. Small payloads: Bruck allgather of every rank's operand, then each rank folds them
 * in rank order (ceil(log2 N) rounds for any N, any op, bitwise-identical results everywhere).
 * Large typed arrays with a commutative op: ring reduce-scatter + ring allgather (each rank sends
 * about 2 m (N-1)/N bytes: bandwidth-optimal). Large with a non-commutative op: binomial reduce to
 * rank 0 (rank order kept), then binomial broadcast.
 *
 * @module
 */
import type { Op } from "../op.js";
import { packObject, unpackObject, type TypedArray } from "../serializer.js";
import { allgatherBlobs, allgatherBruck, allgatherRing } from "./allgather.js";
import { bytesOfRange, scratch, splitEven } from "./blocks.js";
import { bcastBinomial } from "./bcast.js";
import type { Channel } from "./channel.js";
import { reduceArrayBinomial, reduceScatterRing } from "./reduce.js";

/**
 * Allreduce of object-tier values: everyone's operand reaches everyone, folded in rank order.
 * Every rank folds the same deserialized operands (its own too), so results are identical
 * everywhere and the caller's value is never handed to the op.
 */
export async function allreduceValues(ch: Channel, value: unknown, op: Op): Promise<unknown> {
  const blobs = await allgatherBlobs(ch, packObject(value));
  let acc = unpackObject(blobs[0]!);
  for (let i = 1; i < ch.size; i++) acc = op.apply(acc, unpackObject(blobs[i]!));
  return acc;
}

/** Small typed arrays: Bruck allgather of the operands, local fold in rank order into `recv`. */
export async function allreduceArrayGather(ch: Channel, send: TypedArray, recv: TypedArray, op: Op): Promise<void> {
  const n = ch.size;
  const count = send.length;
  const all = scratch(send, n * count);
  await allgatherBruck(ch, send, all);
  (recv as Uint8Array).set(all.subarray(0, count) as Uint8Array);
  for (let i = 1; i < n; i++) op.reduceInto(recv, all.subarray(i * count, (i + 1) * count) as TypedArray, false);
}

/** Large typed arrays, commutative op: ring reduce-scatter in `recv`, then ring allgather. */
export async function allreduceArrayRing(ch: Channel, send: TypedArray, recv: TypedArray, op: Op): Promise<void> {
  const n = ch.size;
  const offsets = splitEven(send.length, n, op.itemSize);
  await reduceScatterRing(ch, send, recv, offsets, op, 1);
  const counts = offsets.slice(1).map((o, i) => o - offsets[i]!);
  await allgatherRing(ch, recv, counts, offsets, 1);
}

/** Large typed arrays, non-commutative op: ordered binomial reduce to rank 0, then broadcast. */
export async function allreduceArrayReduceBcast(ch: Channel, send: TypedArray, recv: TypedArray, op: Op): Promise<void> {
  await reduceArrayBinomial(ch, 0, send, recv, op);
  await bcastBinomial(ch, 0, ch.rank === 0 ? bytesOfRange(recv) : undefined, ch.rank === 0 ? undefined : bytesOfRange(recv));
}
