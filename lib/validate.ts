/**
 * Argument checks shared by the public methods. Each throws a `TsmpiError` whose message names
 * the argument, the allowed range and the value given, e.g.
 * `dest must be an integer in [0, 4) or PROC_NULL, got 7`.
 *
 * @module
 */
import { ANY_SOURCE, ANY_TAG, PROC_NULL, TAG_UB } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import { isTypedArray, type TypedArray } from "./serializer.js";

/** A destination rank: `[0, size)` or `PROC_NULL`. */
export function checkDest(value: unknown, size: number, name = "dest"): number {
  if (Number.isInteger(value) && (((value as number) >= 0 && (value as number) < size) || value === PROC_NULL)) return value as number;
  throw new TsmpiError("ERR_TSMPI_RANK", `${name} must be an integer in [0, ${size}) or PROC_NULL, got ${describeValue(value)}`);
}

/** A source rank: `[0, size)`, `ANY_SOURCE` or `PROC_NULL`. */
export function checkSource(value: unknown, size: number, name = "source"): number {
  if (Number.isInteger(value) && (((value as number) >= 0 && (value as number) < size) || value === PROC_NULL || value === ANY_SOURCE)) {
    return value as number;
  }
  throw new TsmpiError(
    "ERR_TSMPI_RANK",
    `${name} must be an integer in [0, ${size}), ANY_SOURCE or PROC_NULL, got ${describeValue(value)}`,
  );
}

/** A root rank of a collective: `[0, size)`. */
export function checkRoot(value: unknown, size: number, name = "root"): number {
  if (Number.isInteger(value) && (value as number) >= 0 && (value as number) < size) return value as number;
  throw new TsmpiError("ERR_TSMPI_ROOT", `${name} must be an integer in [0, ${size}), got ${describeValue(value)}`);
}

/** A send tag: `[0, TAG_UB]`. */
export function checkSendTag(value: unknown, name = "tag"): number {
  if (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= TAG_UB) return value as number;
  throw new TsmpiError("ERR_TSMPI_TAG", `${name} must be an integer in [0, ${TAG_UB}], got ${describeValue(value)}`);
}

/** A receive tag: `[0, TAG_UB]` or `ANY_TAG`. */
export function checkRecvTag(value: unknown, name = "tag"): number {
  if (Number.isInteger(value) && (((value as number) >= 0 && (value as number) <= TAG_UB) || value === ANY_TAG)) return value as number;
  throw new TsmpiError("ERR_TSMPI_TAG", `${name} must be an integer in [0, ${TAG_UB}] or ANY_TAG, got ${describeValue(value)}`);
}

/** A non-negative integer count, at most `max`. */
export function checkCount(value: unknown, max: number, name: string, what: string): number {
  if (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max) return value as number;
  throw new TsmpiError("ERR_TSMPI_COUNT", `${name} must be an integer in [0, ${max}] (${what}), got ${describeValue(value)}`);
}

/**
 * A buffer-tier argument: a typed array, or `[typedArray, count]` to use only the first `count`
 * elements (as mpi4py's `[data, count, type]`). Returns a view of exactly the elements used.
 */
export function checkBuffer(value: unknown, name: string): TypedArray {
  if (isTypedArray(value)) return value;
  if (Array.isArray(value) && value.length === 2 && isTypedArray(value[0])) {
    const array = value[0] as TypedArray;
    const count = checkCount(value[1], array.length, `${name} count`, `the length of ${describeValue(array)}`);
    return array.subarray(0, count) as TypedArray;
  }
  throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a typed array, a DeviceArray or [array, count], got ${describeValue(value)}`);
}

/** Like {@link checkBuffer}, but `null`/`undefined` pass through (for arguments unused on some ranks). */
export function checkOptionalBuffer(value: unknown, name: string): TypedArray | null {
  return value === null || value === undefined ? null : checkBuffer(value, name);
}

/** A v-variant buffer: an array with per-rank element counts and displacements. */
export interface VBuffer {
  array: TypedArray;
  counts: number[];
  displs: number[];
}

/**
 * A v-variant argument: `[typedArray, counts]` or `[typedArray, counts, displs]` with one count
 * (and displacement) per rank; displacements default to packed blocks. Every block must lie
 * inside the array.
 */
export function checkVBuffer(value: unknown, size: number, name: string): VBuffer {
  if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3) || !isTypedArray(value[0]) || !Array.isArray(value[1])) {
    throw new TsmpiError(
      "ERR_TSMPI_TYPE",
      `${name} must be [array, counts] or [array, counts, displs] (a typed array or a DeviceArray), got ${describeValue(value)}`,
    );
  }
  const array = value[0] as TypedArray;
  const counts = value[1] as unknown[];
  if (counts.length !== size)
    throw new TsmpiError("ERR_TSMPI_COUNT", `${name} counts must have one entry per rank (${size}), got ${counts.length}`);
  counts.forEach((c, i) => checkCount(c, array.length, `${name} counts[${i}]`, `the length of ${describeValue(array)}`));
  let displs: unknown[];
  if (value.length === 3) {
    if (!Array.isArray(value[2]) || value[2].length !== size) {
      throw new TsmpiError(
        "ERR_TSMPI_COUNT",
        `${name} displs must be an array with one entry per rank (${size}), got ${describeValue(value[2])}`,
      );
    }
    displs = value[2];
  } else {
    let off = 0;
    displs = (counts as number[]).map((c) => {
      off += c;
      return off - c;
    });
  }
  displs.forEach((d, i) => {
    const room = array.length - (counts[i] as number);
    checkCount(d, room, `${name} displs[${i}]`, `block ${i} of ${counts[i]} elements must fit in ${describeValue(array)}`);
  });
  return { array, counts: counts as number[], displs: displs as number[] };
}

/** Checks that `array` has exactly `expected` elements. */
export function checkLength(array: TypedArray, expected: number, name: string, why: string): void {
  if (array.length !== expected) {
    throw new TsmpiError("ERR_TSMPI_COUNT", `${name} must have ${expected} elements (${why}), got ${describeValue(array)}`);
  }
}

/** Checks that two typed arrays are of one kind. */
export function checkSameKind(a: TypedArray, b: TypedArray, what: string): void {
  const ka = Buffer.isBuffer(a) ? Uint8Array : a.constructor;
  const kb = Buffer.isBuffer(b) ? Uint8Array : b.constructor;
  if (ka !== kb)
    throw new TsmpiError("ERR_TSMPI_TYPE", `${what} must be typed arrays of one kind, got ${describeValue(a)} and ${describeValue(b)}`);
}
