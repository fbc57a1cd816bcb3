/**
 * Helpers for buffer-tier algorithms: byte views of element ranges and the split of an array
 * into N near-equal blocks.
 *
 * @module
 */
import type { TypedArray } from "../serializer.js";

/** A byte view of elements `[start, end)` of `array` (no copy). */
export function bytesOfRange(array: TypedArray, start = 0, end = array.length): Uint8Array {
  const bpe = array.BYTES_PER_ELEMENT;
  return new Uint8Array(array.buffer, array.byteOffset + start * bpe, (end - start) * bpe);
}

/** A new zeroed array of the same kind as `like`, with `length` elements. */
export function scratch(like: TypedArray, length = like.length): TypedArray {
  return new (like.constructor as new (n: number) => TypedArray)(length);
}

/** A copy of `array` (same kind; a Buffer becomes a Uint8Array). */
export function copyOf(array: TypedArray): TypedArray {
  const out = scratch(array);
  (out as Uint8Array).set(array as Uint8Array);
  return out;
}

/**
 * Start offsets of `parts` near-equal blocks of `total` elements (length parts + 1), each a
 * whole number of `unit`-element items (`total` must be a multiple of `unit`).
 */
export function splitEven(total: number, parts: number, unit = 1): number[] {
  const items = total / unit;
  const base = Math.floor(items / parts);
  const extra = items % parts;
  const offsets = [0];
  for (let i = 0; i < parts; i++) offsets.push(offsets[i]! + (base + (i < extra ? 1 : 0)) * unit);
  return offsets;
}

/** Displacements of consecutive blocks of the given counts (MPI's default for v-variants). */
export function packedDispls(counts: readonly number[]): number[] {
  const displs: number[] = [];
  let off = 0;
  for (const c of counts) {
    displs.push(off);
    off += c;
  }
  return displs;
}

/** Scratch arrays kept for reuse: a fresh large array page-faults on every first touch. */
const pool = new Map<string, TypedArray[]>();
let pooledBytes = 0;
const POOL_MIN_BYTES = 64 * 1024;
const POOL_MAX_BYTES = 64 * 1024 * 1024;

/** A scratch array like {@link scratch} (contents undefined), reused when one is free; give it back with {@link giveBack}. */
export function borrowScratch(like: TypedArray, length = like.length): TypedArray {
  const list = pool.get(`${like.constructor.name}:${length}`);
  const hit = list?.pop();
  if (hit) {
    pooledBytes -= hit.byteLength;
    return hit;
  }
  return scratch(like, length);
}

/** Returns a borrowed scratch array for reuse (small ones, or beyond the pool's size, are dropped). */
export function giveBack(array: TypedArray): void {
  if (array.byteLength < POOL_MIN_BYTES || pooledBytes + array.byteLength > POOL_MAX_BYTES) return;
  const key = `${array.constructor.name}:${array.length}`;
  const list = pool.get(key) ?? [];
  list.push(array);
  pool.set(key, list);
  pooledBytes += array.byteLength;
}
