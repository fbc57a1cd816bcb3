/**
 * Collective semantics (mpi4py's test_cco_obj / test_cco_buf / test_comm as reference), written
 * for any world size: every collective at every root, every op on every typed-array kind in both
 * tiers, rank order of non-commutative ops, v-variant placement, IN_PLACE, isolation from
 * point-to-point traffic, outstanding and nonblocking collectives, communicator management and
 * bad input. Expected values are computed here from MPI's definitions, never by the library.
 */
import assert from "node:assert/strict";
import type { TypedArray } from "tsmpi";
import type { AnyTypedArray, Case, CaseContext } from "./types.js";

type Mpi = CaseContext["mpi"];
/** An element of a typed array: a number, or a BigInt for the 64-bit integer kinds. */
type El = number | bigint;

/** Every typed-array kind, integers (bitwise ops apply) and floats (they do not). */
const INTEGER_KINDS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
] as const;
const FLOAT_KINDS = [Float32Array, Float64Array] as const;
const KINDS = [...INTEGER_KINDS, ...FLOAT_KINDS] as const;
type Kind = (typeof KINDS)[number];

/** Every predefined op, by name. */
const OPS = ["SUM", "PROD", "MAX", "MIN", "LAND", "LOR", "LXOR", "BAND", "BOR", "BXOR", "MAXLOC", "MINLOC", "REPLACE", "NO_OP"] as const;
type OpName = (typeof OPS)[number];
/** Ops defined on integer kinds only. */
const BITWISE: readonly OpName[] = ["BAND", "BOR", "BXOR"];
/** Ops on (value, index) pairs. */
const LOC: readonly OpName[] = ["MAXLOC", "MINLOC"];

/** Elements of receive buffers that a call must not write. */
const SENTINEL = -7;

/** `[0, 1, ..., n - 1]`: ranks, roots, indices. */
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** Resolves after `ms` milliseconds. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Whether `K` holds BigInts. */
const isBig = (K: Kind): boolean => K === BigInt64Array || K === BigUint64Array;
/** Whether `K` holds floats (no bitwise ops). */
const isFloat = (K: Kind): boolean => K === Float32Array || K === Float64Array;
/** Whether `K` holds negative values. */
const isSigned = (K: Kind): boolean => ![Uint8Array, Uint8ClampedArray, Uint16Array, Uint32Array, BigUint64Array].includes(K as never);

/** `v` as an element of `Kind` (a BigInt for the 64-bit kinds). */
function el(K: Kind, v: El): El {
  return isBig(K) ? BigInt(v) : Number(v);
}

/** A new array of kind `K` with `a[i] = f(i)`. */
function make<K extends Kind>(K: K, length: number, f: (i: number) => El): InstanceType<K> {
  const a = new K(length) as AnyTypedArray;
  for (let i = 0; i < length; i++) a[i] = el(K, f(i));
  return a as InstanceType<K>;
}

/** `length` elements of `K` set to {@link SENTINEL}. */
const sentinels = <K extends Kind>(K: K, length: number): InstanceType<K> => make(K, length, () => SENTINEL);

/** A compact rendering of a typed array or value for assertion messages. */
function show(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<unknown>, String).join(",")}]`;
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Strict deep equality with both sides in the message. */
function same(actual: unknown, expected: unknown, what: string): void {
  assert.deepEqual(actual, expected, `${what}: got ${show(actual)}, want ${show(expected)}`);
}

/** "ok" when `p` resolves, else the TsmpiError's code (or the foreign error's name and message). */
async function outcome(mpi: Mpi, p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof mpi.TsmpiError ? e.code : `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

/** Asserts that `p` rejects with a TsmpiError of `code`. */
async function rejects(mpi: Mpi, p: Promise<unknown>, code: string, what: string): Promise<void> {
  assert.equal(await outcome(mpi, p), code, `${what} must reject with ${code}`);
}

/**
 * Runs a call in which ranks pass inconsistent arguments. Every rank must settle (resolve, or
 * reject with a TsmpiError; a hang fails the case on its timeout), at least one must reject, and
 * the communicator must stay usable (the outcomes are gathered with a collective on it).
 */
async function settlesEverywhere(
  t: CaseContext,
  call: () => Promise<unknown>,
  what: string,
  mustReject = t.comm.size > 1,
): Promise<string[]> {
  const all = await t.comm.allgather(await outcome(t.mpi, call()));
  assert.ok(
    all.every((o) => o === "ok" || o.startsWith("ERR_TSMPI_")),
    `${what}: outcomes ${all.join(", ")}`,
  );
  if (mustReject)
    assert.ok(
      all.some((o) => o !== "ok"),
      `${what}: no rank rejected (${all.join(", ")})`,
    );
  return all;
}

// ------------------------------------------------------------ operands and their reductions

/**
 * Rank r's i-th operand of `op` on `K`: small values with ties, zeros, and negatives where the
 * kind has them, so that results are exact in every kind (the 64-bit kinds use values near
 * 2^62, so SUM and PROD wrap). MAXLOC/MINLOC operands are (value, index) pairs.
 */
function operand(K: Kind, op: OpName, r: number, i: number): El {
  const signed = isSigned(K);
  if (op === "LAND" || op === "LOR" || op === "LXOR")
    return el(K, i === 0 ? 0 : i === 1 ? r + 1 : (i * 5 + r * 3) % 4 === 0 ? 0 : ((i + r) % 7) + 1);
  if (BITWISE.includes(op)) {
    const v = (r * 37 + i * 11 + 5) & 0x7f;
    return isBig(K) ? (BigInt(v) << 56n) | BigInt(v * 3 + r) : v;
  }
  if (LOC.includes(op)) return el(K, i % 2 === 0 ? ((r * 3 + i) % 4) - (signed ? 1 : 0) : ((r * 5 + i) % 8) + 1);
  const v = ((r * 7 + i * 3) % 5) - (signed ? 2 : 0);
  return isBig(K) ? BigInt(v) * 3n ** 39n + BigInt(i) : isFloat(K) ? v / 2 : v;
}

/** Rank r's operand array of `op` on `K`. */
const operands = (K: Kind, op: OpName, r: number, length: number): AnyTypedArray => make(K, length, (i) => operand(K, op, r, i));

/** The largest of `vs` (numbers or BigInts). */
const maxOf = (vs: El[]): El => vs.reduce((a, b) => (b > a ? b : a));
/** The smallest of `vs` (numbers or BigInts). */
const minOf = (vs: El[]): El => vs.reduce((a, b) => (b < a ? b : a));

/**
 * `vs` (all numbers, or all BigInts for the 64-bit kinds) folded with one operator, given twice
 * because TypeScript types an operator on numbers apart from the same operator on BigInts.
 */
function fold(vs: readonly El[], num: (a: number, b: number) => number, big: (a: bigint, b: bigint) => bigint): El {
  return typeof vs[0] === "bigint" ? (vs as readonly bigint[]).reduce(big) : (vs as readonly number[]).reduce(num);
}

/** MPI's definition of each predefined op (but the LOC ones), as a fold over one element of every rank, in rank order. */
const DEFINITION: Record<Exclude<OpName, "MAXLOC" | "MINLOC">, (vs: El[]) => El> = {
  SUM: (vs) =>
    fold(
      vs,
      (a, b) => a + b,
      (a, b) => a + b,
    ),
  PROD: (vs) =>
    fold(
      vs,
      (a, b) => a * b,
      (a, b) => a * b,
    ),
  MAX: maxOf,
  MIN: minOf,
  LAND: (vs) => (vs.every(Boolean) ? 1 : 0),
  LOR: (vs) => (vs.some(Boolean) ? 1 : 0),
  LXOR: (vs) => vs.filter(Boolean).length % 2,
  BAND: (vs) =>
    fold(
      vs,
      (a, b) => a & b,
      (a, b) => a & b,
    ),
  BOR: (vs) =>
    fold(
      vs,
      (a, b) => a | b,
      (a, b) => a | b,
    ),
  BXOR: (vs) =>
    fold(
      vs,
      (a, b) => a ^ b,
      (a, b) => a ^ b,
    ),
  REPLACE: (vs) => vs[vs.length - 1]!,
  NO_OP: (vs) => vs[0]!,
};

/**
 * The element-wise reduction of the operands of `ranks` (in that order), from the definitions.
 * The reduction of a single operand is that operand: no op is applied (MPI and mpi4py agree).
 */
function reduced(K: Kind, op: OpName, ranks: readonly number[], length: number): AnyTypedArray {
  return make(K, length, (i) => {
    if (ranks.length === 1) return operand(K, op, ranks[0]!, i);
    if (op === "MAXLOC" || op === "MINLOC") {
      const p = i - (i % 2);
      const values = ranks.map((r) => operand(K, op, r, p));
      const best = op === "MAXLOC" ? maxOf(values) : minOf(values);
      if (i === p) return best;
      return minOf(ranks.filter((_, k) => values[k] === best).map((r) => operand(K, op, r, p + 1)));
    }
    return DEFINITION[op](ranks.map((r) => operand(K, op, r, i)));
  });
}

