/**
 * Gather and scatter along a binomial tree (ceil(log2 N) rounds): each subtree's blocks travel
 * as one message. Object tier: blocks are serialized values of any size (bundled); buffer
 * tier: fixed-size blocks of a typed array. The v-variants (per-rank counts) go directly
 * between the root and each rank, as non-roots do not know the other ranks' counts.
 *
 * @module
 */
import type { TypedArray } from "../serializer.js";
import { bytesOfRange, scratch } from "./blocks.js";
import { bundle, unbundle, type Channel } from "./channel.js";

/** Binomial gather of byte strings; the root gets them in rank order, the others undefined. */
export async function gatherBlobs(ch: Channel, root: number, mine: Uint8Array): Promise<Uint8Array[] | undefined> {
  const n = ch.size;
  const vr = (ch.rank - root + n) % n;
  const parts = [mine]; // relative ranks vr, vr+1, ...
  for (let mask = 1; mask < n; mask <<= 1) {
    if (vr & mask) {
      await ch.send((vr - mask + root) % n, bundle(parts), true);
      return undefined;
    }
    if (vr + mask < n) parts.push(...unbundle(await ch.recv((vr + mask + root) % n)));
  }
  const out = new Array<Uint8Array>(n);
  parts.forEach((p, i) => (out[(i + root) % n] = p));
  return out;
}

/** Binomial scatter of byte strings: the root passes one per rank (in rank order), each rank gets its own. */
export async function scatterBlobs(ch: Channel, root: number, blobs: readonly Uint8Array[] | undefined): Promise<Uint8Array> {
  const n = ch.size;
  const vr = (ch.rank - root + n) % n;
  let parts: Uint8Array[] = vr === 0 ? Array.from({ length: n }, (_, i) => blobs![(i + root) % n]!) : [];
  let mask = 1;
  for (; mask < n; mask <<= 1) {
    if (vr & mask) {
      parts = unbundle(await ch.recv((vr - mask + root) % n));
      break;
    }
  }
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (vr + mask < n) sends.push(ch.send((vr + mask + root) % n, bundle(parts.slice(mask, mask + Math.min(mask, n - vr - mask))), true));
  }
  await Promise.all(sends);
  return parts[0]!;
}

/**
 * Binomial gather of `send` (count elements per rank) into the root's `recv` (n * count, in rank
 * order). Intermediate ranks hold their subtree's blocks in relative order.
 */
export async function gatherArray(ch: Channel, root: number, send: TypedArray, recv: TypedArray | null): Promise<void> {
  const n = ch.size;
  const count = send.length;
  const vr = (ch.rank - root + n) % n;
  let subtree = 1;
  while (subtree < n && !(vr & subtree)) subtree <<= 1;
  const have = Math.min(subtree, n - vr);
  // A leaf sends its own array as it is: no scratch copy.
  if (vr !== 0 && have === 1) return ch.send((vr - subtree + root) % n, bytesOfRange(send), true);
  const tmp = vr === 0 && root === 0 ? recv! : scratch(send, have * count);
  (tmp as Uint8Array).set(send as Uint8Array);
  for (let mask = 1; mask < subtree && vr + mask < n; mask <<= 1) {
    const blocks = Math.min(mask, n - vr - mask);
    await ch.recv((vr + mask + root) % n, bytesOfRange(tmp, mask * count, (mask + blocks) * count));
  }
  if (vr !== 0) return ch.send((vr - subtree + root) % n, bytesOfRange(tmp, 0, have * count), true);
  if (root !== 0) {
    for (let i = 0; i < n; i++) (recv as Uint8Array).set(tmp.subarray(i * count, (i + 1) * count) as Uint8Array, ((i + root) % n) * count);
  }
}

/** Binomial scatter of the root's `send` (n * count) into each rank's `recv` (count elements). */
export async function scatterArray(ch: Channel, root: number, send: TypedArray | null, recv: TypedArray): Promise<void> {
  const n = ch.size;
  const count = recv.length;
  const vr = (ch.rank - root + n) % n;
  let subtree = 1;
  while (subtree < n && !(vr & subtree)) subtree <<= 1;
  const have = Math.min(subtree, n - vr);
  let tmp: TypedArray;
  if (vr !== 0 && have === 1) {
    // A leaf receives its block straight into its own array.
    await ch.recv((vr - subtree + root) % n, bytesOfRange(recv));
    return;
  }
  if (vr === 0 && root === 0)
    tmp = send!.subarray(0, n * count); // already in relative order
  else if (vr === 0) {
    tmp = scratch(recv, n * count);
    for (let i = 0; i < n; i++)
      (tmp as Uint8Array).set(send!.subarray(((i + root) % n) * count, (((i + root) % n) + 1) * count) as Uint8Array, i * count);
  } else {
    tmp = scratch(recv, have * count);
    await ch.recv((vr - subtree + root) % n, bytesOfRange(tmp));
  }
  const sends: Promise<void>[] = [];
  for (let mask = subtree >> 1; mask > 0; mask >>= 1) {
    if (vr + mask < n)
      sends.push(ch.send((vr + mask + root) % n, bytesOfRange(tmp, mask * count, (mask + Math.min(mask, n - vr - mask)) * count), true));
  }
  (recv as Uint8Array).set(tmp.subarray(0, count) as Uint8Array);
  await Promise.all(sends);
}

/** Gatherv: each rank's `send` goes to the root's `recv` at `displs[rank]` (counts[rank] elements). */
export async function gathervArray(
  ch: Channel,
  root: number,
  send: TypedArray,
  recv: TypedArray | null,
  counts: readonly number[],
  displs: readonly number[],
): Promise<void> {
  if (ch.rank !== root) return ch.send(root, bytesOfRange(send));
  await Promise.all(
    counts.map((c, i) => {
      if (i !== root) return ch.recv(i, bytesOfRange(recv!, displs[i]!, displs[i]! + c));
      (recv as Uint8Array).set(send as Uint8Array, displs[i]!);
      return undefined;
    }),
  );
}

/** Scatterv: the root's `send` block at `displs[i]` (counts[i] elements) goes to rank i's `recv`. */
export async function scattervArray(
  ch: Channel,
  root: number,
  send: TypedArray | null,
  recv: TypedArray,
  counts: readonly number[] | null,
  displs: readonly number[] | null,
): Promise<void> {
  if (ch.rank !== root) {
    await ch.recv(root, bytesOfRange(recv));
    return;
  }
  await Promise.all(
    counts!.map((c, i) => {
      if (i !== root) return ch.send(i, bytesOfRange(send!, displs![i]!, displs![i]! + c));
      (recv as Uint8Array).set(send!.subarray(displs![i]!, displs![i]! + c) as Uint8Array);
      return undefined;
    }),
  );
}
