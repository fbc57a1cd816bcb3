/**
 * In-process tests of `Op` (issue 20 item 6): `Reduce_local`, `Is_commutative`, `Op.Create`,
 * `Free`, translated from mpi4py 4.x's test_op.py and test_cco_buf.py `TestReduceLocal`, and
 * extended to every predefined op on every typed-array kind it is defined on.
 *
 * Left out of mpi4py's files: `OP_NULL` and the `Op(op)` copy constructor (there are no null or
 * copied handles here), pickling and `toint`/`fromint` (no handles), `testCreateMany`'s limit of 32
 * user ops (mpi4py's own registry size, not MPI's); and `testCreate`'s `res is b` after calling
 * an `Op.Create` op on two arrays directly: `op.apply(a, b)` gives a new array and leaves `b`
 * as it was, since object-tier reductions call it on values a caller may still hold. The
 * `Allreduce` part of `testCreate` needs ranks: test/suites/small-calls.ts.
 */
import assert from "node:assert/strict";
import { TsmpiError, type TsmpiErrorCode } from "../lib/errors.js";
import { checkOp, Op } from "../lib/op.js";
import type { TypedArray, TypedArrayConstructor } from "../lib/serializer.js";

const KINDS: readonly TypedArrayConstructor[] = [
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
];
const FLOATS = new Set<TypedArrayConstructor>([Float32Array, Float64Array]);
const BIG = new Set<TypedArrayConstructor>([BigInt64Array, BigUint64Array]);

/** The twelve ops MPI predefines for reductions (mpi4py's lists in test_op.py). */
const REDUCTION_OPS = [Op.MAX, Op.MIN, Op.SUM, Op.PROD, Op.LAND, Op.BAND, Op.LOR, Op.BOR, Op.LXOR, Op.BXOR, Op.MAXLOC, Op.MINLOC];
const ALL_OPS = [...REDUCTION_OPS, Op.REPLACE, Op.NO_OP];

/** An array of kind `K` holding `values`. */
function arrayOf(K: TypedArrayConstructor, values: readonly number[]): TypedArray {
  return BIG.has(K) ? new (K as BigInt64ArrayConstructor)(values.map(BigInt)) : new (K as Float64ArrayConstructor)(values);
}
const numbers = (a: TypedArray): number[] => Array.from(a as ArrayLike<number | bigint>, Number);

function throwsCode(fn: () => unknown, code: TsmpiErrorCode, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof TsmpiError && e.code === code, what);
}

/** `op(x, y)` on one element, as MPI defines it, computed here independently of lib/op.ts. */
function reference(op: Op, x: number, y: number): number {
  const bool = (v: boolean): number => (v ? 1 : 0);
  switch (op.name) {
    case "SUM":
      return x + y;
    case "PROD":
      return x * y;
    case "MAX":
      return x > y ? x : y;
    case "MIN":
      return x < y ? x : y;
    case "LAND":
      return bool(x !== 0 && y !== 0);
    case "LOR":
      return bool(x !== 0 || y !== 0);
    case "LXOR":
      return bool((x !== 0) !== (y !== 0));
    case "BAND":
      return x & y;
    case "BOR":
      return x | y;
    case "BXOR":
      return x ^ y;
    case "REPLACE":
      return y;
    case "NO_OP":
      return x;
    default:
      throw new Error(`no reference for ${op}`);
  }
}

/** MAXLOC/MINLOC on interleaved (value, index) pairs; ties take the lower index. */
function referenceLoc(op: Op, x: readonly number[], y: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i += 2) {
    const [u, ui, v, vi] = [x[i]!, x[i + 1]!, y[i]!, y[i + 1]!];
    const takeY = op === Op.MAXLOC ? v > u || (v === u && vi < ui) : v < u || (v === u && vi < ui);
    out.push(takeY ? v : u, takeY ? vi : ui);
  }
  return out;
}

