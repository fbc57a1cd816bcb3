/**
 * Philox-4x32-10 counter-based random numbers in JavaScript: the twin of `native/rng.h`, word for
 * word, so the JS, C++ and CUDA backends draw identical numbers.
 *
 * Not supported yet: other Philox widths/round counts, floating-point output helpers.
 *
 * @module
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** The high 32 bits of the 64-bit product of two uint32 (exact: split into 16-bit halves). */
function mulhi32(a: number, b: number): number {
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lo = a * bLo; // < 2^48, exact
  const hi = a * bHi; // < 2^48, exact; the product is hi * 2^16 + lo
  const hiLow16 = hi % 0x10000;
  return (Math.floor(hi / 0x10000) + Math.floor((hiLow16 * 0x10000 + lo) / 0x100000000)) >>> 0;
}

/**
 * One Philox-4x32-10 block: the four output words for counter `c0..c3` and key `k0, k1` (all
 * uint32). Matches Random123's known-answer vectors.
 *
 * @returns four uint32 words.
 * @example
 * ```ts
 * philox4x32(0, 0, 0, 0, 0, 0); // [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 * ```
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}
