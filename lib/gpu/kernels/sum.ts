/**
 * Sum reduction in JavaScript: the twin of the addon's CPU sum (float64 accumulation in index
 * order, so the two agree bit for bit; the GPU adds in a fixed tree order instead).
 *
 * Not supported yet: compensated (Kahan) summation, partial ranges.
 *
 * @module
 */
import type { TypedArray } from "../../serializer.js";

/**
 * The sum of all elements as a float64 (BigInt elements converted with `Number`).
 *
 * @example
 * ```ts
 * sumJs(new Int8Array([-1, 2, 3])); // 4
 * ```
 */
export function sumJs(x: TypedArray): number {
  let total = 0;
  if (x instanceof BigInt64Array || x instanceof BigUint64Array) {
    for (let i = 0; i < x.length; i++) total += Number(x[i]!);
  } else {
    for (let i = 0; i < x.length; i++) total += x[i]!;
  }
  return total;
}
