/**
 * Reduction operations (`MPI_Op`), for `reduce`, `allreduce`, `scan`, `exscan` and their
 * buffer-tier forms.
 *
 * Objects fold as `op(lower rank, higher rank)` with mpi4py's meaning of each op on Python
 * objects: SUM is `+` (numbers, BigInt, strings concatenate, arrays concatenate like Python
 * lists), MAX/MIN compare with `>`/`<`, LAND/LOR/LXOR give booleans (`bool(x) & bool(y)`),
 * typed arrays combine element-wise (like NumPy arrays). MAXLOC/MINLOC take
 * `[value, index]` pairs and give ties to the lower index; on typed arrays they take interleaved
 * `(value, index)` pairs. Buffer-tier reductions are element-wise on typed arrays of one kind.
 *
 * `Op.Reduce_local` applies an op to two local typed arrays, as one step of a reduction, and
 * `Op.Create` makes an op from an mpi4py-style function `(inbuf, inoutbuf, datatype)`.
 *
 * Not supported: ops on DataView or mixed typed-array kinds; bitwise ops on float arrays;
 * `Reduce_local` on DeviceArrays (this layer knows no GPU: copy to a typed array first).
 *
 * @module
 */
import { TsmpiError, describeValue } from "./errors.js";
import { isTypedArray, type TypedArray, type TypedArrayConstructor } from "./serializer.js";

type Pair = readonly [unknown, unknown];
/** An op on object-tier values: `op(lower rank's, higher rank's)`. */
type Scalar = (a: unknown, b: unknown) => unknown;
/**
 * An mpi4py-style user function ({@link Op.Create}): combines `inbuf` (the lower rank's) into
 * `inoutbuf` (the higher rank's), in place or by returning the result. `datatype` is the
 * typed-array constructor of the operands (standing for the datatype, as in `Alltoallw`), or
 * `null` for object-tier values that are not typed arrays (mpi4py passes `None`).
 */
// biome-ignore lint/suspicious/noExplicitAny: `any` as in Op.create, for the caller's convenience
export type UserFunction<T = any> = (inbuf: T, inoutbuf: T, datatype: TypedArrayConstructor | null) => T | undefined;
/** A buffer argument of {@link Op.Reduce_local}: a typed array or `[array, count]` (its first `count` elements). */
export type LocalBufferArg = TypedArray | [TypedArray, number];

/**
 * A value handed to a JavaScript operator as it is. The ops apply `+`, `*`, `>`, `&`, ... to
 * whatever the ranks passed (numbers, BigInts, strings), and the operator's own run-time rules
 * decide, as Python's do for mpi4py (mixing a BigInt and a number throws a TypeError). TypeScript
 * has no type for "number or bigint, both alike", so the operands are typed as numbers.
 */
const js = (v: unknown): number => v as number;

function asPair(v: unknown, op: string): Pair {
  if (Array.isArray(v) && v.length === 2) return v as unknown as Pair;
  throw new TsmpiError("ERR_TSMPI_OP", `${op} needs [value, index] pairs, got ${describeValue(v)}`);
}

function loc(better: (u: unknown, v: unknown) => boolean, name: string): Scalar {
  return (x, y) => {
    const [u, i] = asPair(x, name);
    const [v, j] = asPair(y, name);
    if (better(u, v)) return x;
    if (better(v, u)) return y;
    // a tie: the pair with the lower index, itself (mpi4py returns the winning (value, index))
    return js(j) < js(i) ? y : x;
  };
}

/** Object-level definitions (mpi4py's `_op_SUM` etc. on Python objects). */
const SCALAR: Record<string, Scalar> = {
  SUM: (a, b) => (Array.isArray(a) && Array.isArray(b) ? [...a, ...b] : js(a) + js(b)),
  PROD: (a, b) => js(a) * js(b),
  MAX: (a, b) => (js(b) > js(a) ? b : a),
  MIN: (a, b) => (js(b) < js(a) ? b : a),
  LAND: (a, b) => Boolean(a) && Boolean(b),
  LOR: (a, b) => Boolean(a) || Boolean(b),
  LXOR: (a, b) => Boolean(a) !== Boolean(b),
  BAND: (a, b) => js(a) & js(b),
  BOR: (a, b) => js(a) | js(b),
  BXOR: (a, b) => js(a) ^ js(b),
  MAXLOC: loc((u, v) => js(u) > js(v), "MAXLOC"),
  MINLOC: loc((u, v) => js(u) < js(v), "MINLOC"),
  REPLACE: (_a, b) => b,
  NO_OP: (a) => a,
};

