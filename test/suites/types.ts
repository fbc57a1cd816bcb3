/**
 * What a suite (a file of `test/suites/`, exporting `cases`) holds: semantic test cases run inside
 * rank processes, by `test/fixtures/run-suite.ts`: each case gets the `tsmpi` module and a
 * communicator (COMM_WORLD, a dup of it, or COMM_SELF) and throws on failure (cases import
 * `node:assert/strict` themselves). Kept free of a
 * runtime import of `tsmpi` so mocha can list the cases without becoming a rank.
 */
import type * as Tsmpi from "tsmpi";

export interface CaseContext {
  mpi: typeof Tsmpi;
  comm: Tsmpi.Comm;
}

export type Case = (t: CaseContext) => Promise<void>;

/** Line prefix of a case result on a rank's stdout. */
export const RESULT_PREFIX = "@@case ";

export interface CaseResult {
  suite: string;
  case: string;
  comm: string;
  rank: number;
  ok: boolean;
  error?: string;
}

/**
 * A typed array of a kind chosen at run time, read and written element by element: its elements
 * are numbers, or BigInts for the 64-bit kinds.
 */
export type AnyTypedArray = Tsmpi.TypedArray & { [i: number]: number | bigint };

/** Every typed-array kind, in the serializer's order (the suites that run over all of them). */
export const ALL_KINDS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
