/** Little-endian byte strings for tests and fixtures that write raw records (shared-memory rings). */

/** `v` as 8 little-endian bytes. */
export function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

/** Each of `v` as 4 little-endian bytes (unsigned: negative numbers wrap). */
export function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}