/**
 * A non-commutative, associative user op on typed arrays of (digits, 10^count) pairs: it appends
 * the higher rank's digits to the lower rank's, so the result spells the order the ranks were
 * folded in. Exported for the in-process unit tests of the algorithms.
 */
export function appendDigits(x: Float64Array, y: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 2) {
    out[i] = x[i]! * y[i + 1]! + y[i]!;
    out[i + 1] = x[i + 1]! * y[i + 1]!;
  }
  return out;
}

/** Rank r's operand of {@link appendDigits}: pair p holds the digit (r + p) % 10. */
export const digitPairs = (r: number, pairs: number): Float64Array =>
  Float64Array.from(range(2 * pairs), (i) => (i % 2 ? 10 : (r + (i >> 1)) % 10));

/** {@link appendDigits} folded over `ranks` in order, from the definition (string concatenation). */
export function appended(ranks: readonly number[], pairs: number): Float64Array {
  return Float64Array.from(range(2 * pairs), (i) =>
    i % 2 ? 10 ** ranks.length : Number(ranks.map((r) => (r + (i >> 1)) % 10).join("") || 0),
  );
}

/** The values rank r contributes to the large-array cases: integers, so that sums are exact. */
const bigOperand = (r: number, length: number): Float64Array => Float64Array.from(range(length), (i) => ((i * 7 + r * 13) % 1000) - 300);

/** Element-wise sum of {@link bigOperand} over `ranks`. */
const bigSum = (ranks: readonly number[], length: number): Float64Array =>
  Float64Array.from(range(length), (i) => ranks.reduce((s, r) => s + (((i * 7 + r * 13) % 1000) - 300), 0));

// ------------------------------------------------------------ v-variant layouts

/**
 * Where blocks of `counts` lie in an array: packed, with gaps after each, or in reversed rank
 * order with gaps. Exported for the in-process unit tests of the algorithms.
 */
export function layout(counts: readonly number[], how: "packed" | "gaps" | "reversed"): { displs: number[]; length: number } {
  const displs = new Array<number>(counts.length);
  let off = how === "gaps" ? 1 : 0;
  const order = how === "reversed" ? range(counts.length).reverse() : range(counts.length);
  for (const i of order) {
    displs[i] = off;
    off += counts[i]! + (how === "packed" ? 0 : 2);
  }
  return { displs, length: off };
}

/** The block rank `from` sends to rank `to` in the v-variant cases. */
const vblock = (from: number, to: number, count: number): number[] => range(count).map((k) => from * 100 + to * 10 + k);

/** An array of `length` sentinels with `blocks[i]` placed at `displs[i]`. */
function placed(K: Kind, length: number, displs: readonly number[], blocks: readonly (readonly number[] | Int32Array)[]): AnyTypedArray {
  const a: AnyTypedArray = sentinels(K, length);
  blocks.forEach((b, i) => b.forEach((v, k) => (a[displs[i]! + k] = el(K, v))));
  return a;
}

/** Per-rank block sizes of the v-variant cases, by name. */
const COUNT_PATTERNS: Record<string, (i: number) => number> = { "i % 3": (i) => i % 3, "all zero": () => 0, "2i + 1": (i) => 2 * i + 1 };

// ------------------------------------------------------------ rooted collectives

/** bcast, scatter, gather and reduce of objects at every root of `comm`. */
async function rootedObjects({ comm, mpi }: CaseContext): Promise<void> {
  const n = comm.size;
  const me = comm.rank;
  for (const root of range(n)) {
    const msg = { root, text: "x".repeat(root), list: [root, [root]], big: 2n ** 70n + BigInt(root) };
    same(await comm.bcast(me === root ? msg : { ignored: me }, root), msg, `bcast from ${root}`);
    const items = range(n).map((i) => ({ to: i, pad: "y".repeat(i * 3) }));
    same(await comm.scatter(me === root ? items : null, root), items[me], `scatter from ${root}`);
    const gathered = await comm.gather({ from: me, pad: "z".repeat(me) }, root);
    same(gathered, me === root ? range(n).map((i) => ({ from: i, pad: "z".repeat(i) })) : undefined, `gather to ${root}`);
    same(await comm.reduce(me + 1, mpi.Op.SUM, root), me === root ? (n * (n + 1)) / 2 : undefined, `reduce to ${root}`);
  }
}

/** Bcast, Scatter, Gather and Reduce of typed arrays at every root of `comm`; non-roots pass null where allowed. */
async function rootedBuffers({ comm, mpi }: CaseContext): Promise<void> {
  const n = comm.size;
  const me = comm.rank;
  for (const root of range(n)) {
    for (const [K, count] of [
      [Float64Array, 3],
      [Int8Array, 1],
      [BigUint64Array, 2],
      [Uint16Array, 0],
    ] as const) {
      const what = `${K.name} × ${count} at root ${root}`;
      const buf = me === root ? make(K, count + 2, (i) => i * 3 + root) : sentinels(K, count + 2);
      await comm.Bcast(buf, root);
      same(
        buf,
        make(K, count + 2, (i) => i * 3 + root),
        `Bcast ${what}`,
      );

      const whole = make(K, n * count, (i) => i + 1);
      const part = sentinels(K, count);
      await comm.Scatter(me === root ? whole : null, part, root);
      same(
        part,
        make(K, count, (k) => me * count + k + 1),
        `Scatter ${what}`,
      );

      const into = me === root ? sentinels(K, n * count) : null;
      await comm.Gather(
        make(K, count, (k) => me * 10 + k),
        into,
        root,
      );
      if (me === root)
        same(
          into,
          make(K, n * count, (i) => Math.floor(i / count) * 10 + (i % count)),
          `Gather ${what}`,
        );

      const sum = me === root ? sentinels(K, count) : null;
      await comm.Reduce(
        make(K, count, (k) => me + k),
        sum,
        mpi.Op.SUM,
        root,
      );
      if (me === root)
        same(
          sum,
          make(K, count, (k) => (n * (n - 1)) / 2 + n * k),
          `Reduce ${what}`,
        );
    }
  }
}

