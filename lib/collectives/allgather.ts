/**
 * Allgather: Bruck's algorithm for small payloads (ceil(log2 N) rounds for any N; in round k each
 * rank passes on the min(2^k, N-2^k) blocks it has to rank - 2^k) and a ring for large typed
 * arrays (N-1 steps, each rank sends (N-1)/N of the data: bandwidth-optimal). Allgatherv uses
 * the ring with per-rank counts.
 *
 * @module
 */
import type { TypedArray } from "../serializer.js";
import { bytesOfRange, scratch } from "./blocks.js";
import { bundle, unbundle, type Channel } from "./channel.js";

/** Bruck allgather of byte strings of any size; every rank gets all, in rank order. */
export async function allgatherBlobs(ch: Channel, mine: Uint8Array): Promise<Uint8Array[]> {
  const { rank, size: n } = ch;
  const parts = [mine]; // parts[i] belongs to rank (rank + i) % n
  for (let d = 1; d < n; d *= 2) {
    const [, got] = await Promise.all([
      ch.send((rank - d + n) % n, bundle(parts.slice(0, Math.min(d, n - d))), true),
      ch.recv((rank + d) % n),
    ]);
    parts.push(...unbundle(got));
  }
  const out = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) out[(rank + i) % n] = parts[i]!;
  return out;
}

/** Bruck allgather of equal blocks: `send` (count elements) from every rank into `recv` (n * count). */
export async function allgatherBruck(ch: Channel, send: TypedArray, recv: TypedArray): Promise<void> {
  const { rank, size: n } = ch;
  const count = send.length;
  const tmp = rank === 0 ? recv : scratch(send, n * count);
  (tmp as Uint8Array).set(send as Uint8Array);
  for (let d = 1; d < n; d *= 2) {
    const blocks = Math.min(d, n - d);
    await Promise.all([
      ch.send((rank - d + n) % n, bytesOfRange(tmp, 0, blocks * count)),
      ch.recv((rank + d) % n, bytesOfRange(tmp, d * count, (d + blocks) * count)),
    ]);
  }
  if (tmp === recv) return;
  for (let i = 0; i < n; i++) (recv as Uint8Array).set(tmp.subarray(i * count, (i + 1) * count) as Uint8Array, ((rank + i) % n) * count);
}

/**
 * Ring allgather over blocks of `recv` (block i: `counts[i]` elements at `displs[i]`); each rank's
 * own block must already be in place. Step s passes block (rank - s) to the right neighbour.
 */
export async function allgatherRing(
  ch: Channel,
  recv: TypedArray,
  counts: readonly number[],
  displs: readonly number[],
  shift = 0,
): Promise<void> {
  const { rank, size: n } = ch;
  const right = (rank + 1) % n;
  const left = (rank - 1 + n) % n;
  const block = (i: number): Uint8Array => {
    const b = (((i + shift) % n) + n) % n;
    return bytesOfRange(recv, displs[b]!, displs[b]! + counts[b]!);
  };
  for (let s = 0; s < n - 1; s++) {
    await Promise.all([ch.send(right, block(rank - s)), ch.recv(left, block(rank - s - 1))]);
  }
}
