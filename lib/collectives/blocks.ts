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