export const cases: Record<string, Case> = {
  async "barrier: no rank leaves before every rank entered"({ comm }) {
    await pause(15 * comm.rank);
    const entered = Date.now();
    await comm.barrier();
    const left = Date.now();
    const entries = await comm.allgather(entered);
    assert.ok(left >= Math.max(...entries), `left at ${left}, before the last entry at ${Math.max(...entries)}`);
    await comm.Barrier();
  },

  async "bcast, scatter, gather and reduce (object tier) at every root"(t) {
    await rootedObjects(t);
  },

  async "Bcast, Scatter, Gather and Reduce (buffer tier) at every root; null buffers on non-roots"(t) {
    await rootedBuffers(t);
  },

  async "allgather and alltoall (object tier), Allgather and Alltoall (buffer tier)"({ comm }) {
    const n = comm.size;
    const me = comm.rank;
    same(
      await comm.allgather({ r: me, s: "a".repeat(me) }),
      range(n).map((r) => ({ r, s: "a".repeat(r) })),
      "allgather",
    );
    same(
      await comm.alltoall(range(n).map((to) => [me, to, "b".repeat(to)])),
      range(n).map((from) => [from, me, "b".repeat(me)]),
      "alltoall",
    );
    for (const [K, count] of [
      [Int32Array, 3],
      [Float32Array, 1],
      [BigInt64Array, 2],
      [Uint8Array, 0],
    ] as const) {
      const all = sentinels(K, n * count);
      await comm.Allgather(
        make(K, count, (k) => me * 10 + k),
        all,
      );
      same(
        all,
        make(K, n * count, (i) => Math.floor(i / count) * 10 + (i % count)),
        `Allgather ${K.name} × ${count}`,
      );
      const got = sentinels(K, n * count);
      await comm.Alltoall(
        make(K, n * count, (i) => me * 100 + Math.floor(i / count) * 10 + (i % count)),
        got,
      );
      same(
        got,
        make(K, n * count, (i) => Math.floor(i / count) * 100 + me * 10 + (i % count)),
        `Alltoall ${K.name} × ${count}`,
      );
    }
  },

  async "every op on every kind, buffer tier: Allreduce, Reduce, Scan, Exscan, Reduce_scatter_block"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const len = 2 * n + 2; // even (pairs for MAXLOC/MINLOC), and not a multiple of n: uneven ring blocks
    let turn = 0;
    for (const K of KINDS) {
      for (const name of OPS) {
        if (isFloat(K) && BITWISE.includes(name)) continue; // see "bitwise ops on float arrays reject"
        const op = mpi.Op[name];
        const what = `${name} on ${K.name}`;
        const send = operands(K, name, me, len);
        const recv = sentinels(K, len);
        await comm.Allreduce(send, recv, op);
        same(recv, reduced(K, name, range(n), len), `Allreduce ${what}`);

        const root = turn++ % n;
        const atRoot = sentinels(K, len);
        await comm.Reduce(send, atRoot, op, root);
        same(atRoot, me === root ? reduced(K, name, range(n), len) : sentinels(K, len), `Reduce ${what} to ${root}`);

        const scan = sentinels(K, len);
        await comm.Scan(send, scan, op);
        same(scan, reduced(K, name, range(me + 1), len), `Scan ${what}`);
        const exscan = sentinels(K, len);
        await comm.Exscan(send, exscan, op);
        same(exscan, me === 0 ? sentinels(K, len) : reduced(K, name, range(me), len), `Exscan ${what}`);

        const block = sentinels(K, 2);
        await comm.Reduce_scatter_block(operands(K, name, me, 2 * n), block, op);
        same(block, reduced(K, name, range(n), 2 * n).slice(2 * me, 2 * me + 2), `Reduce_scatter_block ${what}`);
        assert.deepEqual(send, operands(K, name, me, len), `${what}: the send buffer must not change`);
      }
    }
  },

  async "every op on every kind, object tier (element-wise on typed arrays): allreduce, reduce, scan, exscan"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const len = 2 * n + 2;
    let turn = 0;
    for (const K of KINDS) {
      for (const name of OPS) {
        if (isFloat(K) && BITWISE.includes(name)) continue;
        const op = mpi.Op[name];
        const what = `${name} on ${K.name}`;
        const mine = operands(K, name, me, len);
        same(await comm.allreduce(mine, op), reduced(K, name, range(n), len), `allreduce ${what}`);
        const root = turn++ % n;
        same(await comm.reduce(mine, op, root), me === root ? reduced(K, name, range(n), len) : undefined, `reduce ${what} to ${root}`);
        same(await comm.scan(mine, op), reduced(K, name, range(me + 1), len), `scan ${what}`);
        same(await comm.exscan(mine, op), me === 0 ? undefined : reduced(K, name, range(me), len), `exscan ${what}`);
      }
    }
  },

  async "bitwise ops on float arrays and MAXLOC/MINLOC on odd lengths reject ERR_TSMPI_OP on every rank"({ comm, mpi }) {
    const n = comm.size;
    for (const K of FLOAT_KINDS) {
      for (const name of BITWISE) {
        const op = mpi.Op[name];
        const what = `${name} on ${K.name}`;
        const a = make(K, 4, (i) => i + 1);
        await rejects(mpi, comm.Allreduce(a, new K(4), op), "ERR_TSMPI_OP", `Allreduce ${what}`);
        await rejects(mpi, comm.Reduce(a, new K(4), op, n - 1), "ERR_TSMPI_OP", `Reduce ${what}`);
        await rejects(mpi, comm.Scan(a, new K(4), op), "ERR_TSMPI_OP", `Scan ${what}`);
        await rejects(mpi, comm.Exscan(a, new K(4), op), "ERR_TSMPI_OP", `Exscan ${what}`);
        await rejects(
          mpi,
          comm.Reduce_scatter_block(
            make(K, 2 * n, (i) => i),
            new K(2),
            op,
          ),
          "ERR_TSMPI_OP",
          `Reduce_scatter_block ${what}`,
        );
        await rejects(mpi, comm.allreduce(a, op), "ERR_TSMPI_OP", `allreduce ${what}`);
        await rejects(mpi, comm.reduce(a, op, 0), "ERR_TSMPI_OP", `reduce ${what}`);
      }
    }
    for (const name of LOC) {
      const op = mpi.Op[name];
      await rejects(mpi, comm.Allreduce(new Int32Array(3), new Int32Array(3), op), "ERR_TSMPI_OP", `Allreduce ${name} of 3 elements`);
      await rejects(mpi, comm.Reduce(new Int32Array(5), new Int32Array(5), op, 0), "ERR_TSMPI_OP", `Reduce ${name} of 5 elements`);
      await rejects(
        mpi,
        comm.Reduce_scatter(
          new Int32Array(n),
          new Int32Array(1),
          range(n).map(() => 1),
          op,
        ),
        "ERR_TSMPI_OP",
        `Reduce_scatter ${name} of single elements`,
      );
    }
  },

  async "PROD on 32-bit integer arrays wraps exactly (as C and NumPy do)"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const factors = (r: number) => [0x7fffffff - r, 0x12345 + r * 0x1001, 65537 * (r + 1), 3 + r];
    for (const [K, bits] of [
      [Int32Array, "asIntN"],
      [Uint32Array, "asUintN"],
    ] as const) {
      const want = make(K, 4, (i) =>
        Number(
          BigInt[bits](
            32,
            range(n).reduce((p, r) => p * BigInt(factors(r)[i]!), 1n),
          ),
        ),
      );
      const got = new K(4);
      await comm.Allreduce(K.from(factors(me)), got, mpi.Op.PROD);
      same(got, want, `Allreduce PROD on ${K.name}`);
      same(await comm.allreduce(K.from(factors(me)), mpi.Op.PROD), want, `allreduce PROD on ${K.name}`);
    }
  },

  async "object ops keep mpi4py's meaning in rank order at every root: SUM concatenates strings and lists"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const { SUM, PROD, MAX, MIN, BAND, BOR, BXOR } = mpi.Op;
    const digits = range(n).join("");
    for (const root of range(n)) {
      const at = (v: unknown) => (me === root ? v : undefined);
      same(await comm.reduce(String(me), SUM, root), at(digits), `reduce SUM of strings to ${root}`);
      same(await comm.reduce([me, [me]], SUM, root), at(range(n).flatMap((r) => [r, [r]])), `reduce SUM of lists to ${root}`);
      same(
        await comm.reduce(2n ** 64n * BigInt(me), SUM, root),
        at(2n ** 64n * BigInt((n * (n - 1)) / 2)),
        `reduce SUM of BigInts to ${root}`,
      );
    }
    same(await comm.allreduce(String(me), SUM), digits, "allreduce SUM of strings");
    same(await comm.allreduce([me], SUM), range(n), "allreduce SUM of lists");
    same(await comm.scan(String(me), SUM), digits.slice(0, me + 1), "scan SUM of strings");
    same(await comm.exscan([me], SUM), me === 0 ? undefined : range(me), "exscan SUM of lists");
    same(
      await comm.allreduce(me + 1, PROD),
      range(n).reduce((p, r) => p * (r + 1), 1),
      "allreduce PROD",
    );
    const letter = (r: number) => String.fromCharCode(97 + ((r * 5) % n)) + "x".repeat(r % 2);
    same(await comm.allreduce(letter(me), MAX), range(n).map(letter).sort().at(-1), "allreduce MAX of strings");
    same(await comm.allreduce(letter(me), MIN), range(n).map(letter).sort()[0], "allreduce MIN of strings");
    const bits = (r: number) => (r * 37 + 5) & 0xff;
    same(
      await comm.allreduce(bits(me), BAND),
      range(n)
        .map(bits)
        .reduce((a, b) => a & b),
      "allreduce BAND",
    );
    same(
      await comm.allreduce(bits(me), BOR),
      range(n)
        .map(bits)
        .reduce((a, b) => a | b),
      "allreduce BOR",
    );
    same(
      await comm.allreduce(bits(me), BXOR),
      range(n)
        .map(bits)
        .reduce((a, b) => a ^ b),
      "allreduce BXOR",
    );
    same(await comm.allreduce(me, mpi.Op.REPLACE), n - 1, "allreduce REPLACE: the highest rank's value");
    same(await comm.allreduce(me + 10, mpi.Op.NO_OP), 10, "allreduce NO_OP: rank 0's value");
  },

  async "a non-commutative user op on strings folds in rank order: reduce at every root, allreduce, scan, exscan"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const concat = mpi.Op.create((a: string, b: string) => a + b);
    assert.equal(concat.commute, false);
    const digits = range(n).join("");
    for (const root of range(n)) same(await comm.reduce(String(me), concat, root), me === root ? digits : undefined, `reduce to ${root}`);
    same(await comm.allreduce(String(me), concat), digits, "allreduce");
    same(await comm.scan(String(me), concat), digits.slice(0, me + 1), "scan");
    same(await comm.exscan(String(me), concat), me === 0 ? undefined : digits.slice(0, me), "exscan");
  },

  async "a non-commutative user op on typed arrays keeps rank order in every reduction"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const op = mpi.Op.create(appendDigits);
    for (const pairs of [1, n + 1, 700]) {
      const what = `${pairs} pairs`;
      const mine = digitPairs(me, pairs);
      const out = new Float64Array(2 * pairs).fill(SENTINEL);
      await comm.Allreduce(mine, out, op);
      same(out, appended(range(n), pairs), `Allreduce ${what}`);
      for (const root of range(n)) {
        const atRoot = new Float64Array(2 * pairs).fill(SENTINEL);
        await comm.Reduce(mine, atRoot, op, root);
        same(atRoot, me === root ? appended(range(n), pairs) : new Float64Array(2 * pairs).fill(SENTINEL), `Reduce ${what} to ${root}`);
      }
      const scan = new Float64Array(2 * pairs);
      await comm.Scan(mine, scan, op);
      same(scan, appended(range(me + 1), pairs), `Scan ${what}`);
      const exscan = new Float64Array(2 * pairs).fill(SENTINEL);
      await comm.Exscan(mine, exscan, op);
      same(exscan, me === 0 ? new Float64Array(2 * pairs).fill(SENTINEL) : appended(range(me), pairs), `Exscan ${what}`);
      same(await comm.allreduce(mine, op), appended(range(n), pairs), `allreduce ${what}`);
    }
    const counts = range(n).map((i) => 2 * (i % 3));
    const total = counts.reduce((a, b) => a + b, 0);
    const part = new Float64Array(counts[me]!);
    await comm.Reduce_scatter(digitPairs(me, total / 2), part, counts, op);
    const offset = counts.slice(0, me).reduce((a, b) => a + b, 0);
    same(part, appended(range(n), total / 2).slice(offset, offset + counts[me]!), "Reduce_scatter");
    const block = new Float64Array(2);
    await comm.Reduce_scatter_block(digitPairs(me, n), block, op);
    same(block, appended(range(n), n).slice(2 * me, 2 * me + 2), "Reduce_scatter_block");
  },

  async "a commutative element-wise user op on typed arrays gives exact results on every algorithm"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const add = mpi.Op.create((a: Float64Array, b: Float64Array) => a.map((x, i) => x + b[i]!), true);
    for (const len of [2 * n + 1, 3001]) {
      const out = new Float64Array(len);
      await comm.Allreduce(bigOperand(me, len), out, add);
      same(out, bigSum(range(n), len), `Allreduce of ${len}`);
      const root = len % n;
      const atRoot = me === root ? new Float64Array(len) : null;
      await comm.Reduce(bigOperand(me, len), atRoot, add, root);
      if (me === root) same(atRoot, bigSum(range(n), len), `Reduce of ${len} to ${root}`);
      const block = new Float64Array(len);
      await comm.Reduce_scatter_block(bigOperand(me, n * len), block, add);
      same(block, bigSum(range(n), n * len).slice(me * len, (me + 1) * len), `Reduce_scatter_block of ${len}`);
    }
  },

  async "MAXLOC/MINLOC give ties to the lower index (object pairs and interleaved typed-array pairs)"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    // even ranks hold 5, odd ranks 3; indices fall as ranks rise, so a tie goes to the highest rank of the tie
    const pair = (r: number): [number, number] => [r % 2 ? 3 : 5, 10 - r];
    const best = (better: (u: number, v: number) => boolean, ranks: number[]): [number, number] => {
      const value = ranks.map((r) => pair(r)[0]).reduce((a, b) => (better(b, a) ? b : a));
      return [value, Math.min(...ranks.filter((r) => pair(r)[0] === value).map((r) => pair(r)[1]))];
    };
    const max = (ranks: number[]) => best((u, v) => u > v, ranks);
    const min = (ranks: number[]) => best((u, v) => u < v, ranks);
    for (const root of range(n)) {
      same(await comm.reduce(pair(me), mpi.Op.MAXLOC, root), me === root ? max(range(n)) : undefined, `reduce MAXLOC to ${root}`);
      same(await comm.reduce(pair(me), mpi.Op.MINLOC, root), me === root ? min(range(n)) : undefined, `reduce MINLOC to ${root}`);
    }
    same(await comm.allreduce(pair(me), mpi.Op.MAXLOC), max(range(n)), "allreduce MAXLOC");
    same(await comm.scan(pair(me), mpi.Op.MINLOC), min(range(me + 1)), "scan MINLOC");
    for (const K of [Int32Array, Float64Array, BigInt64Array] as const) {
      const mine = make(K, 4, (i) => pair(me)[i % 2]! + (i < 2 ? 0 : 1));
      const want = (f: typeof max) => make(K, 4, (i) => f(range(n))[i % 2]! + (i < 2 ? 0 : 1));
      const out = new K(4);
      await comm.Allreduce(mine, out, mpi.Op.MAXLOC);
      same(out, want(max), `Allreduce MAXLOC on ${K.name}`);
      await comm.Allreduce(mine, out, mpi.Op.MINLOC);
      same(out, want(min), `Allreduce MINLOC on ${K.name}`);
    }
  },

  async "LAND, LOR and LXOR give booleans (mpi4py: bool(x) & bool(y)); one rank's value is its own reduction"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const { LAND, LOR, LXOR } = mpi.Op;
    const truthy = (r: number) => `t${r}`;
    const holes = (r: number) => (r === 1 ? "" : r === 2 ? 0 : truthy(r)); // falsy at ranks 1 and 2
    const lows = (r: number) => (r === 0 ? 0 : r === 1 ? null : truthy(r)); // falsy at ranks 0 and 1
    // A fold over one value is that value; over more, the ops coerce to booleans.
    const fold = (f: (a: unknown, b: unknown) => unknown, g: (r: number) => unknown, ranks: number[]) =>
      ranks.map(g).reduce((a, b) => f(a, b));
    const and = (a: unknown, b: unknown) => Boolean(a) && Boolean(b);
    const or = (a: unknown, b: unknown) => Boolean(a) || Boolean(b);
    const xor = (a: unknown, b: unknown) => Boolean(a) !== Boolean(b);
    same(await comm.allreduce(truthy(me), LAND), fold(and, truthy, range(n)), "LAND of truthy values");
    same(await comm.allreduce(holes(me), LAND), fold(and, holes, range(n)), "LAND with falsy values");
    same(await comm.allreduce(lows(me), LOR), fold(or, lows, range(n)), "LOR");
    same(
      await comm.allreduce(me === 0 ? 0 : "", LOR),
      fold(or, (r) => (r === 0 ? 0 : ""), range(n)),
      "LOR of falsy values",
    );
    for (const root of range(n))
      same(await comm.reduce(holes(me), LAND, root), me === root ? fold(and, holes, range(n)) : undefined, `reduce LAND to ${root}`);
    same(await comm.scan(lows(me), LOR), fold(or, lows, range(me + 1)), "scan LOR");
    same(
      await comm.allreduce(me % 3 === 0, LXOR),
      fold(xor, (r) => r % 3 === 0, range(n)),
      "LXOR of booleans",
    );
    same(
      await comm.allreduce(me % 3 === 0 ? "yes" : 0, LXOR),
      fold(xor, (r) => (r % 3 === 0 ? "yes" : 0), range(n)),
      "LXOR of other values",
    );
    if (n > 1) assert.equal(typeof (await comm.allreduce(truthy(me), LOR)), "boolean");
  },

  async "object reductions never hand back or change the caller's value, even with a mutating user op"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const mutating = mpi.Op.create((a: number[], b: number[]) => {
      a.push(...b);
      return a;
    });
    const mine = [me];
    same(await comm.allreduce(mine, mutating), range(n), "allreduce");
    for (const root of range(n)) same(await comm.reduce(mine, mutating, root), me === root ? range(n) : undefined, `reduce to ${root}`);
    same(await comm.scan(mine, mutating), range(me + 1), "scan");
    same(await comm.exscan(mine, mutating), me === 0 ? undefined : range(me), "exscan");
    same(mine, [me], "the caller's value");
    const value = { me };
    assert.notEqual(await comm.allreduce(value, mpi.Op.NO_OP), value, "allreduce returns a copy");
    assert.notEqual(await comm.reduce(value, mpi.Op.NO_OP, 0), value, "reduce returns a copy");
    assert.notEqual(await comm.scan(value, mpi.Op.REPLACE), value, "scan returns a copy");
    assert.notEqual(await comm.bcast(value, me), value, "bcast returns a copy");
    const zeros = await comm.allgather(await comm.allreduce(me === 0 ? -0 : 0, mpi.Op.MIN));
    assert.ok(
      zeros.every((z) => Object.is(z, zeros[0])),
      `every rank gets the identical result, got ${zeros.map((z) => (Object.is(z, -0) ? "-0" : z))}`,
    );
  },

  async "v-variants place blocks by counts and displacements: zero counts, gaps, reversed order"({ comm }) {
    const n = comm.size;
    const me = comm.rank;
    for (const [pattern, f] of Object.entries(COUNT_PATTERNS)) {
      const counts = range(n).map(f);
      for (const how of ["packed", "gaps", "reversed"] as const) {
        const { displs, length } = layout(counts, how);
        const vbuf = (a: TypedArray): [TypedArray, number[]] | [TypedArray, number[], number[]] =>
          how === "packed" ? [a, counts] : [a, counts, displs];
        for (const K of [Int32Array, Float64Array, BigInt64Array] as const) {
          const what = `${K.name}, counts ${pattern}, ${how}`;
          const gatheredAll = placed(
            K,
            length,
            displs,
            range(n).map((r) => vblock(r, 0, counts[r]!)),
          );
          const mine = make(K, counts[me]!, (k) => vblock(me, 0, counts[me]!)[k]!);
          for (const root of range(n)) {
            const at = me === root ? sentinels(K, length) : null;
            await comm.Gatherv(mine, at ? vbuf(at) : null, root);
            if (at) same(at, gatheredAll, `Gatherv ${what} to ${root}`);
            const part = sentinels(K, counts[me]!);
            await comm.Scatterv(me === root ? vbuf(gatheredAll.slice()) : null, part, root);
            same(part, mine, `Scatterv ${what} from ${root}`);
          }
          const everyone = sentinels(K, length);
          await comm.Allgatherv(mine, vbuf(everyone));
          same(everyone, gatheredAll, `Allgatherv ${what}`);
        }
      }
    }
    // Alltoallv: rank i sends (i + j) % 3 elements to j, from a reversed layout into one with gaps
    const sendCounts = range(n).map((j) => (me + j) % 3);
    const recvCounts = range(n).map((j) => (j + me) % 3);
    const s = layout(sendCounts, "reversed");
    const r = layout(recvCounts, "gaps");
    const send = placed(
      Int16Array,
      s.length,
      s.displs,
      range(n).map((j) => vblock(me, j, sendCounts[j]!)),
    );
    const recv = sentinels(Int16Array, r.length);
    await comm.Alltoallv([send, sendCounts, s.displs], [recv, recvCounts, r.displs]);
    same(
      recv,
      placed(
        Int16Array,
        r.length,
        r.displs,
        range(n).map((j) => vblock(j, me, recvCounts[j]!)),
      ),
      "Alltoallv",
    );
  },

  async "IN_PLACE: Allreduce, Reduce at the root, Scan, Exscan, Allgather, Gather at the root"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const len = 2 * n + 3;
    const mine = () => make(Int32Array, len, (i) => operand(Int32Array, "SUM", me, i));
    const sumOf = (ranks: number[]) => reduced(Int32Array, "SUM", ranks, len);
    for (const size of [len, 3001]) {
      const big = Float64Array.from(bigOperand(me, size));
      await comm.Allreduce(mpi.IN_PLACE, big, mpi.Op.SUM);
      same(big, bigSum(range(n), size), `Allreduce IN_PLACE of ${size}`);
    }
    for (const root of range(n)) {
      const buf = mine();
      if (me === root) await comm.Reduce(mpi.IN_PLACE, buf, mpi.Op.SUM, root);
      else await comm.Reduce(buf, null, mpi.Op.SUM, root);
      same(buf, me === root ? sumOf(range(n)) : mine(), `Reduce IN_PLACE at ${root}`);
      const all = sentinels(Int16Array, 2 * n);
      all.set([me, -me], 2 * me);
      if (me === root) await comm.Gather(mpi.IN_PLACE, all, root);
      else await comm.Gather(Int16Array.of(me, -me), null, root);
      if (me === root)
        same(
          all,
          make(Int16Array, 2 * n, (i) => (i % 2 ? -(i >> 1) : i >> 1)),
          `Gather IN_PLACE at ${root}`,
        );
    }
    const scan = mine();
    await comm.Scan(mpi.IN_PLACE, scan, mpi.Op.SUM);
    same(scan, sumOf(range(me + 1)), "Scan IN_PLACE");
    const exscan = mine();
    await comm.Exscan(mpi.IN_PLACE, exscan, mpi.Op.SUM);
    same(exscan, me === 0 ? mine() : sumOf(range(me)), "Exscan IN_PLACE (rank 0's buffer untouched)");
    const all = sentinels(Float32Array, 3 * n);
    all.set([me, me + 0.5, -me], 3 * me);
    await comm.Allgather(mpi.IN_PLACE, all);
    same(
      all,
      make(Float32Array, 3 * n, (i) => [Math.floor(i / 3), Math.floor(i / 3) + 0.5, -Math.floor(i / 3)][i % 3]!),
      "Allgather IN_PLACE",
    );
  },

  async "IN_PLACE: Scatter(v) and Gatherv at the root, Allgatherv, Alltoall(v), Reduce_scatter(_block)"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const counts = range(n).map((r) => (r % 3) + 1); // uneven blocks
    const displs = counts.map((_, r) => counts.slice(0, r).reduce((a, b) => a + b, 0) + r); // with gaps
    const total = displs[n - 1]! + counts[n - 1]! + 1;
    const blockOf = (r: number, c: number) => make(Int32Array, c, (i) => 100 * r + i);
    for (const root of range(n)) {
      // Scatter: the root keeps its own block in sendbuf, which is left as it was
      const whole = make(Int32Array, 2 * n, (i) => 10 * i + root);
      const part = sentinels(Int32Array, 2);
      if (me === root) await comm.Scatter(whole, mpi.IN_PLACE, root);
      else await comm.Scatter(null, part, root);
      if (me === root)
        same(
          whole,
          make(Int32Array, 2 * n, (i) => 10 * i + root),
          `Scatter IN_PLACE at ${root}: sendbuf unchanged`,
        );
      else
        same(
          part,
          make(Int32Array, 2, (i) => 10 * (2 * me + i) + root),
          `Scatter IN_PLACE at ${root}`,
        );
      // Scatterv
      const v = placed(
        Int32Array,
        total,
        displs,
        range(n).map((r) => blockOf(r, counts[r]!)),
      );
      const got = sentinels(Int32Array, counts[me]!);
      if (me === root) await comm.Scatterv([v, counts, displs], mpi.IN_PLACE, root);
      else await comm.Scatterv(null, got, root);
      if (me !== root) same(got, blockOf(me, counts[me]!), `Scatterv IN_PLACE at ${root}`);
      // Gatherv: the root's block is already in recvbuf
      const gathered = sentinels(Int32Array, total);
      gathered.set(blockOf(me, counts[me]!), displs[me]!);
      if (me === root) await comm.Gatherv(mpi.IN_PLACE, [gathered, counts, displs], root);
      else await comm.Gatherv(blockOf(me, counts[me]!), null, root);
      if (me === root)
        same(
          gathered,
          placed(
            Int32Array,
            total,
            displs,
            range(n).map((r) => blockOf(r, counts[r]!)),
          ),
          `Gatherv IN_PLACE at ${root}`,
        );
    }
    const allv = sentinels(Int32Array, total);
    allv.set(blockOf(me, counts[me]!), displs[me]!);
    await comm.Allgatherv(mpi.IN_PLACE, [allv, counts, displs]);
    same(
      allv,
      placed(
        Int32Array,
        total,
        displs,
        range(n).map((r) => blockOf(r, counts[r]!)),
      ),
      "Allgatherv IN_PLACE",
    );
    // Alltoall: recvbuf is what is sent; block j goes to rank j, block i comes from rank i
    const a2a = make(Int32Array, 2 * n, (i) => 1000 * me + i);
    await comm.Alltoall(mpi.IN_PLACE, a2a);
    same(
      a2a,
      make(Int32Array, 2 * n, (i) => 1000 * Math.floor(i / 2) + 2 * me + (i % 2)),
      "Alltoall IN_PLACE",
    );
    // Alltoallv: recvbuf's own counts and displacements say what is sent (so the exchange must
    // be symmetric: rank i's count for j is rank j's count for i)
    const pair = (i: number, j: number) => ((i + j) % 3) + 1;
    const myCounts = range(n).map((j) => pair(me, j));
    const myDispls = myCounts.map((_, j) => myCounts.slice(0, j).reduce((a, b) => a + b, 0) + 2 * j);
    const myTotal = myDispls[n - 1]! + myCounts[n - 1]! + 2;
    const a2av = placed(
      Int32Array,
      myTotal,
      myDispls,
      range(n).map((j) => make(Int32Array, myCounts[j]!, (i) => 1000 * me + 10 * j + i)),
    );
    await comm.Alltoallv(mpi.IN_PLACE, [a2av, myCounts, myDispls]);
    same(
      a2av,
      placed(
        Int32Array,
        myTotal,
        myDispls,
        range(n).map((j) => make(Int32Array, myCounts[j]!, (i) => 1000 * j + 10 * me + i)),
      ),
      "Alltoallv IN_PLACE",
    );
    // Reduce_scatter_block / Reduce_scatter: recvbuf holds the operand, the result lands at its start
    const rsb = make(Float64Array, 3 * n, (i) => i * (me + 1));
    await comm.Reduce_scatter_block(mpi.IN_PLACE, rsb, mpi.Op.SUM);
    same(
      rsb.subarray(0, 3),
      make(Float64Array, 3, (i) => (3 * me + i) * ((n * (n + 1)) / 2)),
      "Reduce_scatter_block IN_PLACE",
    );
    const sum = counts.reduce((a, b) => a + b, 0);
    const rs = make(Float64Array, sum, (i) => i + me);
    await comm.Reduce_scatter(mpi.IN_PLACE, rs, counts, mpi.Op.SUM);
    const off = counts.slice(0, me).reduce((a, b) => a + b, 0);
    same(
      rs.subarray(0, counts[me]),
      make(Float64Array, counts[me]!, (i) => n * (off + i) + (n * (n - 1)) / 2),
      "Reduce_scatter IN_PLACE",
    );
  },

  async "Reduce leaves a non-root's recvbuf untouched at every root, for commutative and non-commutative ops"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    for (const root of range(n)) {
      for (const [name, op] of [
        ["SUM", mpi.Op.SUM],
        ["REPLACE", mpi.Op.REPLACE],
        ["append", mpi.Op.create(appendDigits)],
      ] as const) {
        const recv = new Float64Array(6).fill(SENTINEL);
        await comm.Reduce(digitPairs(me, 3), recv, op, root);
        const want =
          name === "SUM"
            ? Float64Array.from(range(6), (i) => range(n).reduce((s, r) => s + digitPairs(r, 3)[i]!, 0))
            : name === "REPLACE"
              ? digitPairs(n - 1, 3)
              : appended(range(n), 3);
        same(recv, me === root ? want : new Float64Array(6).fill(SENTINEL), `Reduce ${name} to ${root}`);
      }
    }
  },

  async "arrays shorter than, as long as and longer than the world (empty and uneven blocks)"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    for (const len of [...new Set([0, 1, n - 1, n, n + 1, 2 * n + 1, 3 * n + 2])]) {
      const root = len % n;
      const bc = me === root ? make(Float64Array, len, (i) => i + 0.5) : sentinels(Float64Array, len);
      await comm.Bcast(bc, root);
      same(
        bc,
        make(Float64Array, len, (i) => i + 0.5),
        `Bcast of ${len}`,
      );
      for (const [K, name] of [
        [Int32Array, "SUM"],
        [Float32Array, "MAX"],
        [Int16Array, "PROD"],
        [Uint8Array, "BOR"],
      ] as const) {
        const what = `${name} on ${K.name} × ${len}`;
        const out = sentinels(K, len);
        await comm.Allreduce(operands(K, name, me, len), out, mpi.Op[name]);
        same(out, reduced(K, name, range(n), len), `Allreduce ${what}`);
        const atRoot = me === root ? sentinels(K, len) : null;
        await comm.Reduce(operands(K, name, me, len), atRoot, mpi.Op[name], root);
        if (atRoot) same(atRoot, reduced(K, name, range(n), len), `Reduce ${what}`);
        const block = sentinels(K, len);
        await comm.Reduce_scatter_block(operands(K, name, me, n * len), block, mpi.Op[name]);
        same(block, reduced(K, name, range(n), n * len).slice(me * len, (me + 1) * len), `Reduce_scatter_block ${what}`);
      }
      const counts = range(n).map((i) => (len + i) % 3);
      const offset = counts.slice(0, me).reduce((a, b) => a + b, 0);
      const total = counts.reduce((a, b) => a + b, 0);
      const part = sentinels(Int32Array, counts[me]! + 1);
      await comm.Reduce_scatter(operands(Int32Array, "SUM", me, total), part, counts, mpi.Op.SUM);
      same(
        part.subarray(0, counts[me]),
        reduced(Int32Array, "SUM", range(n), total).slice(offset, offset + counts[me]!),
        `Reduce_scatter counts ${counts}`,
      );
      same(part[counts[me]!], SENTINEL, "Reduce_scatter writes only its count");
      const all = sentinels(Float64Array, n * len);
      await comm.Allgather(
        make(Float64Array, len, (i) => me * 1000 + i),
        all,
      );
      same(
        all,
        make(Float64Array, n * len, (i) => Math.floor(i / Math.max(len, 1)) * 1000 + (i % Math.max(len, 1))),
        `Allgather of ${len}`,
      );
    }
  },

  async "large arrays switch algorithms (ring, scatter-ring) and stay exact"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const bc = me === n - 1 ? bigOperand(7, 40_001) : new Float64Array(40_001);
    await comm.Bcast(bc, n - 1);
    same(bc, bigOperand(7, 40_001), "Bcast of 320 kB");
    const out = new Float64Array(2_501);
    await comm.Allreduce(bigOperand(me, 2_501), out, mpi.Op.SUM);
    same(out, bigSum(range(n), 2_501), "Allreduce SUM of 20 kB");
    for (const name of LOC) {
      const loc = new Float64Array(2_502);
      await comm.Allreduce(operands(Float64Array, name, me, 2_502), loc, mpi.Op[name]);
      same(loc, reduced(Float64Array, name, range(n), 2_502), `Allreduce ${name} of 20 kB`);
      const root = 1 % n;
      const atRoot = me === root ? new Float64Array(40_002) : null;
      await comm.Reduce(operands(Float64Array, name, me, 40_002), atRoot, mpi.Op[name], root);
      if (atRoot) same(atRoot, reduced(Float64Array, name, range(n), 40_002), `Reduce ${name} of 320 kB`);
    }
    const ordered = new Float64Array(2 * 1_300);
    await comm.Allreduce(digitPairs(me, 1_300), ordered, mpi.Op.create(appendDigits));
    same(ordered, appended(range(n), 1_300), "Allreduce of 20 kB with a non-commutative op");
    const all = new Float64Array(n * 2_751);
    await comm.Allgather(bigOperand(me, 2_751), all);
    same(all, Float64Array.from(range(n).flatMap((r) => [...bigOperand(r, 2_751)])), "Allgather of 22 kB per rank");
    const root = 2 % n;
    const sum = me === root ? new Float64Array(40_001) : null;
    await comm.Reduce(bigOperand(me, 40_001), sum, mpi.Op.SUM, root);
    if (sum) same(sum, bigSum(range(n), 40_001), "Reduce SUM of 320 kB");
  },

  async "collectives never match user point-to-point traffic, even ANY_SOURCE/ANY_TAG receives posted before"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const right = (me + 1) % n;
    const left = (me - 1 + n) % n;
    const early = comm.irecv(mpi.ANY_SOURCE, mpi.ANY_TAG);
    const buf = new Float64Array(4);
    const runAll = async () => {
      await comm.barrier();
      await comm.bcast({ a: 1 }, n - 1);
      await comm.Bcast(buf, 0);
      await comm.allreduce(me, mpi.Op.SUM);
      await comm.Allreduce(new Float64Array(3), new Float64Array(3), mpi.Op.MAX);
      await comm.gather(me, 0);
      await comm.scatter(me === 0 ? range(n) : null, 0);
      await comm.alltoall(range(n));
      await comm.scan(me, mpi.Op.SUM);
      await comm.allgather("x");
      await comm.Reduce_scatter_block(new Int32Array(n), new Int32Array(1), mpi.Op.SUM);
      await comm.Ibarrier().wait();
    };
    await runAll();
    assert.equal(early.test(), false, "a collective's message matched a user ANY_SOURCE/ANY_TAG receive");
    assert.equal(comm.iprobe(mpi.ANY_SOURCE, mpi.ANY_TAG), false, "a collective's message is visible to iprobe");
    await comm.barrier(); // every rank checked before anyone sends
    await comm.send("user", right, 5);
    const st = new mpi.Status();
    same(await early.wait(st), "user", "the early receive gets the user's message");
    same([st.source, st.tag], [left, 5], "status of the early receive");
    // user messages on every small tag (a collective's tag space starts at 0) stay queued through collectives
    const tags = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, mpi.TAG_UB];
    for (const tag of tags) await comm.send({ tag, from: me }, right, tag);
    await comm.Send(Float64Array.of(me, 1, 2, 3), right, 2);
    await runAll();
    for (const tag of [...tags].reverse()) same(await comm.recv(left, tag), { tag, from: left }, `user message with tag ${tag}`);
    const got = new Float64Array(4);
    await comm.Recv(got, left, 2);
    same(got, Float64Array.of(left, 1, 2, 3), "user buffer message");
    assert.equal(comm.iprobe(mpi.ANY_SOURCE, mpi.ANY_TAG), false, "nothing else is left");
  },

  async "traffic on a dup or a split never reaches another communicator; their collectives interleave freely"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const right = (me + 1) % n;
    const dup = comm.dup();
    const part = (await comm.split(0, n - me))!;
    const onComm = comm.irecv(mpi.ANY_SOURCE, mpi.ANY_TAG);
    const onDup = dup.irecv(mpi.ANY_SOURCE, mpi.ANY_TAG);
    const onPart = part.irecv(mpi.ANY_SOURCE, mpi.ANY_TAG);
    await dup.send("dup", right, 1);
    same(await onDup.wait(), "dup", "the dup's message");
    await part.send("part", (part.rank + 1) % n, 1);
    same(await onPart.wait(), "part", "the split's message");
    await dup.barrier(); // every dup and split message has been received
    assert.equal(onComm.test(), false, "a dup's or split's message reached the parent");
    await dup.barrier(); // every rank checked before anyone sends on the parent
    await comm.send("comm", right, 1);
    same(await onComm.wait(), "comm", "the parent's message");
    // the same collectives on three communicators, issued in a different order on odd ranks
    const calls = [() => comm.allreduce(1, mpi.Op.SUM), () => dup.allreduce(10, mpi.Op.SUM), () => part.allreduce(100, mpi.Op.SUM)];
    const started = (me % 2 ? [...calls].reverse() : calls).map((f) => f());
    const sums = await Promise.all(me % 2 ? started.reverse() : started);
    same(sums, [n, 10 * n, 100 * n], "allreduce on comm, dup and split");
    const order = await Promise.all([dup.bcast(me === 0 ? "dup" : null, 0), comm.bcast(me === 0 ? "comm" : null, 0)]);
    same(order, ["dup", "comm"], "bcast on dup and comm");
  },

  async "several outstanding collectives complete whatever order they are awaited in"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    for (let round = 0; round < 3; round++) {
      const b = comm.bcast({ round }, n - 1);
      const a = comm.allreduce(me, mpi.Op.SUM);
      const g = comm.gather(me * 2, 0);
      const buf = me === 0 ? Int32Array.of(round, 2, 3) : new Int32Array(3);
      const B = comm.Bcast(buf, 0);
      const out = new Int32Array(2);
      const A = comm.Allreduce(Int32Array.of(me, 1), out, mpi.Op.SUM);
      const order = [
        [0, 1, 2, 3, 4],
        [4, 3, 2, 1, 0],
        [2, 0, 4, 1, 3],
      ][(me + round) % 3]!;
      const promises: Promise<unknown>[] = [b, a, g, B, A];
      const results: unknown[] = [];
      for (const i of order) results[i] = await promises[i];
      same(results.slice(0, 3), [{ round }, (n * (n - 1)) / 2, me === 0 ? range(n).map((r) => r * 2) : undefined], `round ${round}`);
      same(buf, Int32Array.of(round, 2, 3), "outstanding Bcast");
      same(out, Int32Array.of((n * (n - 1)) / 2, n), "outstanding Allreduce");
    }
  },

  async "Ibarrier, Ibcast, Iallreduce and their object forms are requests"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    if (n > 1) {
      // rank 0 enters only once every other rank saw its own Ibarrier still incomplete
      let req: InstanceType<Mpi["Request"]>;
      if (me === 0) {
        for (const from of range(n).slice(1)) assert.equal(await comm.recv(from, 9), "still waiting");
        req = comm.Ibarrier();
      } else {
        req = comm.Ibarrier();
        await pause(20);
        assert.equal(req.test(), false, "Ibarrier completed before rank 0 entered");
        await comm.send("still waiting", 0, 9);
      }
      await req.wait();
      assert.equal(req.test(), true);
    }
    const buf = me === n - 1 ? Float64Array.of(1.5, 2.5) : new Float64Array(2);
    const out = new Int32Array(3);
    const reqs = [
      comm.Ibarrier(),
      comm.Ibcast(buf, n - 1),
      comm.Iallreduce(Int32Array.of(me, 1, -me), out, mpi.Op.SUM),
      comm.iallreduce(me, mpi.Op.MAX),
      comm.ibcast(me === 0 ? "hi" : null, 0),
      comm.ibarrier(),
    ] as const;
    same(await mpi.Request.waitall(reqs), [undefined, undefined, undefined, n - 1, "hi", undefined], "waitall values");
    assert.ok(
      reqs.every((r) => r.test()),
      "every request tests complete",
    );
    same(buf, Float64Array.of(1.5, 2.5), "Ibcast");
    same(out, Int32Array.of((n * (n - 1)) / 2, n, -(n * (n - 1)) / 2), "Iallreduce");
  },

  async "split orders by key then rank, UNDEFINED gets null, and every collective works on the parts"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    const me = comm.rank;
    const color = me % 2;
    const part = (await comm.split(color, -me))!;
    const members = range(n)
      .filter((r) => r % 2 === color)
      .reverse(); // keys -r: descending rank
    same([part.size, part.rank], [members.length, members.indexOf(me)], "size and rank in the part");
    same(await part.allgather(me), members, "members ordered by key");
    same(
      await part.allreduce(me, mpi.Op.SUM),
      members.reduce((a, b) => a + b, 0),
      "allreduce on the part",
    );
    const tied = (await comm.split(0, me % 2))!; // equal keys keep the parent's order
    same(await tied.allgather(me), [...range(n).filter((r) => r % 2 === 0), ...range(n).filter((r) => r % 2 === 1)], "ties broken by rank");
    const none = await comm.split(me === 0 ? mpi.UNDEFINED : 1, 0);
    if (me === 0) assert.equal(none, null);
    else same(await none!.allgather(me), range(n).slice(1), "the part without rank 0");
    assert.equal(await comm.split(mpi.UNDEFINED), null, "every rank UNDEFINED");
    await rootedObjects({ comm: part, mpi });
    await rootedBuffers({ comm: part, mpi });
    const sub = (await part.split(0, 0))!;
    same(await sub.allgather(me), members, "a split of a split");
  },

  async "compare: IDENT, CONGRUENT, SIMILAR, UNEQUAL"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    assert.equal(comm.compare(comm), mpi.IDENT);
    const dup = comm.dup();
    assert.equal(comm.compare(dup), mpi.CONGRUENT);
    assert.equal(dup.compare(comm), mpi.CONGRUENT);
    assert.equal(comm.compare((await comm.split(3, 0))!), mpi.CONGRUENT);
    assert.equal(comm.compare((await comm.split(0, -me))!), n === 1 ? mpi.CONGRUENT : mpi.SIMILAR);
    assert.equal(comm.compare((await comm.split(me % 2, 0))!), n === 1 ? mpi.CONGRUENT : mpi.UNEQUAL);
    const other = comm === mpi.COMM_SELF ? mpi.COMM_WORLD : mpi.COMM_SELF;
    assert.equal(comm.compare(other), mpi.COMM_WORLD.size === 1 ? mpi.CONGRUENT : mpi.UNEQUAL);
  },

  async "free: further use rejects ERR_TSMPI_COMM; COMM_WORLD and COMM_SELF cannot be freed"({ comm, mpi }) {
    const dup = comm.dup();
    await dup.barrier();
    dup.free();
    await rejects(mpi, dup.barrier(), "ERR_TSMPI_COMM", "barrier after free");
    await rejects(mpi, dup.allreduce(1, mpi.Op.SUM), "ERR_TSMPI_COMM", "allreduce after free");
    await rejects(mpi, dup.Bcast(new Int8Array(1), 0), "ERR_TSMPI_COMM", "Bcast after free");
    await rejects(mpi, dup.send(1, 0), "ERR_TSMPI_COMM", "send after free");
    await rejects(mpi, dup.split(0), "ERR_TSMPI_COMM", "split after free");
    assert.throws(
      () => dup.dup(),
      (e) => e instanceof mpi.TsmpiError && e.code === "ERR_TSMPI_COMM",
    );
    for (const fixed of [mpi.COMM_WORLD, mpi.COMM_SELF])
      assert.throws(
        () => fixed.free(),
        (e) => e instanceof mpi.TsmpiError && e.code === "ERR_TSMPI_COMM",
      );
    same(await comm.allreduce(1, mpi.Op.SUM), comm.size, "the parent still works");
  },

  async "a bad root rejects ERR_TSMPI_ROOT on every rank, in every rooted collective"({ comm, mpi }) {
    const n = comm.size;
    const a = new Int32Array(n);
    const b = new Int32Array(1);
    for (const root of [n, -1, 1.5, "0" as unknown as number, NaN]) {
      const calls: Record<string, () => Promise<unknown>> = {
        bcast: () => comm.bcast(1, root),
        scatter: () => comm.scatter(range(n), root),
        gather: () => comm.gather(1, root),
        reduce: () => comm.reduce(1, mpi.Op.SUM, root),
        Bcast: () => comm.Bcast(b, root),
        Scatter: () => comm.Scatter(a, b, root),
        Gather: () => comm.Gather(b, a, root),
        Reduce: () => comm.Reduce(b, b.slice(), mpi.Op.SUM, root),
        Scatterv: () => comm.Scatterv([a, range(n).map(() => 1)], b, root),
        Gatherv: () => comm.Gatherv(b, [a, range(n).map(() => 1)], root),
      };
      for (const [name, call] of Object.entries(calls)) await rejects(mpi, call(), "ERR_TSMPI_ROOT", `${name} with root ${String(root)}`);
    }
    same(await comm.allreduce(1, mpi.Op.SUM), n, "the communicator still works");
  },

  async "a wrong list or buffer at the root only rejects at the root and everywhere else, without a hang"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    for (const root of range(n)) {
      const at = async (code: string, call: () => Promise<unknown>, what: string) => {
        const all = await comm.allgather(await outcome(mpi, call()));
        same(
          all,
          range(n).map(() => code),
          `${what} at root ${root}`,
        );
      };
      await at("ERR_TSMPI_COUNT", () => comm.scatter(me === root ? range(n + 1) : null, root), "a scatter list one too long");
      await at("ERR_TSMPI_COUNT", () => comm.scatter(me === root ? [] : null, root), "an empty scatter list");
      await at("ERR_TSMPI_TYPE", () => comm.scatter(me === root ? ("abc" as never) : null, root), "a scatter list that is a string");
      await at(
        "ERR_TSMPI_COUNT",
        () => comm.Scatter(me === root ? new Int32Array(2 * n + 1) : null, new Int32Array(2), root),
        "a Scatter sendbuf one too long",
      );
      await at(
        "ERR_TSMPI_COUNT",
        () => comm.Scatterv(me === root ? [new Int32Array(n), range(n + 1).map(() => 1)] : null, new Int32Array(1), root),
        "Scatterv counts one too many",
      );
    }
    const all = await comm.allgather(await outcome(mpi, comm.alltoall(me === n - 1 ? range(n + 2) : range(n))));
    same(
      all,
      range(n).map(() => "ERR_TSMPI_COUNT"),
      "an alltoall list too long on the last rank",
    );
  },

  async "mismatched buffer sizes across ranks: some rank rejects, nobody hangs, the communicator stays usable"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    const me = comm.rank;
    const odd = (r: number) => n > 1 && r === 1; // the rank that disagrees
    for (const root of range(n)) {
      for (const delta of [1, -1]) {
        const other = me === (root + 1) % n && n > 1;
        await settlesEverywhere(
          t,
          () => comm.Bcast(new Float64Array(other ? 6 + delta : 6), root),
          `Bcast from ${root}, the next rank with ${delta} elements more`,
        );
        await settlesEverywhere(
          t,
          () => comm.Bcast(new Float64Array(me === root && n > 1 ? 6 + delta : 6), root),
          `Bcast from ${root} with ${delta} elements more at the root`,
        );
      }
    }
    for (const delta of [1, -1]) {
      for (const len of [1, 2 * n + 1, 700]) {
        const mine = odd(me) ? len + delta : len;
        await settlesEverywhere(
          t,
          () => comm.Allreduce(new Int32Array(mine), new Int32Array(mine), mpi.Op.SUM),
          `Allreduce of ${len}, one rank ${delta}`,
        );
        await settlesEverywhere(
          t,
          () => comm.Allgather(new Float32Array(mine), new Float32Array(n * mine)),
          `Allgather of ${len}, one rank ${delta}`,
        );
        await settlesEverywhere(
          t,
          () => comm.Reduce(new Int32Array(mine), new Int32Array(mine), mpi.Op.SUM, n - 1),
          `Reduce of ${len}, one rank ${delta}`,
        );
        await settlesEverywhere(
          t,
          () => comm.Scan(new Int32Array(mine), new Int32Array(mine), mpi.Op.SUM),
          `Scan of ${len}, one rank ${delta}`,
        );
      }
    }
    // a kind of another element size on one rank is a size mismatch too
    await settlesEverywhere(
      t,
      () =>
        odd(me)
          ? comm.Allreduce(new Float32Array(4), new Float32Array(4), mpi.Op.SUM)
          : comm.Allreduce(new Float64Array(4), new Float64Array(4), mpi.Op.SUM),
      "Allreduce, one rank Float32Array",
    );
  },

  async "an op that throws on one rank fails the call there and, without a hang, on every rank waiting for it"({ comm, mpi }) {
    const n = comm.size;
    const me = comm.rank;
    const noOnes = mpi.Op.create((a: number, b: number) => {
      if (b === 1) throw new RangeError("no ones");
      return a + b;
    });
    // The folds that meet rank 1's value throw (rank 0 in reduce, every rank in allreduce, rank 1
    // in scan); a rank that waits for a thrower rejects with ERR_TSMPI_OP, or throws itself when
    // it got that far first; nobody hangs, and nobody completes who needed a result from a thrower.
    const check = (all: string[], what: string, noneOk = false) => {
      assert.ok(
        all.every((o) => o === "ok" || o === "ERR_TSMPI_OP" || o.startsWith("RangeError")),
        `${what}: ${all}`,
      );
      if (n > 1)
        assert.ok(
          all.some((o) => o.startsWith("RangeError")),
          `${what}: the op never threw: ${all}`,
        );
      if (n > 1 && noneOk) assert.ok(!all.includes("ok"), `${what}: a rank completed: ${all}`);
    };
    for (const root of range(n)) {
      const all = await comm.allgather(await outcome(mpi, comm.reduce(me, noOnes, root)));
      check(all, `reduce to ${root}`);
      if (n > 1 && root !== 0) assert.equal(all[root], "ERR_TSMPI_OP", `reduce to ${root}: the root waits for rank 0: ${all}`);
    }
    check(await comm.allgather(await outcome(mpi, comm.allreduce(me, noOnes))), "allreduce", true);
    check(await comm.allgather(await outcome(mpi, comm.scan(me, noOnes))), "scan");
    const throwing = mpi.Op.create(() => {
      throw new RangeError("never");
    });
    check(await comm.allgather(await outcome(mpi, comm.Allreduce(new Int32Array(2), new Int32Array(2), throwing))), "Allreduce", true);
    check(await comm.allgather(await outcome(mpi, comm.Reduce(new Int32Array(2), new Int32Array(2), throwing, n - 1))), "Reduce");
  },

  async "a non-Op op rejects ERR_TSMPI_OP; wrong kinds and shapes reject ERR_TSMPI_TYPE or ERR_TSMPI_COUNT"({ comm, mpi }) {
    const n = comm.size;
    const a = new Float64Array(2);
    for (const op of ["SUM", null, {}, Math.max, 1] as unknown as Mpi["Op"]["SUM"][]) {
      const what = `op ${String(op)}`;
      await rejects(mpi, comm.allreduce(1, op), "ERR_TSMPI_OP", `allreduce, ${what}`);
      await rejects(mpi, comm.reduce(1, op, 0), "ERR_TSMPI_OP", `reduce, ${what}`);
      await rejects(mpi, comm.scan(1, op), "ERR_TSMPI_OP", `scan, ${what}`);
      await rejects(mpi, comm.Allreduce(a, a.slice(), op), "ERR_TSMPI_OP", `Allreduce, ${what}`);
      await rejects(mpi, comm.Reduce(a, a.slice(), op, 0), "ERR_TSMPI_OP", `Reduce, ${what}`);
      await rejects(mpi, comm.Exscan(a, a.slice(), op), "ERR_TSMPI_OP", `Exscan, ${what}`);
      await rejects(
        mpi,
        comm.Reduce_scatter_block(new Float64Array(n), new Float64Array(1), op),
        "ERR_TSMPI_OP",
        `Reduce_scatter_block, ${what}`,
      );
    }
    assert.throws(
      () => mpi.Op.create("a + b" as never),
      (e) => e instanceof mpi.TsmpiError && e.code === "ERR_TSMPI_ARG",
    );
    const wrong: Record<string, [string, () => Promise<unknown>]> = {
      "Allreduce Float64Array into Int32Array": ["ERR_TSMPI_TYPE", () => comm.Allreduce(a, new Int32Array(2), mpi.Op.SUM)],
      "Allreduce of a plain array": ["ERR_TSMPI_TYPE", () => comm.Allreduce([1, 2] as never, a, mpi.Op.SUM)],
      "Allreduce into a shorter recvbuf": ["ERR_TSMPI_COUNT", () => comm.Allreduce(a, new Float64Array(1), mpi.Op.SUM)],
      "Bcast of a plain array": ["ERR_TSMPI_TYPE", () => comm.Bcast([1, 2] as never, 0)],
      "Allgather of a number": ["ERR_TSMPI_TYPE", () => comm.Allgather(3 as never, a)],
      "Allgather into a recvbuf of the wrong length": ["ERR_TSMPI_COUNT", () => comm.Allgather(a, new Float64Array(2 * n + 1))],
      "Alltoall of mixed kinds": ["ERR_TSMPI_TYPE", () => comm.Alltoall(new Int8Array(n), new Uint8Array(n))],
      "Scan of mixed kinds": ["ERR_TSMPI_TYPE", () => comm.Scan(a, new Float32Array(2), mpi.Op.SUM)],
      "Reduce_scatter_block with a sendbuf of the wrong length": [
        "ERR_TSMPI_COUNT",
        () => comm.Reduce_scatter_block(new Float64Array(n + 1), new Float64Array(1), mpi.Op.SUM),
      ],
      "Reduce_scatter with negative counts": [
        "ERR_TSMPI_COUNT",
        () =>
          comm.Reduce_scatter(
            a,
            a.slice(),
            range(n).map(() => -1),
            mpi.Op.SUM,
          ),
      ],
      "Allgatherv with a block outside the array": [
        "ERR_TSMPI_COUNT",
        () => comm.Allgatherv(new Float64Array(1), [new Float64Array(n), range(n).map(() => 1), range(n).map(() => n)]),
      ],
      "Reduce with IN_PLACE and a null recvbuf": ["ERR_TSMPI_TYPE", () => comm.Reduce(mpi.IN_PLACE, null, mpi.Op.SUM, 0)],
    };
    for (const [what, [code, call]] of Object.entries(wrong)) await rejects(mpi, call(), code, what);
    // wrong kinds at the root only: the root rejects, the others reject too or complete (leaves of the tree cannot know)
    for (const root of range(n)) {
      const all = await comm.allgather(
        await outcome(mpi, comm.Gather(new Int8Array(2), comm.rank === root ? new Uint8Array(2 * n) : null, root)),
      );
      assert.equal(all[root], "ERR_TSMPI_TYPE", `Gather of mixed kinds at root ${root}`);
      assert.ok(
        all.every((o) => o === "ok" || o === "ERR_TSMPI_TYPE"),
        `Gather of mixed kinds at root ${root}: ${all}`,
      );
    }
  },
};
