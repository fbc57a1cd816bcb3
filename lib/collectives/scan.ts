/**
 * Inclusive and exclusive prefix reductions by recursive doubling (Hillis-Steele): in round k
 * rank r sends its partial result over [r-2^k+1, r] to r+2^k and folds in the one from r-2^k,
 * lower ranks first, so non-commutative ops keep rank order. ceil(log2 N) rounds.
 *
 * @module
 */
import type { Op } from "../op.js";
import { packObject, unpackObject, type TypedArray } from "../serializer.js";
import { bytesOfRange, copyOf, scratch } from "./blocks.js";
import type { Channel } from "./channel.js";

/**
 * Prefix reduction of object-tier values. `exclusive`: rank r gets op over ranks [0, r) and rank
 * 0 gets undefined; otherwise op over [0, r]. Every operand handed to the op is a private copy
 * (so an op may change and return its first operand), and the caller's value is never returned.
 */
export async function scanValues(ch: Channel, value: unknown, op: Op, exclusive: boolean): Promise<unknown> {
  const { rank, size: n } = ch;
  let packed: Uint8Array | undefined = packObject(value); // `partial` serialized, until it changes
  let partial = unpackObject(packed);
  let result: unknown;
  let have = false;
  for (let d = 1; d < n; d *= 2) {
    let send: Promise<void> | undefined;
    if (rank + d < n) {
      packed ??= packObject(partial);
      send = ch.send(rank + d, packed, true);
    }
    if (rank - d >= 0) {
      const lower = await ch.recv(rank - d);
      if (exclusive) result = have ? op.apply(unpackObject(lower), result) : unpackObject(lower);
      have = true;
      partial = op.apply(unpackObject(lower), partial);
      packed = undefined;
    }
    await send;
  }
  return exclusive ? result : partial;
}

/** Prefix reduction of typed arrays into `recv` (exclusive: rank 0's `recv` is left untouched). */
export async function scanArray(ch: Channel, send: TypedArray, recv: TypedArray, op: Op, exclusive: boolean): Promise<void> {
  const { rank, size: n } = ch;
  const partial = copyOf(send);
  const next = scratch(send);
  const lower = scratch(send);
  let have = false;
  if (!exclusive) (recv as Uint8Array).set(send as Uint8Array);
  for (let d = 1; d < n; d *= 2) {
    (next as Uint8Array).set(partial as Uint8Array);
    const sending = rank + d < n ? ch.send(rank + d, bytesOfRange(next)) : undefined;
    if (rank - d >= 0) {
      await ch.recv(rank - d, bytesOfRange(lower));
      if (exclusive && !have) (recv as Uint8Array).set(lower as Uint8Array);
      else op.reduceInto(recv, lower, true);
      have = true;
      op.reduceInto(partial, lower, true);
    }
    await sending;
  }
}
