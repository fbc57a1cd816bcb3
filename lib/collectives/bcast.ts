/**
 * Broadcast: a binomial tree (ceil(log2 N) rounds; the root sends log2 N messages) for small
 * payloads, and for large typed arrays the scatter + ring-allgather of van de Geijn, which moves
 * about 2 m bytes per rank instead of m log2 N at the root.
 *
 * @module
 */
import type { Channel } from "./channel.js";

/**
 * Binomial broadcast of bytes from `root`: the root passes `data`, the others get what they
 * received (into `into` when given). `owned`: the bytes may be forwarded without copying.
 */
export async function bcastBinomial(
  ch: Channel,
  root: number,
  data: Uint8Array | undefined,
  into?: Uint8Array,
  owned = false,
): Promise<Uint8Array> {
  const n = ch.size;
  const vr = (ch.rank - root + n) % n;
  let buf = data;
  let mask = 1;
  for (; mask < n; mask <<= 1) {
    if (vr & mask) {
      buf = await ch.recv((vr - mask + root) % n, into);
      break;
    }
  }
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (vr + mask < n) sends.push(ch.send((vr + mask + root) % n, buf!, owned));
  }
  await Promise.all(sends);
  return buf!;
}

/**
 * Scatter + ring allgather of `buf` (all ranks pass their full-size buffer; the root's holds the
 * data). Block i goes from the root to rank i, then the blocks circulate around the ring.
 */
export async function bcastScatterRing(ch: Channel, root: number, buf: Uint8Array): Promise<void> {
  const { rank, size: n } = ch;
  const base = Math.floor(buf.byteLength / n);
  const extra = buf.byteLength % n;
  const block = (i: number): Uint8Array => {
    const start = i * base + Math.min(i, extra);
    return buf.subarray(start, start + base + (i < extra ? 1 : 0));
  };
  if (rank === root) {
    await Promise.all(Array.from({ length: n }, (_, i) => (i === root ? undefined : ch.send(i, block(i)))));
  } else {
    await ch.recv(root, block(rank));
  }
  const right = (rank + 1) % n;
  const left = (rank - 1 + n) % n;
  for (let s = 0; s < n - 1; s++) {
    await Promise.all([ch.send(right, block((rank - s + n) % n)), ch.recv(left, block((rank - s - 1 + n) % n))]);
  }
}
