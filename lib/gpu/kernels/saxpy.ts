/**
 * saxpy in JavaScript: the twin of the addon's CPU and GPU saxpy, rounding exactly like them
 * (a float32 multiply, then a float32 add; no fused multiply-add).
 *
 * Not supported yet: strided vectors, other element kinds than Float32Array and Float64Array.
 *
 * @module
 */

/**
 * `y[i] = a * x[i] + y[i]` in place. `x` and `y` have one kind and one length (checked by the caller).
 *
 * @example
 * ```ts
 * const y = new Float32Array([1, 1]); saxpyJs(2, new Float32Array([1, 2]), y); // y = [3, 5]
 * ```
 */
export function saxpyJs(a: number, x: Float32Array | Float64Array, y: Float32Array | Float64Array): void {
  if (y instanceof Float32Array) {
    const a32 = Math.fround(a);
    for (let i = 0; i < y.length; i++) y[i] = Math.fround(a32 * x[i]!) + y[i]!;
  } else {
    for (let i = 0; i < y.length; i++) y[i] = a * x[i]! + y[i]!;
  }
}
