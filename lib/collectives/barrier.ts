/**
 * Barrier: the dissemination algorithm. In round k each rank signals rank + 2^k and waits for
 * rank - 2^k (mod N): ceil(log2 N) rounds, one message per round, for any N.
 *
 * @module
 */
import type { Channel } from "./channel.js";

const EMPTY = new Uint8Array(0);

/** Returns once every rank of the channel has entered. */
export async function barrier(ch: Channel): Promise<void> {
  const { rank, size } = ch;
  for (let d = 1; d < size; d *= 2) {
    await Promise.all([ch.send((rank + d) % size, EMPTY, true), ch.recv((rank - d + size) % size)]);
  }
}
