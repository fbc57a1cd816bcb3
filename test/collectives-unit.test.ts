/**
 * In-process unit tests of the collective algorithms (`lib/collectives/*.ts`) over an in-memory
 * {@link Channel}: N simulated ranks in one process, messages copied as bytes, FIFO per (source,
 * destination), each delivered after a seeded random delay so that ranks interleave differently
 * per seed. Every algorithm runs for N = 1..9 against a reference computed here, with uneven
 * splits, empty blocks (arrays shorter than N) and every root; latency-bound algorithms must
 * also keep to ceil(log2 N) messages per rank.
 */
import assert from "node:assert/strict";
import { allgatherBlobs, allgatherBruck, allgatherRing } from "../lib/collectives/allgather.js";
import { allreduceArrayGather, allreduceArrayReduceBcast, allreduceArrayRing, allreduceValues } from "../lib/collectives/allreduce.js";
import { alltoallArray, alltoallBlobs } from "../lib/collectives/alltoall.js";
import { barrier } from "../lib/collectives/barrier.js";
import { bcastBinomial, bcastScatterRing } from "../lib/collectives/bcast.js";
import { bytesOfRange, packedDispls, splitEven } from "../lib/collectives/blocks.js";
import { bundle, unbundle, type Channel } from "../lib/collectives/channel.js";
import { gatherArray, gatherBlobs, gathervArray, scatterArray, scatterBlobs, scattervArray } from "../lib/collectives/gather.js";
import { reduceArrayBinomial, reduceArrayRing, reduceScatterRing, reduceValues } from "../lib/collectives/reduce.js";
import { reduceScatterArray } from "../lib/collectives/reduce-scatter.js";
import { scanArray, scanValues } from "../lib/collectives/scan.js";
import {
  chooseAllgather,
  chooseAllreduce,
  chooseBcast,
  chooseReduce,
  chooseReduceScatter,
  chooseRooted,
} from "../lib/collectives/select.js";
import { TsmpiError } from "../lib/errors.js";
import { Op } from "../lib/op.js";
import { appendDigits, appended, digitPairs, layout } from "./suites/collectives.js";

/** World sizes of the simulated runs. */
const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/** Interleavings tried where a test runs more than one. */
const SEEDS = [1, 2];
/** `[0, 1, ..., n - 1]`. */
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** ceil(log2 n): the rounds of a latency-optimal algorithm. */
const log2 = (n: number): number => Math.ceil(Math.log2(n));
/** A non-commutative op on typed arrays whose result spells the fold order. */
const APPEND = Op.create(appendDigits);
/** A non-commutative op on strings. */
const CONCAT = Op.create((a: string, b: string) => a + b);

/** A seeded pseudo-random generator (mulberry32): a failing interleaving replays with its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * N ranks in one process. A send is copied when it is delivered, after a random number of event
 * loop turns, in FIFO order per (source, destination): a plain send resolves only then (so an
 * algorithm that changes a buffer before its send resolved is caught), an `owned` send resolves
 * at once and must not change before delivery. Counts every rank's sends and receives.
 */
class MemoryNet {
  readonly sends: number[];
  readonly recvs: number[];
  readonly problems: string[] = [];
  private readonly arrived = new Map<string, Uint8Array[]>();
  private readonly waiting = new Map<string, ((bytes: Uint8Array) => void)[]>();
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly rand: () => number;

  constructor(
    readonly size: number,
    seed: number,
  ) {
    this.sends = new Array<number>(size).fill(0);
    this.recvs = new Array<number>(size).fill(0);
    this.rand = random(seed);
  }

  /** Rank `rank`'s end of the network. */
  channel(rank: number): Channel {
    return {
      rank,
      size: this.size,
      send: (dest, data, owned = false) => this.send(rank, dest, data, owned),
      recv: (src, into) => this.recv(rank, src, into),
    };
  }

  /** Resolves once every message sent so far was delivered. */
  async flushed(): Promise<void> {
    await Promise.all(this.lanes.values());
  }