describe("Op (issue 20 item 6)", function () {
  describe("Reduce_local", function () {
    it("testReduceLocal: SUM, PROD, MAX, MIN on every kind; inbuf is left as it was", function () {
      for (const K of KINDS)
        for (const op of [Op.SUM, Op.PROD, Op.MAX, Op.MIN]) {
          const size = 5;
          const sbuf = arrayOf(K, [1, 2, 3, 4, 5]);
          const rbuf = arrayOf(K, [0, 1, 2, 3, 4]);
          op.Reduce_local(sbuf, rbuf);
          const at = `${op} ${K.name}`;
          assert.deepEqual(numbers(sbuf), [1, 2, 3, 4, 5], `${at}: inbuf`);
          const want = Array.from({ length: size }, (_, i) =>
            op === Op.SUM ? i + (i + 1) : op === Op.PROD ? i * (i + 1) : op === Op.MAX ? i + 1 : i,
          );
          assert.deepEqual(numbers(rbuf), want, at);
        }
    });

    it("every predefined op on every kind it is defined on, against an element-wise reference", function () {
      const x = [1, 0, 3, 0, 5, 6, 2, 7];
      const y = [0, 2, 3, 0, 4, 7, 9, 1];
      for (const K of KINDS)
        for (const op of ALL_OPS) {
          const at = `${op} ${K.name}`;
          const inbuf = arrayOf(K, x);
          const inout = arrayOf(K, y);
          if (op.name.startsWith("B") && FLOATS.has(K)) {
            throwsCode(() => op.Reduce_local(inbuf, inout), "ERR_TSMPI_OP", at);
            assert.deepEqual(numbers(inout), y, `${at}: inoutbuf untouched after the error`);
            continue;
          }
          op.Reduce_local(inbuf, inout);
          const want = op === Op.MAXLOC || op === Op.MINLOC ? referenceLoc(op, x, y) : x.map((v, i) => reference(op, v, y[i]!));
          // the reference stored in the kind, which wraps or clamps as the kernels' stores do
          assert.deepEqual(numbers(inout), numbers(arrayOf(K, want)), at);
          assert.deepEqual(numbers(inbuf), x, `${at}: inbuf`);
        }
    });

    it("gives what a reduction over [inbuf, inoutbuf] in rank order gives: a non-commutative op sees inbuf first", function () {
      const digits = Op.create((a: Int32Array, b: Int32Array) => a.map((v, i) => v * 10 + b[i]!), false);
      const inout = new Int32Array([3, 4]);
      digits.Reduce_local(new Int32Array([1, 2]), inout);
      assert.deepEqual(Array.from(inout), [13, 24]);
      assert.equal(digits.Is_commutative(), false);
    });

    it("[array, count] reduces the first count elements only", function () {
      const inout = new Float64Array([1, 1, 1, 1]);
      Op.SUM.Reduce_local([new Float64Array([5, 5, 5]), 2], [inout, 2]);
      assert.deepEqual(Array.from(inout), [6, 6, 1, 1]);
      Op.SUM.Reduce_local([new Float64Array(0), 0], [inout, 0]);
      assert.deepEqual(Array.from(inout), [6, 6, 1, 1], "count 0 is a no-op");
    });

    it("testReduceLocalBadCount: counts or kinds that differ, and bad arguments, are errors", function () {
      for (const K of KINDS)
        for (const op of [Op.SUM, Op.PROD, Op.MAX, Op.MIN]) {
          const sbuf = arrayOf(K, [0, 1, 2]);
          const rbuf = arrayOf(K, [0, 1, 2]);
          throwsCode(() => op.Reduce_local([sbuf, 2], [rbuf, 3]), "ERR_TSMPI_COUNT", `${op} ${K.name} counts 2 and 3`);
          assert.deepEqual(numbers(rbuf), [0, 1, 2]);
        }
      throwsCode(() => Op.SUM.Reduce_local([new Int32Array(3), 1], [new Int16Array(3), 1]), "ERR_TSMPI_TYPE", "INT and SHORT");
      throwsCode(() => Op.SUM.Reduce_local(new Int32Array(2), new Int32Array(3)), "ERR_TSMPI_COUNT", "lengths 2 and 3");
      throwsCode(() => Op.SUM.Reduce_local([new Int32Array(2), 3], new Int32Array(3)), "ERR_TSMPI_COUNT", "count beyond the array");
      throwsCode(() => Op.SUM.Reduce_local([new Int32Array(2), -1], new Int32Array(0)), "ERR_TSMPI_COUNT", "negative count");
      throwsCode(() => Op.SUM.Reduce_local(new DataView(new ArrayBuffer(4)) as never, new Int32Array(1)), "ERR_TSMPI_TYPE", "DataView");
      throwsCode(() => Op.SUM.Reduce_local([1, 2] as never, new Int32Array(2)), "ERR_TSMPI_TYPE", "a plain array");
      throwsCode(() => Op.MAXLOC.Reduce_local(new Int32Array(3), new Int32Array(3)), "ERR_TSMPI_OP", "MAXLOC on an odd count");
    });
  });

  describe("Is_commutative, is_predefined", function () {
    it("testIsCommutative: true for the twelve reduction ops, equal to the property", function () {
      for (const op of REDUCTION_OPS) {
        const flag = op.Is_commutative();
        assert.equal(flag, op.is_commutative, String(op));
        assert.equal(flag, true, String(op));
      }
    });

    it("testIsCommutativeExtra: REPLACE and NO_OP answer as their property (false: the operands' order decides)", function () {
      for (const op of [Op.REPLACE, Op.NO_OP]) {
        assert.equal(op.Is_commutative(), op.is_commutative, String(op));
        assert.equal(op.Is_commutative(), false, String(op));
      }
    });

    it("user ops are commutative as created; testIsPredefined", function () {
      for (const commute of [true, false]) {
        assert.equal(Op.create((a, b) => a + b, commute).Is_commutative(), commute);
        assert.equal(Op.Create((_a, b) => b, commute).Is_commutative(), commute);
      }
      assert.equal(Op.create((a, b) => a + b).Is_commutative(), false, "commute defaults to false, as mpi4py");
      assert.equal(Op.Create((_a, b) => b).Is_commutative(), false, "commute defaults to false, as mpi4py");
      for (const op of ALL_OPS) assert.equal(op.is_predefined, true, String(op));
      assert.equal(Op.Create((_a, b) => b).is_predefined, false);
      assert.equal(Op.create((_a, b) => b).is_predefined, false);
    });
  });

  describe("Op.Create (mpi4py's function (inbuf, inoutbuf, datatype))", function () {
    // mpi4py's `mysum`: in place on buffers; on objects, into b and returns b
    const mysum = (a: ArrayLike<number>, b: { [i: number]: number; length: number }): typeof b => {
      for (let i = 0; i < a.length; i++) b[i] = a[i]! + b[i]!;
      return b;
    };

    it("testCreateMany (local reductions): Reduce_local with a BOR written in place on bytes", function () {
      let seen: unknown;
      const mybor = (a: Uint8Array, b: Uint8Array, dt: TypedArrayConstructor | null): undefined => {
        seen = dt;
        assert.equal(a.length, b.length);
        for (let i = 0; i < a.length; i++) b[i] = a[i]! | b[i]!;
        return undefined;
      };
      for (let k = 0; k < 32; k++) {
        const op = Op.Create(mybor);
        const b1 = new Uint8Array([2, 2, 2]);
        const b2 = new Uint8Array([4, 4, 4]);
        op.Reduce_local(b1, b2);
        assert.deepEqual(Array.from(b1), [2, 2, 2]);
        assert.deepEqual(Array.from(b2), [6, 6, 6]);
        assert.equal(seen, Uint8Array, "datatype: the operands' constructor");
        op.Free();
      }
    });

    it("a function may return the result instead; on objects its return value is the result", function () {
      const op = Op.Create((a: Int32Array, b: Int32Array) => a.map((v, i) => v - b[i]!));
      const inout = new Int32Array([1, 1]);
      op.Reduce_local(new Int32Array([5, 7]), inout);
      assert.deepEqual(Array.from(inout), [4, 6]);
      // testPickleUserDefined's call: myop2([2], [3]) == [5]
      for (const commute of [true, false]) {
        const myop = Op.Create(mysum, commute);
        assert.deepEqual(myop.apply([2], [3]), [5]);
        assert.equal(myop.Is_commutative(), commute);
      }
      let dt: unknown = "unset";
      const concat = Op.Create((a: string, b: string, d) => {
        dt = d;
        return a + b;
      });
      assert.equal(concat.apply("0", "1"), "01");
      assert.equal(dt, null, "datatype is null for objects, as mpi4py's None");
    });

    it("on typed arrays the function writes an array tsmpi owns, never the caller's operand", function () {
      const myop = Op.Create(mysum, true);
      const a = new Int32Array([1, 2]);
      const b = new Int32Array([10, 20]);
      assert.deepEqual(Array.from(myop.apply(a, b) as Int32Array), [11, 22]);
      assert.deepEqual(Array.from(b), [10, 20], "b as it was");
      // combine into the lower operand's array: the function still reads the lower operand as it was
      const acc = new Int32Array([1, 2]);
      myop.combine(acc, acc, new Int32Array([100, 200]));
      assert.deepEqual(Array.from(acc), [101, 202]);
    });

    it("testFree: predefined ops cannot be freed; a freed op is refused", function () {
      for (const op of ALL_OPS) throwsCode(() => op.Free(), "ERR_TSMPI_OP", String(op));
      const myop = Op.Create(mysum);
      myop.Free();
      throwsCode(() => myop.Free(), "ERR_TSMPI_OP", "freed twice");
      throwsCode(() => myop.Reduce_local(new Int32Array(1), new Int32Array(1)), "ERR_TSMPI_OP", "Reduce_local after Free");
      throwsCode(() => checkOp(myop), "ERR_TSMPI_OP", "a reduction after Free");
      throwsCode(() => Op.Create(42 as never), "ERR_TSMPI_ARG", "not a function");
    });
  });

  describe("calling an op on two values (mpi4py's op(x, y))", function () {
    it("testCall", function () {
      assert.equal(Op.MIN.apply(2, 3), 2);
      assert.equal(Op.MAX.apply(2, 3), 3);
      assert.equal(Op.SUM.apply(2, 3), 5);
      assert.equal(Op.PROD.apply(2, 3), 6);
      for (const x of [false, true])
        for (const y of [false, true]) {
          assert.equal(Op.LAND.apply(x, y), x && y);
          assert.equal(Op.LOR.apply(x, y), x || y);
          assert.equal(Op.LXOR.apply(x, y), x !== y);
        }
      for (let x = 0; x < 5; x++)
        for (let y = 0; y < 5; y++) {
          assert.equal(Op.BAND.apply(x, y), x & y);
          assert.equal(Op.BOR.apply(x, y), x | y);
          assert.equal(Op.BXOR.apply(x, y), x ^ y);
        }
      assert.equal(Op.REPLACE.apply(2, 3), 3);
      assert.equal(Op.REPLACE.apply(3, 2), 2);
      assert.equal(Op.NO_OP.apply(2, 3), 2);
      assert.equal(Op.NO_OP.apply(3, 2), 3);
    });

    it("testMinMax: equal operands give the first", function () {
      const x = [1];
      const y = [1];
      assert.equal(Op.MIN.apply(x, y), x);
      assert.equal(Op.MAX.apply(x, y), x);
    });

    it("testMinMaxLoc: the winning pair's own value and index objects; ties to the lower index", function () {
      const pick = (op: Op, u: unknown[], v: unknown[], want: unknown[], at: string): void => {
        const res = op.apply(u, v) as unknown[];
        assert.equal(res[0], want[0], `${at}: value`);
        assert.equal(res[1], want[1], `${at}: index`);
      };
      {
        const [x, i, y, j] = [[1], [2], [2], [1]];
        const [u, v] = [
          [x, i],
          [y, j],
        ];
        pick(Op.MINLOC, u, v, [x, i], "MINLOC(u, v)");
        pick(Op.MINLOC, v, u, [x, i], "MINLOC(v, u)");
        pick(Op.MAXLOC, u, v, [y, j], "MAXLOC(u, v)");
        pick(Op.MAXLOC, v, u, [y, j], "MAXLOC(v, u)");
      }
      for (const [i, j] of [
        [0, 1],
        [[0], [1]],
      ] as const) {
        const [x, y] = [[1], [1]];
        pick(Op.MINLOC, [x, i], [y, j], [x, i], `MINLOC tie ${i} ${j}`);
        pick(Op.MAXLOC, [x, i], [y, j], [x, i], `MAXLOC tie ${i} ${j}`);
      }
      for (const [i, j] of [
        [1, 0],
        [[1], [0]],
      ] as const) {
        const [x, y] = [[1], [1]];
        pick(Op.MINLOC, [x, i], [y, j], [y, j], `MINLOC tie ${i} ${j}`);
        pick(Op.MAXLOC, [x, i], [y, j], [y, j], `MAXLOC tie ${i} ${j}`);
      }
    });
  });
});