/** Element-wise kernels: `out[i] = f(a[i], b[i])`, with `a` the lower rank's. */
type Kernel = (out: TypedArray, a: TypedArray, b: TypedArray) => void;

/**
 * A typed array's elements, read and written through one loop for every kind. BigInt64Array and
 * BigUint64Array hold bigints; the operators below apply to them alike (both operands are
 * bigints), so the elements are typed as numbers for the reason given at {@link js}.
 */
type Cells = { [i: number]: number; readonly length: number; set(from: ArrayLike<number>): void };
const cells = (a: TypedArray): Cells => a as unknown as Cells;

function elementwise(f: (p: number, q: number) => number): Kernel {
  return (out, a, b) => {
    const o = cells(out);
    const x = cells(a);
    const y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = f(x[i]!, y[i]!);
  };
}

function truth(kind: TypedArray, v: boolean): number {
  return js(kind instanceof BigInt64Array || kind instanceof BigUint64Array ? (v ? 1n : 0n) : v ? 1 : 0);
}

function locKernel(better: (u: number, v: number) => boolean): Kernel {
  return (out, a, b) => {
    const o = cells(out);
    const x = cells(a);
    const y = cells(b);
    for (let i = 0; i < x.length; i += 2) {
      const takeB = better(y[i]!, x[i]!) || (y[i] === x[i] && y[i + 1]! < x[i + 1]!);
      o[i] = takeB ? y[i]! : x[i]!;
      o[i + 1] = takeB ? y[i + 1]! : x[i + 1]!;
    }
  };
}

/** Fast loops for the common arithmetic ops (one per op, kept monomorphic per call site). */
const KERNELS: Record<string, Kernel> = {
  SUM: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = x[i]! + y[i]!;
  },
  PROD: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    // a 32-bit product can exceed 2^53, where a double loses the low bits that wrapping keeps
    if (a instanceof Int32Array || a instanceof Uint32Array) for (let i = 0; i < x.length; i++) o[i] = Math.imul(x[i]!, y[i]!);
    else for (let i = 0; i < x.length; i++) o[i] = x[i]! * y[i]!;
  },
  MAX: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = y[i]! > x[i]! ? y[i]! : x[i]!;
  },
  MIN: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = y[i]! < x[i]! ? y[i]! : x[i]!;
  },
  LAND: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = truth(a, Boolean(x[i]) && Boolean(y[i]));
  },
  LOR: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = truth(a, Boolean(x[i]) || Boolean(y[i]));
  },
  LXOR: (out, a, b) => {
    const o = cells(out),
      x = cells(a),
      y = cells(b);
    for (let i = 0; i < x.length; i++) o[i] = truth(a, Boolean(x[i]) !== Boolean(y[i]));
  },
  BAND: elementwise((p, q) => p & q),
  BOR: elementwise((p, q) => p | q),
  BXOR: elementwise((p, q) => p ^ q),
  MAXLOC: locKernel((u, v) => u > v),
  MINLOC: locKernel((u, v) => u < v),
  REPLACE: (out, _a, b) => cells(out).set(cells(b)),
  NO_OP: (out, a) => (out !== a ? cells(out).set(cells(a)) : undefined),
};

/**
 * A reduction operation. Use the predefined ones (`Op.SUM`, `Op.MAX`, ...) or make one with
 * {@link Op.create}.
 *
 * @example
 * ```ts
 * const total = await comm.allreduce(comm.rank, Op.SUM);
 * const concat = Op.create((a: string, b: string) => a + b, false);
 * const order = await comm.reduce(String(comm.rank), concat, 0); // "0123" on rank 0
 * ```
 */
