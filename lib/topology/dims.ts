/**
 * `Compute_dims` (`MPI_Dims_create`): a balanced grid shape for a number of processes, with the
 * answers Open MPI gives (its `ompi_dims_create`): the free processes (those the fixed entries
 * leave) are split into prime factors, each factor from the largest to the smallest goes to the
 * smallest free dimension so far, and the free dimensions are then sorted in decreasing order.
 * Checked against Open MPI 4.1 for every n ≤ 64 and up to 4 dimensions (test/topology.test.ts).
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";

/** The prime factors of `n`, smallest first, with repetition. */
function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; p * p <= n; p++) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  if (n > 1) out.push(n);
  return out;
}

/**
 * A balanced distribution of `nnodes` processes over the dimensions (`MPI_Dims_create`).
 * `dims` is the number of dimensions, or one entry per dimension: 0 for free, a positive number
 * to keep. Returns a new list; the free entries are in non-increasing order.
 * @throws TsmpiError `ERR_TSMPI_ARG` for nnodes < 1, a negative entry, a fixed entry that does not
 *   divide `nnodes`, or no free entry and a product other than `nnodes` (as Open MPI).
 *
 * @example
 * ```ts
 * Compute_dims(12, 3);        // [3, 2, 2]
 * Compute_dims(12, [0, 3]);   // [4, 3]
 * ```
 */
export function Compute_dims(nnodes: number, dims: number | readonly number[]): number[] {
  if (!Number.isInteger(nnodes) || nnodes < 1)
    throw new TsmpiError("ERR_TSMPI_ARG", `nnodes must be a positive integer, got ${describeValue(nnodes)}`);
  let out: number[];
  if (typeof dims === "number") {
    if (!Number.isInteger(dims) || dims < 0)
      throw new TsmpiError("ERR_TSMPI_ARG", `dims must be a non-negative integer or an array, got ${describeValue(dims)}`);
    out = new Array<number>(dims).fill(0);
  } else if (Array.isArray(dims)) {
    out = dims.map((d, i) => {
      if (!Number.isInteger(d) || d < 0)
        throw new TsmpiError("ERR_TSMPI_ARG", `dims[${i}] must be a non-negative integer, got ${describeValue(d)}`);
      return d as number;
    });
  } else {
    throw new TsmpiError("ERR_TSMPI_ARG", `dims must be a non-negative integer or an array, got ${describeValue(dims)}`);
  }
  // Open MPI's checks, quirks included: each fixed entry must divide nnodes, and the free
  // processes are nnodes divided by the fixed entries one at a time, rounding down (so
  // Compute_dims(2, [0, 2, 2]) is [1, 2, 2], as there).
  let free = 0;
  let procs = nnodes;
  for (const d of out) {
    if (d === 0) free++;
    else if (nnodes % d !== 0) {
      throw new TsmpiError("ERR_TSMPI_ARG", `each fixed entry of dims must divide nnodes (${nnodes}), got dims ${describeValue(dims)}`);
    } else procs = Math.floor(procs / d);
  }
  if (free === 0) {
    if (procs !== 1)
      throw new TsmpiError("ERR_TSMPI_ARG", `dims ${describeValue(dims)} has no free entry and does not multiply to nnodes (${nnodes})`);
    return out;
  }
  const bins = new Array<number>(free).fill(1);
  const factors = primeFactors(procs);
  for (let j = factors.length - 1; j >= 0; j--) {
    let min = 0;
    for (let i = 1; i < free; i++) if (bins[i]! < bins[min]!) min = i;
    bins[min]! *= factors[j]!;
  }
  bins.sort((a, b) => b - a);
  let k = 0;
  return out.map((d) => (d === 0 ? bins[k++]! : d));
}
