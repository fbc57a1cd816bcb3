/**
 * Reduce: a binomial tree (ceil(log2 N) rounds, each rank sends at most one message). Operands
 * fold as op(lower rank, higher rank): for a commutative op on typed arrays the tree is rooted at
 * the root; for a non-commutative one, and for every op on objects, it runs on actual ranks
 * towards rank 0, which keeps rank order, and rank 0 forwards the result to the root. Large typed
 * arrays with a commutative op use a ring reduce-scatter followed by a gather of the reduced
 * blocks (bandwidth-optimal).
 *
 * @module
 */
import type { Op } from "../op.js";
import { packObject, unpackObject, type TypedArray } from "../serializer.js";
import { borrowScratch, bytesOfRange, copyOf, giveBack, scratch, splitEven } from "./blocks.js";
import type { Channel } from "./channel.js";

/**
 * Binomial reduce of object-tier values; the root gets the result, the others undefined. The
 * tree always runs towards rank 0 and folds in rank order, then rank 0 forwards the result to the
 * root (as mpi4py does): on objects even the predefined ops need not commute (SUM concatenates
 * strings and lists, LAND/LOR return one of their operands). The caller's value is never handed
 * to the op, nor returned: the fold starts from a copy.
 */
export async function reduceValues(ch: Channel, root: number, value: unknown, op: Op): Promise<unknown> {
  const { rank, size: n } = ch;
  const own = packObject(value);
  let acc: unknown;
  let folded = false; // until this rank folds something in, its partial result is `own`
  const partial = (): Uint8Array => (folded ? packObject(acc) : own);
  for (let mask = 1; mask < n; mask <<= 1) {
    if (rank & mask) {
      await ch.send(rank - mask, partial(), true);
      break;
    }
    if (rank + mask < n) {
      acc = op.apply(folded ? acc : unpackObject(own), unpackObject(await ch.recv(rank + mask)));
      folded = true;
    }
  }
  if (root !== 0) {
    if (rank === 0) await ch.send(root, partial(), true);
    if (rank === root) return unpackObject(await ch.recv(0));
  }
  if (rank !== root) return undefined;
  return folded ? acc : unpackObject(own);
}

/**
 * Binomial reduce of typed arrays: the root's `recv` gets op over every rank's `send`. Works
 * on a scratch copy, so `send` is never changed.
 */
export async function reduceArrayBinomial(ch: Channel, root: number, send: TypedArray, recv: TypedArray | null, op: Op): Promise<void> {
  const { rank, size: n } = ch;
  const treeRoot = op.commute ? root : 0;
  const vr = (rank - treeRoot + n) % n;
  const acc = copyOf(send);
  let tmp: TypedArray | undefined;
  for (let mask = 1; mask < n; mask <<= 1) {
    if (vr & mask) {
      await ch.send((vr - mask + treeRoot) % n, bytesOfRange(acc), true);
      break;
    }
    if (vr + mask < n) {
      tmp ??= scratch(send);
      await ch.recv((vr + mask + treeRoot) % n, bytesOfRange(tmp));
      op.reduceInto(acc, tmp, false);
    }
  }
  if (treeRoot !== root) {
    // the root's own operand went up the tree in `acc` (owned), so the result lands in `recv`
    if (rank === treeRoot) await ch.send(root, bytesOfRange(acc), true);
    if (rank === root) await ch.recv(treeRoot, bytesOfRange(recv!));
  } else if (rank === root) {
    (recv as Uint8Array).set(acc as Uint8Array);
  }
}

/**
 * Ring reduce-scatter (commutative ops) of every rank's `src`, split into `offsets` blocks:
 * after N-1 steps rank r holds the fully reduced block (r + shift) mod N in `acc` (`acc` may be
 * `src`). Each step combines the incoming partial block with this rank's own block of `src`,
 * so `acc` needs no copy of `src` first; blocks of `acc` not reduced here are left as they were.
 */
export async function reduceScatterRing(
  ch: Channel,
  src: TypedArray,
  acc: TypedArray,
  offsets: readonly number[],
  op: Op,
  shift: number,
): Promise<void> {
  const { rank, size: n } = ch;
  if (n === 1) {
    if (acc !== src) (acc as Uint8Array).set(src as Uint8Array); // one operand is its own reduction
    return;
  }
  const right = (rank + 1) % n;
  const left = (rank - 1 + n) % n;
  const idx = (i: number): number => ((i % n) + n) % n;
  let largest = 0;
  for (let i = 0; i < n; i++) largest = Math.max(largest, offsets[i + 1]! - offsets[i]!);
  const tmp = borrowScratch(acc, largest);
  const block = (a: TypedArray, i: number) => a.subarray(offsets[i]!, offsets[i + 1]!) as TypedArray;
  try {
    for (let s = 0; s < n - 1; s++) {
      const out = idx(rank + shift - 1 - s);
      const into = idx(rank + shift - 2 - s);
      const view = tmp.subarray(0, offsets[into + 1]! - offsets[into]!) as TypedArray;
      // Step 0 sends this rank's own operand; later steps the block reduced in the step before.
      await Promise.all([
        ch.send(right, bytesOfRange(s === 0 ? src : acc, offsets[out]!, offsets[out + 1]!)),
        ch.recv(left, bytesOfRange(view)),
      ]);
      op.combine(block(acc, into), view, block(src, into));
    }
  } finally {
    giveBack(tmp);
  }
}

/** Reduce of large typed arrays with a commutative op: ring reduce-scatter, then the blocks go to the root. */
export async function reduceArrayRing(ch: Channel, root: number, send: TypedArray, recv: TypedArray | null, op: Op): Promise<void> {
  const { rank, size: n } = ch;
  const acc = borrowScratch(send);
  try {
    const offsets = splitEven(send.length, n, op.itemSize);
    await reduceScatterRing(ch, send, acc, offsets, op, 0);
    if (rank !== root) return await ch.send(root, bytesOfRange(acc, offsets[rank]!, offsets[rank + 1]!));
    (recv as Uint8Array).set(acc.subarray(offsets[rank]!, offsets[rank + 1]!) as Uint8Array, offsets[rank]!);
    await Promise.all(
      Array.from({ length: n }, (_, i) => (i === root ? undefined : ch.recv(i, bytesOfRange(recv!, offsets[i]!, offsets[i + 1]!)))),
    );
  } finally {
    giveBack(acc);
  }
}