export class Op {
  static readonly SUM = new Op("SUM", true, SCALAR.SUM!, KERNELS.SUM!);
  static readonly PROD = new Op("PROD", true, SCALAR.PROD!, KERNELS.PROD!);
  static readonly MAX = new Op("MAX", true, SCALAR.MAX!, KERNELS.MAX!);
  static readonly MIN = new Op("MIN", true, SCALAR.MIN!, KERNELS.MIN!);
  static readonly LAND = new Op("LAND", true, SCALAR.LAND!, KERNELS.LAND!);
  static readonly LOR = new Op("LOR", true, SCALAR.LOR!, KERNELS.LOR!);
  static readonly LXOR = new Op("LXOR", true, SCALAR.LXOR!, KERNELS.LXOR!);
  static readonly BAND = new Op("BAND", true, SCALAR.BAND!, KERNELS.BAND!, 1, true);
  static readonly BOR = new Op("BOR", true, SCALAR.BOR!, KERNELS.BOR!, 1, true);
  static readonly BXOR = new Op("BXOR", true, SCALAR.BXOR!, KERNELS.BXOR!, 1, true);
  static readonly MAXLOC = new Op("MAXLOC", true, SCALAR.MAXLOC!, KERNELS.MAXLOC!, 2);
  static readonly MINLOC = new Op("MINLOC", true, SCALAR.MINLOC!, KERNELS.MINLOC!, 2);
  static readonly REPLACE = new Op("REPLACE", false, SCALAR.REPLACE!, KERNELS.REPLACE!);
  static readonly NO_OP = new Op("NO_OP", false, SCALAR.NO_OP!, KERNELS.NO_OP!);

  private constructor(
    /** The op's name (`SUM`, ..., or `user` for {@link Op.create}). */
    readonly name: string,
    /** Whether `op(a, b) === op(b, a)`: lets reductions combine in any order. */
    readonly commute: boolean,
    private readonly scalar: Scalar,
    private readonly kernel: Kernel | undefined,
    /**
     * Elements of a typed array that make one operand: 2 for MAXLOC/MINLOC's (value, index)
     * pairs, else 1. Algorithms that split arrays into blocks split only between items.
     */
    readonly itemSize = 1,
    /** Defined on integer kinds only (the bitwise ops). */
    private readonly integersOnly = false,
    /** The function of an op made by {@link Op.Create}, called as mpi4py calls it. */
    private readonly inout?: UserFunction,
  ) {}

  /** Set by {@link Op.Free}: the op may no longer be used. */
  #freed = false;

  /**
   * A user-defined op (`MPI_Op_create`): `fn(a, b)` combines the lower rank's value `a` with the
   * higher rank's `b` and returns the result. For typed arrays (both tiers) it gets two arrays
   * of one kind and length and must return an array of that kind and length. `commute` (default
   * false, as mpi4py) allows combining in any order; a commutative op on large buffer-tier arrays
   * may also get matching slices of them (ring algorithms), so, as in MPI, it must work
   * element-wise. A non-commutative op always gets whole arrays.
   * @throws TsmpiError `ERR_TSMPI_ARG` when `fn` is not a function.
   */
  // `T` defaults to `any` so that `Op.create((a, b) => a + b)` type-checks in a user's code without
  // annotations, as the same lambda does in mpi4py; annotate `a` and `b` for a checked op.
  // biome-ignore lint/suspicious/noExplicitAny: the default above, for the caller's convenience
  static create<T = any>(fn: (a: T, b: T) => T, commute = false): Op {
    if (typeof fn !== "function") throw new TsmpiError("ERR_TSMPI_ARG", `fn must be a function, got ${describeValue(fn)}`);
    return new Op("user", Boolean(commute), fn as Scalar, undefined);
  }

  /**
   * A user-defined op from an mpi4py-style function (`MPI_Op_create`, mpi4py's `Op.Create`):
   * `fn(inbuf, inoutbuf, datatype)` combines `inbuf` (the lower rank's operand) into `inoutbuf`
   * (the higher rank's), as MPI's `inoutbuf = inbuf op inoutbuf`. It either writes `inoutbuf` in
   * place and returns nothing, or returns the result. For typed arrays (both tiers) `datatype`
   * is the operands' constructor (`Float64Array`, ...: the stand-in for a datatype, as in
   * `Alltoallw`) and `inoutbuf` is an array tsmpi owns, never a caller's send array; for other
   * object-tier values `datatype` is `null` (mpi4py's `None`) and the function should return the
   * result (returning nothing keeps `inoutbuf`). `commute` as in {@link Op.create}.
   * @throws TsmpiError `ERR_TSMPI_ARG` when `fn` is not a function.
   * @example
   * ```ts
   * const mysum = Op.Create((a: Int32Array, b: Int32Array) => { for (let i = 0; i < a.length; i++) b[i]! += a[i]!; }, true);
   * await comm.Allreduce(send, recv, mysum);
   * ```
   */
  static Create(fn: UserFunction, commute = false): Op {
    if (typeof fn !== "function") throw new TsmpiError("ERR_TSMPI_ARG", `function must be a function, got ${describeValue(fn)}`);
    const scalar: Scalar = (a, b) => {
      const arrays = isTypedArray(a) && isTypedArray(b);
      const inout = arrays ? b.slice() : b;
      const result = fn(a, inout, arrays ? (a.constructor as TypedArrayConstructor) : null);
      return result === undefined ? inout : result;
    };
    return new Op("user", Boolean(commute), scalar, undefined, 1, false, fn);
  }