  /** Messages delivered but never received, and receives never matched, as "src>dst" keys. */
  leftovers(): string[] {
    return [...this.arrived]
      .filter(([, q]) => q.length > 0)
      .map(([k, q]) => `${q.length} message(s) ${k}`)
      .concat([...this.waiting].filter(([, w]) => w.length > 0).map(([k]) => `receive ${k}`));
  }

  private check(rank: number, peer: number, what: string): void {
    if (!Number.isInteger(peer) || peer < 0 || peer >= this.size) throw new Error(`rank ${rank} ${what} rank ${peer} of ${this.size}`);
  }

  private async turns(): Promise<void> {
    for (let i = Math.floor(this.rand() * 3); i > 0; i--) await new Promise((r) => setImmediate(r));
  }

  private send(rank: number, dest: number, data: Uint8Array, owned: boolean): Promise<void> {
    this.check(rank, dest, "sends to");
    this.sends[rank]!++;
    const key = `${rank}>${dest}`;
    const snapshot = owned ? data.slice() : undefined;
    const lane = (this.lanes.get(key) ?? Promise.resolve())
      .then(() => this.turns())
      .then(() => {
        const bytes = data.slice();
        if (snapshot && Buffer.compare(bytes, snapshot) !== 0)
          this.problems.push(`rank ${rank} changed an owned message to ${dest} before it was delivered`);
        const waiter = this.waiting.get(key)?.shift();
        if (waiter) waiter(bytes);
        else this.arrived.set(key, [...(this.arrived.get(key) ?? []), bytes]);
      });
    this.lanes.set(key, lane);
    return owned ? Promise.resolve() : lane;
  }

  private recv(rank: number, src: number, into?: Uint8Array): Promise<Uint8Array> {
    this.check(rank, src, "receives from");
    this.recvs[rank]!++;
    const key = `${src}>${rank}`;
    return new Promise((resolve, reject) => {
      const take = (bytes: Uint8Array): void => {
        if (!into) {
          resolve(bytes);
          return;
        }
        if (bytes.byteLength !== into.byteLength) {
          reject(new TsmpiError("ERR_TSMPI_COUNT", `rank ${rank} expected ${into.byteLength} bytes from ${src}, got ${bytes.byteLength}`));
          return;
        }
        into.set(bytes);
        resolve(into);
      };
      const queued = this.arrived.get(key);
      if (queued?.length) take(queued.shift()!);
      else this.waiting.set(key, [...(this.waiting.get(key) ?? []), take]);
    });
  }
}

/**
 * Runs `body` on every rank of an in-memory world of `n` and returns each rank's result and the
 * network. Fails on a deadlock (no result within 5 s), on a message left unreceived or a receive
 * left unmatched, and on an owned message changed in flight.
 */
