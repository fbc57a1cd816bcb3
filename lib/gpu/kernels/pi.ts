/**
 * Monte Carlo pi sample counting in JavaScript: the twin of `native/kernels_cpu.cc` and
 * `native/kernels_gpu.cu` (the sampling scheme is described in `native/rng.h`), giving the
 * identical count for the same (seed, stream, offset, n).
 *
 * Not supported yet: spreading the JS twin over worker threads.
 *
 * @module
 */
import { philox4x32 } from "./philox.js";

const TWO32 = 2n ** 32n;
/** Blocks counted between two yields to the event loop. */
const BLOCKS_PER_SLICE = 1 << 18;

/** 1 when (x, y), each cut to its top 26 bits, lies inside the quarter circle (exact in a double). */
function inside(x: number, y: number): number {
  const a = x >>> 6;
  const b = y >>> 6;
  return a * a + b * b < 2 ** 52 ? 1 : 0;
}

/**
 * Points inside the quarter circle among samples [offset, offset + n) of `stream` under `seed`.
 * Yields to the event loop every 2^19 samples, so it never blocks for long.
 *
 * @param seed - key, in [0, 2^64).
 * @param stream - the third counter word, in [0, 2^32): one independent stream per rank.
 * @param offset - first sample index, in [0, 2^64 - n].
 * @param n - number of samples (n > 0 makes `offset + n - 1` the last index).
 * @returns the count, exact.
 */
export async function piCountJs(seed: bigint, stream: number, offset: bigint, n: bigint): Promise<number> {
  if (n === 0n) return 0;
  const k0 = Number(seed % TWO32);
  const k1 = Number(seed / TWO32);
  const first = offset;
  const last = offset + n - 1n;
  const firstBlock = first / 2n;
  const blocks = Number(last / 2n - firstBlock) + 1;
  // Only the range's ends can be partial blocks: an odd first sample skips the first block's
  // even sample, an even last sample skips the last block's odd one.
  const skipFirstEven = first % 2n === 1n;
  const skipLastOdd = last % 2n === 0n;
  let lo = Number(firstBlock % TWO32);
  let hi = Number(firstBlock / TWO32);
  let count = 0;
  for (let i = 0; i < blocks; i++) {
    const [x0, y0, x1, y1] = philox4x32(lo, hi, stream, 0, k0, k1);
    if (i !== 0 || !skipFirstEven) count += inside(x0, y0);
    if (i !== blocks - 1 || !skipLastOdd) count += inside(x1, y1);
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    if (i % BLOCKS_PER_SLICE === BLOCKS_PER_SLICE - 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return count;
}