  /**
   * Frees a user-defined op (`MPI_Op_free`): later reductions with it are `ERR_TSMPI_OP`. Nothing
   * else is released (the function is garbage-collected).
   * @throws TsmpiError `ERR_TSMPI_OP` for a predefined op (as MPI's `MPI_ERR_OP`) or one already freed.
   */
  Free(): void {
    if (this.isPredefined) throw new TsmpiError("ERR_TSMPI_OP", `${this} is predefined and cannot be freed`);
    this.checkUsable();
    this.#freed = true;
  }

  /** @internal Throws `ERR_TSMPI_OP` when the op was freed. */
  checkUsable(): void {
    if (this.#freed) throw new TsmpiError("ERR_TSMPI_OP", `${this} was freed`);
  }

  /** True for a predefined op. */
  get isPredefined(): boolean {
    return this.kernel !== undefined;
  }

  /** True for a predefined op (mpi4py's `Op.is_predefined`). */
  get is_predefined(): boolean {
    return this.isPredefined;
  }

  /**
   * Whether the op is commutative (`MPI_Op_commutative`): true for every predefined op but
   * `REPLACE` and `NO_OP`, and for a user op made with `commute = true`.
   */
  Is_commutative(): boolean {
    return this.commute;
  }

  /** Whether the op is commutative (mpi4py's `Op.is_commutative`): {@link Op.Is_commutative}. */
  get is_commutative(): boolean {
    return this.commute;
  }

  /**
   * Applies the op to local data (`MPI_Reduce_local`): `inoutbuf[i] = op(inbuf[i], inoutbuf[i])`
   * element-wise, with `inbuf` in the lower rank's place, as one step of a reduction (so a
   * non-commutative op, and `REPLACE`/`NO_OP`, give what `Reduce` gives for `[inbuf, inoutbuf]`
   * on ranks 0 and 1: `REPLACE` keeps `inoutbuf`, `NO_OP` copies `inbuf`). Each argument is a
   * typed array or `[array, count]` (its first `count` elements); both must be of one kind and
   * count. Synchronous: it moves no message.
   * @throws TsmpiError `ERR_TSMPI_TYPE` for an argument that is not a typed array or for two
   *   kinds, `ERR_TSMPI_COUNT` for two counts or a count out of range, `ERR_TSMPI_OP` where the op
   *   is not defined on the kind (bitwise ops on floats, MAXLOC/MINLOC on an odd count) or was freed.
   * @example
   * ```ts
   * const acc = new Float64Array([0, 1, 2]);
   * Op.SUM.Reduce_local(new Float64Array([1, 2, 3]), acc); // acc is [1, 3, 5]
   * ```
   */
  Reduce_local(inbuf: LocalBufferArg, inoutbuf: LocalBufferArg): void {
    this.checkUsable();
    const a = localBuffer(inbuf, "inbuf");
    const b = localBuffer(inoutbuf, "inoutbuf");
    if (a.constructor !== b.constructor) {
      throw new TsmpiError("ERR_TSMPI_TYPE", `inbuf and inoutbuf must be of one kind, got ${a.constructor.name} and ${b.constructor.name}`);
    }
    if (a.length !== b.length) {
      throw new TsmpiError("ERR_TSMPI_COUNT", `inbuf and inoutbuf must have one count, got ${a.length} and ${b.length}`);
    }
    this.combine(b, a, b);
  }

  /**
   * Checks that this op is defined on typed array `array`: every rank checks its operand before a
   * reduction starts, so a bad pairing fails the same way on every rank and at every size.
   * @throws TsmpiError `ERR_TSMPI_OP` for a bitwise op on a float array, or MAXLOC/MINLOC on an
   *   odd number of elements.
   */
  checkOperand(array: TypedArray): void {
    if (this.integersOnly && (array instanceof Float32Array || array instanceof Float64Array)) {
      throw new TsmpiError("ERR_TSMPI_OP", `${this} is not defined on ${array.constructor.name}`);
    }
    if (array.length % this.itemSize !== 0) {
      throw new TsmpiError("ERR_TSMPI_OP", `${this} on a typed array needs (value, index) pairs, got odd length ${array.length}`);
    }
  }

  /** Combines two object-tier values: `op(lower, higher)`. Typed arrays combine element-wise. */
  apply(a: unknown, b: unknown): unknown {
    if (this.kernel && isTypedArray(a) && isTypedArray(b)) {
      checkSameShape(a, b, this.name);
      this.checkOperand(a);
      const out = new (a.constructor as new (n: number) => TypedArray)(a.length);
      this.kernel(out, a, b);
      return out;
    }
    return this.scalar(a, b);
  }

  /**
   * Buffer tier: combines `other` into `acc` in place. `otherIsLower` says whose values come
   * first: `acc = op(other, acc)` when true, `acc = op(acc, other)` otherwise.
   */
  reduceInto(acc: TypedArray, other: TypedArray, otherIsLower: boolean): void {
    if (otherIsLower) this.combine(acc, other, acc);
    else this.combine(acc, acc, other);
  }

  /** Buffer tier: `out = op(lower, higher)` element-wise; `out` may be one of the operands. */
  combine(out: TypedArray, lower: TypedArray, higher: TypedArray): void {
    checkSameShape(lower, higher, this.name);
    checkSameShape(out, lower, this.name);
    if (this.kernel) {
      this.checkOperand(out);
      this.kernel(out, lower, higher);
      return;
    }
    if (this.inout) {
      this.combineInout(this.inout, out, lower, higher);
      return;
    }
    const result = this.scalar(lower, higher);
    if (!isTypedArray(result) || result.length !== out.length) {
      throw new TsmpiError("ERR_TSMPI_OP", `user op must return a typed array of length ${out.length}, got ${describeValue(result)}`);
    }
    if (result !== out) cells(out).set(cells(result));
  }

  /**
   * {@link combine} for an {@link Op.Create} function: `out` takes `higher`'s values and is passed
   * as `inoutbuf` (a copy of `lower` first where `out` is `lower`, so the function reads its input
   * as it was).
   */
  private combineInout(fn: UserFunction, out: TypedArray, lower: TypedArray, higher: TypedArray): void {
    let input = lower;
    if (out !== higher) {
      if (out === lower) input = lower.slice();
      cells(out).set(cells(higher));
    }
    const result = fn(input, out, out.constructor as TypedArrayConstructor);
    if (result === undefined || result === out) return;
    if (!isTypedArray(result) || result.length !== out.length) {
      throw new TsmpiError(
        "ERR_TSMPI_OP",
        `user op must return nothing or a typed array of length ${out.length}, got ${describeValue(result)}`,
      );
    }
    cells(out).set(cells(result));
  }

  toString(): string {
    return `Op.${this.name}`;
  }
}

/** A {@link Op.Reduce_local} argument as the typed array it names (`[array, count]`: a view of its prefix). */
function localBuffer(arg: LocalBufferArg, name: string): TypedArray {
  if (isTypedArray(arg)) return arg;
  if (Array.isArray(arg) && arg.length === 2 && isTypedArray(arg[0])) {
    const [array, count] = arg;
    if (!Number.isInteger(count) || count < 0 || count > array.length) {
      throw new TsmpiError("ERR_TSMPI_COUNT", `${name} count must be an integer in [0, ${array.length}], got ${describeValue(count)}`);
    }
    return array.subarray(0, count);
  }
  throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a typed array or [typedArray, count], got ${describeValue(arg)}`);
}

function checkSameShape(a: TypedArray, b: TypedArray, name: string): void {
  if (a.constructor !== b.constructor || a.length !== b.length) {
    throw new TsmpiError(
      "ERR_TSMPI_COUNT",
      `${name} needs operands of one kind and length, got ${describeValue(a)} and ${describeValue(b)}`,
    );
  }
}

/** Checks that `op` is an {@link Op} that was not freed. */
export function checkOp(op: unknown, name = "op"): Op {
  if (op instanceof Op) {
    op.checkUsable();
    return op;
  }
  throw new TsmpiError("ERR_TSMPI_OP", `${name} must be an Op (e.g. Op.SUM), got ${describeValue(op)}`);
}