async function world<T>(n: number, seed: number, body: (ch: Channel) => Promise<T>): Promise<{ results: T[]; net: MemoryNet }> {
  const net = new MemoryNet(n, seed);
  let timer: NodeJS.Timeout | undefined;
  const deadlock = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`no result within 5 s on ${n} ranks: ${net.leftovers().join(", ") || "nothing in flight"}`)),
        5000,
      )),
  );
  try {
    const results = await Promise.race([Promise.all(range(n).map((r) => body(net.channel(r)))), deadlock]);
    await net.flushed();
    assert.deepEqual(net.leftovers(), [], "every message is received and every receive matched");
    assert.deepEqual(net.problems, []);
    return { results, net };
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that no rank sent or received more than `bound` messages. */
function atMost(net: MemoryNet, bound: number, what: string): void {
  for (const r of range(net.size))
    assert.ok(
      Math.max(net.sends[r]!, net.recvs[r]!) <= bound,
      `${what}: rank ${r} sent ${net.sends[r]}, received ${net.recvs[r]} (bound ${bound})`,
    );
}

/** Rank r's Int32 operand: values with negatives, so sums and maxima depend on every rank. */
const ints = (r: number, length: number): Int32Array => Int32Array.from(range(length), (i) => ((r * 31 + i * 7) % 97) - 40);

/** Element-wise sum of {@link ints} over `ranks`. */
const intSum = (ranks: readonly number[], length: number): Int32Array =>
  Int32Array.from(range(length), (i) => ranks.reduce((s, r) => s + ints(r, length)[i]!, 0));

/** Rank r's MAXLOC operand: interleaved (value, index) pairs with many ties. */
const pairs = (r: number, length: number): Float64Array =>
  Float64Array.from(range(length), (i) => (i % 2 ? (r * 5 + i) % 11 : (r + i) % 3));

/** MAXLOC over `ranks` of {@link pairs}: the largest value, with the lowest index among its ties. */
function maxloc(ranks: readonly number[], length: number): Float64Array {
  const out = new Float64Array(length);
  for (let p = 0; p < length; p += 2) {
    const best = Math.max(...ranks.map((r) => pairs(r, length)[p]!));
    out[p] = best;
    out[p + 1] = Math.min(...ranks.filter((r) => pairs(r, length)[p] === best).map((r) => pairs(r, length)[p + 1]!));
  }
  return out;
}

/** Lengths around N: empty, shorter than N (empty ring blocks), uneven and even splits. */
const lengthsFor = (n: number): number[] => [...new Set([0, 1, n - 1, n, n + 1, 2 * n + 3, 3 * n + 2])];

/** `n` blocks of bytes of different lengths (some empty), block i from rank `from`. */
const blob = (from: number, i: number): Uint8Array => Uint8Array.from(range((from * 3 + i) % 5), (k) => from * 16 + i + k);

describe("collective algorithms, in process (N = 1..9, every root, random interleavings)", function () {
  this.timeout(60_000);

  describe("helpers", function () {
    it("splitEven covers [0, total) in near-equal blocks of whole items; packedDispls packs", function () {
      for (const parts of SIZES) {
        for (const unit of [1, 2, 3]) {
          for (const total of [0, unit, parts * unit, (3 * parts + 1) * unit]) {
            const offsets = splitEven(total, parts, unit);
            assert.equal(offsets.length, parts + 1);
            assert.equal(offsets[0], 0);
            assert.equal(offsets[parts], total);
            const sizes = range(parts).map((i) => offsets[i + 1]! - offsets[i]!);
            assert.ok(
              sizes.every((s) => s % unit === 0 && s >= 0),
              `blocks of ${total} in ${parts} by ${unit}: ${sizes}`,
            );
            assert.ok(Math.max(...sizes) - Math.min(...sizes) <= unit, `near-equal: ${sizes}`);
          }
        }
      }
      assert.deepEqual(packedDispls([2, 0, 3, 1]), [0, 2, 2, 5]);
    });

    it("bytesOfRange views elements of any kind without copying; bundle/unbundle round-trip (empty parts too)", function () {
      const a = Float64Array.of(1, 2, 3, 4).subarray(1);
      const view = bytesOfRange(a, 1, 3);
      assert.equal(view.byteLength, 16);
      new Float64Array(view.buffer, view.byteOffset, 2).set([7, 8]);
      assert.deepEqual(a, Float64Array.of(2, 7, 8));
      assert.equal(bytesOfRange(a, 3, 3).byteLength, 0);
      const parts = [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)];
      assert.deepEqual(
        unbundle(bundle(parts)).map((p) => [...p]),
        [[1, 2], [], [3]],
      );
      assert.deepEqual(unbundle(bundle([])), []);
    });

    it("select: latency-bound algorithms for small payloads, bandwidth-bound for large ones", function () {
      if (process.env.TSMPI_COLL) {
        console.log(`      (skipped: TSMPI_COLL=${process.env.TSMPI_COLL} forces the choices this test checks)`);
        return this.skip();
      }
      assert.equal(chooseAllreduce(8, 8, Op.SUM, false), "gather");
      assert.equal(chooseAllreduce(1 << 20, 8, Op.SUM, false), "ring");
      assert.equal(chooseAllreduce(1 << 20, 8, APPEND, false), "reduce-bcast");
      assert.equal(chooseAllreduce(1 << 20, 1, Op.SUM, false), "gather");
      assert.equal(chooseBcast(8, 8, false), "binomial");
      assert.equal(chooseBcast(1 << 20, 8, false), "scatter-ring");
      assert.equal(chooseBcast(1 << 20, 2, false), "binomial");
      assert.equal(chooseAllgather(8, 8, false), "bruck");
      assert.equal(chooseAllgather(1 << 20, 8, false), "ring");
      for (const rooted of ["gather", "scatter"] as const) {
        assert.equal(chooseRooted(rooted, 8, 8), "binomial");
        assert.equal(chooseRooted(rooted, 1 << 20, 8), "linear"); // each large block moves once
        assert.equal(chooseRooted(rooted, 1 << 20, 2), "binomial"); // the same messages at 2 ranks
      }
      // ranks that can read each other's memory: single-copy reads for large payloads only
      assert.equal(chooseAllreduce(8, 8, Op.SUM, true), "gather");
      assert.equal(chooseAllreduce(1 << 20, 8, Op.SUM, true), "peer");
      assert.equal(chooseAllreduce(1 << 20, 8, APPEND, true), "reduce-bcast"); // peer splits arrays: commutative ops only
      assert.equal(chooseBcast(8, 8, true), "binomial");
      assert.equal(chooseBcast(1 << 20, 2, true), "peer");
      assert.equal(chooseAllgather(1 << 20, 8, true), "peer");
      assert.equal(chooseReduceScatter(1 << 20, Op.SUM, true), "peer");
      assert.equal(chooseReduceScatter(1 << 20, APPEND, true), "messages");
      assert.equal(chooseReduceScatter(1 << 20, Op.SUM, false), "messages");
      assert.equal(chooseReduceScatter(64, Op.SUM, true), "messages");
      assert.equal(chooseReduce(8, 8, Op.SUM), "binomial");
      assert.equal(chooseReduce(1 << 20, 8, Op.MAXLOC), "ring");
      assert.equal(chooseReduce(1 << 20, 8, APPEND), "binomial");
    });
  });

  for (const n of SIZES) {
    describe(`${n} rank${n > 1 ? "s" : ""}`, function () {
      it("barrier: nobody leaves before everybody entered; ceil(log2 N) messages per rank", async function () {
        for (const seed of SEEDS) {
          const entered = new Array<boolean>(n).fill(false);
          const { net } = await world(n, seed, async (ch) => {
            for (let i = (ch.rank * 7 + seed) % 4; i > 0; i--) await new Promise((r) => setImmediate(r));
            entered[ch.rank] = true;
            await barrier(ch);
            assert.ok(entered.every(Boolean), `rank ${ch.rank} left before ${entered.indexOf(false)} entered`);
          });
          atMost(net, log2(n), "barrier");
        }
      });

      it("bcastBinomial from every root, into a buffer or a new array", async function () {
        for (const root of range(n)) {
          for (const len of [0, 5]) {
            const data = Uint8Array.from(range(len), (i) => i + root);
            const { results, net } = await world(n, root + len, (ch) =>
              ch.rank === root
                ? bcastBinomial(ch, root, data.slice())
                : len % 2
                  ? bcastBinomial(ch, root, undefined, new Uint8Array(len))
                  : bcastBinomial(ch, root, undefined, undefined, true),
            );
            for (const got of results) assert.deepEqual([...got], [...data], `root ${root}, ${len} bytes`);
            atMost(net, log2(n), "bcastBinomial");
          }
        }
      });

      it("bcastScatterRing from every root, with byte counts shorter than, equal to and longer than N", async function () {
        for (const root of range(n)) {
          for (const len of lengthsFor(n)) {
            const data = Uint8Array.from(range(len), (i) => (i * 13 + root) & 0xff);
            const { results } = await world(n, root * 31 + len, async (ch) => {
              const buf = ch.rank === root ? data.slice() : new Uint8Array(len);
              await bcastScatterRing(ch, root, buf);
              return buf;
            });
            for (const got of results) assert.deepEqual([...got], [...data], `root ${root}, ${len} bytes`);
          }
        }
      });

      it("gatherBlobs and scatterBlobs of blocks of any length, every root", async function () {
        for (const root of range(n)) {
          const g = await world(n, root, (ch) => gatherBlobs(ch, root, blob(ch.rank, 0)));
          g.results.forEach((got, r) =>
            assert.deepEqual(
              got?.map((b) => [...b]),
              r === root ? range(n).map((i) => [...blob(i, 0)]) : undefined,
              `gather at ${root}, rank ${r}`,
            ),
          );
          atMost(g.net, log2(n), "gatherBlobs");
          const s = await world(n, root + 1, (ch) =>
            scatterBlobs(ch, root, ch.rank === root ? range(n).map((i) => blob(root, i)) : undefined),
          );
          s.results.forEach((got, r) => assert.deepEqual([...got], [...blob(root, r)], `scatter from ${root}, rank ${r}`));
          atMost(s.net, log2(n), "scatterBlobs");
        }
      });

      it("gatherArray and scatterArray of 0, 1 and 3 elements per rank, every root", async function () {
        for (const root of range(n)) {
          for (const count of [0, 1, 3]) {
            const g = await world(n, root + count, async (ch) => {
              const recv = ch.rank === root ? new Int16Array(n * count).fill(-1) : null;
              await gatherArray(
                ch,
                root,
                Int16Array.from(range(count), (k) => ch.rank * 10 + k),
                recv,
              );
              return recv;
            });
            assert.deepEqual(
              g.results[root],
              Int16Array.from(range(n * count), (i) => Math.floor(i / count) * 10 + (i % count)),
              `gather ${count} at ${root}`,
            );
            atMost(g.net, log2(n), "gatherArray");
            const whole = Float64Array.from(range(n * count), (i) => i + 0.5);
            const s = await world(n, root * 3 + count, async (ch) => {
              const recv = new Float64Array(count);
              await scatterArray(ch, root, ch.rank === root ? whole : null, recv);
              return recv;
            });
            s.results.forEach((got, r) =>
              assert.deepEqual(got, whole.slice(r * count, (r + 1) * count), `scatter ${count} from ${root} to ${r}`),
            );
            atMost(s.net, log2(n), "scatterArray");
          }
        }
      });

      it("gathervArray and scattervArray with zero counts and reversed displacements with gaps, every root", async function () {
        const counts = range(n).map((i) => i % 3);
        const { displs, length } = layout(counts, "reversed");
        const placed = new Int32Array(length).fill(-1);
        counts.forEach((c, i) =>
          placed.set(
            Int32Array.from(range(c), (k) => i * 100 + k),
            displs[i]!,
          ),
        );
        for (const root of range(n)) {
          const g = await world(n, root, async (ch) => {
            const recv = ch.rank === root ? new Int32Array(length).fill(-1) : null;
            await gathervArray(
              ch,
              root,
              Int32Array.from(range(counts[ch.rank]!), (k) => ch.rank * 100 + k),
              recv,
              counts,
              displs,
            );
            return recv;
          });
          assert.deepEqual(g.results[root], placed, `gatherv at ${root}`);
          const s = await world(n, root + 7, async (ch) => {
            const recv = new Int32Array(counts[ch.rank]!);
            await scattervArray(
              ch,
              root,
              ch.rank === root ? placed : null,
              recv,
              ch.rank === root ? counts : null,
              ch.rank === root ? displs : null,
            );
            return recv;
          });
          s.results.forEach((got, r) =>
            assert.deepEqual(
              got,
              Int32Array.from(range(counts[r]!), (k) => r * 100 + k),
              `scatterv from ${root} to ${r}`,
            ),
          );
        }
      });

      it("allgatherBlobs, allgatherBruck (0, 1, 3 elements) and allgatherRing (any counts, displacements, shifts)", async function () {
        const b = await world(n, 3, (ch) => allgatherBlobs(ch, blob(ch.rank, 1)));
        for (const got of b.results)
          assert.deepEqual(
            got.map((x) => [...x]),
            range(n).map((r) => [...blob(r, 1)]),
          );
        atMost(b.net, log2(n), "allgatherBlobs");
        for (const count of [0, 1, 3]) {
          const k = await world(n, count, async (ch) => {
            const recv = new BigInt64Array(n * count);
            await allgatherBruck(
              ch,
              BigInt64Array.from(range(count), (i) => BigInt(ch.rank) * 2n ** 40n + BigInt(i)),
              recv,
            );
            return recv;
          });
          for (const got of k.results)
            assert.deepEqual(
              got,
              BigInt64Array.from(range(n * count), (i) => BigInt(Math.floor(i / count)) * 2n ** 40n + BigInt(i % count)),
            );
          atMost(k.net, log2(n), "allgatherBruck");
        }
        const counts = range(n).map((i) => (i * 2) % 3);
        const { displs, length } = layout(counts, "reversed");
        const want = new Float32Array(length).fill(-1);
        counts.forEach((c, i) =>
          want.set(
            Float32Array.from(range(c), (j) => i + j / 4),
            displs[i]!,
          ),
        );
        for (const shift of [0, 1, n + 2]) {
          const { results } = await world(n, shift, async (ch) => {
            const recv = new Float32Array(length).fill(-1);
            const b0 = (((ch.rank + shift) % n) + n) % n; // with a shift, rank r starts out holding block r + shift
            recv.set(want.subarray(displs[b0]!, displs[b0]! + counts[b0]!), displs[b0]!);
            await allgatherRing(ch, recv, counts, displs, shift);
            return recv;
          });
          for (const got of results) assert.deepEqual(got, want, `shift ${shift}`);
        }
      });

      it("alltoallBlobs and alltoallArray (per-pair counts, zero included)", async function () {
        const b = await world(n, 5, (ch) =>
          alltoallBlobs(
            ch,
            range(n).map((to) => blob(ch.rank, to)),
          ),
        );
        b.results.forEach((got, me) =>
          assert.deepEqual(
            got.map((x) => [...x]),
            range(n).map((from) => [...blob(from, me)]),
          ),
        );
        const count = (from: number, to: number) => (from + 2 * to) % 3;
        const { results } = await world(n, 6, async (ch) => {
          const me = ch.rank;
          const sc = range(n).map((to) => count(me, to));
          const rc = range(n).map((from) => count(from, me));
          const sd = packedDispls(sc);
          const send = new Uint16Array(sc.reduce((a, c) => a + c, 0));
          sc.forEach((c, to) =>
            send.set(
              range(c).map((k) => me * 100 + to * 10 + k),
              sd[to]!,
            ),
          );
          const recv = new Uint16Array(rc.reduce((a, c) => a + c, 0));
          await alltoallArray(ch, send, sc, sd, recv, rc, packedDispls(rc));
          return recv;
        });
        results.forEach((got, me) =>
          assert.deepEqual(
            [...got],
            range(n).flatMap((from) => range(count(from, me)).map((k) => from * 100 + me * 10 + k)),
          ),
        );
      });

      it("reduceValues folds in rank order at every root (non-commutative, and SUM of strings)", async function () {
        for (const root of range(n)) {
          for (const op of [CONCAT, Op.SUM]) {
            const { results, net } = await world(n, root, (ch) => reduceValues(ch, root, String(ch.rank), op));
            results.forEach((got, r) => assert.equal(got, r === root ? range(n).join("") : undefined, `${op} at ${root}`));
            atMost(net, log2(n), "reduceValues");
          }
        }
      });

      it("reduceArrayBinomial at every root, commutative and not; the send buffer never changes", async function () {
        for (const root of range(n)) {
          for (const len of [0, 1, n + 2]) {
            const sum = await world(n, root + len, async (ch) => {
              const send = ints(ch.rank, len);
              const recv = ch.rank === root ? new Int32Array(len).fill(-1) : null;
              await reduceArrayBinomial(ch, root, send, recv, Op.SUM);
              assert.deepEqual(send, ints(ch.rank, len), "send unchanged");
              return recv;
            });
            assert.deepEqual(sum.results[root], intSum(range(n), len), `SUM of ${len} at ${root}`);
            atMost(sum.net, log2(n), "reduceArrayBinomial");
            const ordered = await world(n, root + 2 * len, async (ch) => {
              const recv = ch.rank === root ? new Float64Array(2 * len).fill(-1) : null;
              await reduceArrayBinomial(ch, root, digitPairs(ch.rank, len), recv, APPEND);
              return recv;
            });
            assert.deepEqual(ordered.results[root], appended(range(n), len), `append of ${len} pairs at ${root}`);
            ordered.results.forEach((got, r) => r !== root && assert.equal(got, null));
          }
        }
      });

      it("reduceScatterRing leaves rank r with block r + shift fully reduced, for uneven and empty blocks, in place or not", async function () {
        for (const len of lengthsFor(n)) {
          for (const [shift, inPlace] of [
            [0, false],
            [1, false],
            [0, true],
            [1, true],
          ] as const) {
            const offsets = splitEven(len, n);
            const { results } = await world(n, len + shift, async (ch) => {
              const src = ints(ch.rank, len);
              const acc = inPlace ? src : new Int32Array(len);
              await reduceScatterRing(ch, src, acc, offsets, Op.SUM, shift);
              if (!inPlace) assert.deepEqual(src, ints(ch.rank, len), "the source stays untouched");
              return acc;
            });
            const want = intSum(range(n), len);
            results.forEach((got, r) => {
              const b = (r + shift) % n;
              assert.deepEqual(
                got.subarray(offsets[b]!, offsets[b + 1]!),
                want.subarray(offsets[b]!, offsets[b + 1]!),
                `${len} elements, shift ${shift}, rank ${r}`,
              );
            });
          }
        }
      });

      it("reduceArrayRing at every root: SUM on any length, MAXLOC pairs kept whole", async function () {
        for (const root of range(n)) {
          for (const len of lengthsFor(n)) {
            const { results } = await world(n, root + len, async (ch) => {
              const recv = ch.rank === root ? new Int32Array(len).fill(-1) : null;
              await reduceArrayRing(ch, root, ints(ch.rank, len), recv, Op.SUM);
              return recv;
            });
            assert.deepEqual(results[root], intSum(range(n), len), `SUM of ${len} at ${root}`);
            const loc = await world(n, root + len + 1, async (ch) => {
              const recv = ch.rank === root ? new Float64Array(2 * len) : null;
              await reduceArrayRing(ch, root, pairs(ch.rank, 2 * len), recv, Op.MAXLOC);
              return recv;
            });
            assert.deepEqual(loc.results[root], maxloc(range(n), 2 * len), `MAXLOC of ${len} pairs at ${root}`);
          }
        }
      });

      it("reduceScatterArray with zero counts: ring for a commutative op, reduce + scatter for a non-commutative one", async function () {
        for (const pattern of [(i: number) => i % 3, (i: number) => (i === n - 1 ? 4 : 0)]) {
          const counts = range(n).map(pattern);
          const displs = packedDispls(counts);
          const total = counts.reduce((a, c) => a + c, 0);
          const sum = await world(n, total, async (ch) => {
            const recv = new Int32Array(counts[ch.rank]!);
            await reduceScatterArray(ch, ints(ch.rank, total), recv, counts, Op.SUM);
            return recv;
          });
          sum.results.forEach((got, r) =>
            assert.deepEqual(got, intSum(range(n), total).slice(displs[r]!, displs[r]! + counts[r]!), `SUM, rank ${r}, counts ${counts}`),
          );
          const pairCounts = counts.map((c) => 2 * c);
          const ordered = await world(n, total + 1, async (ch) => {
            const recv = new Float64Array(pairCounts[ch.rank]!);
            await reduceScatterArray(ch, digitPairs(ch.rank, total), recv, pairCounts, APPEND);
            return recv;
          });
          ordered.results.forEach((got, r) =>
            assert.deepEqual(got, appended(range(n), total).slice(2 * displs[r]!, 2 * (displs[r]! + counts[r]!)), `append, rank ${r}`),
          );
        }
      });

      it("allreduce: values in rank order, gather, ring (uneven, empty and pair-aligned blocks) and reduce-bcast", async function () {
        const v = await world(n, 1, (ch) => allreduceValues(ch, String(ch.rank), CONCAT));
        for (const got of v.results) assert.equal(got, range(n).join(""));
        atMost(v.net, log2(n), "allreduceValues");
        for (const len of lengthsFor(n)) {
          for (const [name, algo] of [
            ["gather", allreduceArrayGather],
            ["ring", allreduceArrayRing],
            ["reduce-bcast", allreduceArrayReduceBcast],
          ] as const) {
            const sum = await world(n, len, async (ch) => {
              const recv = new Int32Array(len).fill(-1);
              await algo(ch, ints(ch.rank, len), recv, Op.SUM);
              return recv;
            });
            for (const got of sum.results) assert.deepEqual(got, intSum(range(n), len), `${name} SUM of ${len}`);
            const loc = await world(n, len + 1, async (ch) => {
              const recv = new Float64Array(2 * len);
              await algo(ch, pairs(ch.rank, 2 * len), recv, Op.MAXLOC);
              return recv;
            });
            for (const got of loc.results) assert.deepEqual(got, maxloc(range(n), 2 * len), `${name} MAXLOC of ${len} pairs`);
            if (name === "ring") continue; // the ring needs a commutative op
            const ordered = await world(n, len + 2, async (ch) => {
              const recv = new Float64Array(2 * len);
              await algo(ch, digitPairs(ch.rank, len), recv, APPEND);
              return recv;
            });
            for (const got of ordered.results) assert.deepEqual(got, appended(range(n), len), `${name} append of ${len} pairs`);
          }
        }
        const inPlace = await world(n, 9, async (ch) => {
          const buf = ints(ch.rank, 2 * n + 1);
          await allreduceArrayRing(ch, buf, buf, Op.SUM);
          return buf;
        });
        for (const got of inPlace.results) assert.deepEqual(got, intSum(range(n), 2 * n + 1), "ring in place");
      });

      it("scanValues and scanArray, inclusive and exclusive, in rank order", async function () {
        for (const exclusive of [false, true]) {
          const v = await world(n, 1, (ch) => scanValues(ch, String(ch.rank), CONCAT, exclusive));
          v.results.forEach((got, r) =>
            assert.equal(got, exclusive ? (r === 0 ? undefined : range(r).join("")) : range(r + 1).join(""), `rank ${r}`),
          );
          atMost(v.net, log2(n), "scanValues");
          const a = await world(n, 2, async (ch) => {
            const recv = new Float64Array(6).fill(-1);
            await scanArray(ch, digitPairs(ch.rank, 3), recv, APPEND, exclusive);
            return recv;
          });
          a.results.forEach((got, r) =>
            assert.deepEqual(
              got,
              exclusive && r === 0 ? new Float64Array(6).fill(-1) : appended(range(exclusive ? r : r + 1), 3),
              `rank ${r}`,
            ),
          );
          atMost(a.net, log2(n), "scanArray");
        }
      });
    });
  }
});
