/**
 * Point-to-point semantics (mpi4py's test_p2p_obj / test_p2p_buf as reference), written for any
 * world size: each rank talks to its ring neighbours (itself on one rank).
 */
import assert from "node:assert/strict";
import type { AnyTypedArray, Case, CaseContext } from "./types.js";
import { ALL_KINDS } from "./types.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const ring = ({ comm }: CaseContext) => ({ right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size });

const KINDS = ALL_KINDS;

function sample(Kind: (typeof KINDS)[number], n: number, seed: number): AnyTypedArray {
  const a = new Kind(n) as AnyTypedArray;
  for (let i = 0; i < n; i++) {
    const v = (i * 37 + seed * 11) % 120;
    a[i] =
      Kind === BigInt64Array
        ? BigInt(v) - 60n
        : Kind === BigUint64Array
          ? BigInt(v) * 1234567890123n
          : Kind === Float32Array || Kind === Float64Array
            ? v / 4 - 7
            : v;
  }
  return a;
}

function codeIs(mpi: CaseContext["mpi"], code: string) {
  return (e: unknown) => e instanceof mpi.TsmpiError && e.code === code;
}

export const cases: Record<string, Case> = {
  async "send/recv around the ring"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    await comm.send({ from: comm.rank, list: [1, "two", { three: 3 }] }, right, 4);
    assert.deepEqual(await comm.recv(left, 4), { from: left, list: [1, "two", { three: 3 }] });
  },

  async "values keep their types: Map, Set, Date, BigInt, Error, undefined, Buffer, nested typed arrays"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    const value = (r: number) => ({
      map: new Map<unknown, unknown>([
        [1, "a"],
        ["k", { r }],
      ]),
      set: new Set([1, "x", r]),
      date: new Date(1_700_000_000_000 + r),
      big: 2n ** 100n + BigInt(r),
      neg: -(2n ** 70n),
      err: new RangeError(`bad ${r}`),
      sparse: [1, undefined, null, 3],
      text: "héllo wörld ✓",
      nums: [NaN, Infinity, -Infinity, 1.5e300, -0.25],
      buf: Buffer.from([r, 1, 2]),
      nested: { f64: new Float64Array([r, 1.5]), i16: new Int16Array([-r, 7]), u64: new BigUint64Array([2n ** 63n]) },
    });
    await comm.send(value(comm.rank), right, 1);
    const got = await comm.recv(left, 1);
    const want = value(left);
    assert.ok(got.map instanceof Map && got.set instanceof Set && got.date instanceof Date);
    assert.deepEqual([...got.map], [...want.map]);
    assert.deepEqual([...got.set], [...want.set]);
    assert.equal(got.date.getTime(), want.date.getTime());
    assert.equal(got.big, want.big);
    assert.equal(got.neg, want.neg);
    assert.ok(got.err instanceof RangeError, `got ${got.err?.constructor?.name}`);
    assert.equal(got.err.message, want.err.message);
    assert.deepEqual(got.sparse, want.sparse);
    assert.ok(1 in got.sparse && got.sparse[1] === undefined);
    assert.equal(got.text, want.text);
    assert.ok(Number.isNaN(got.nums[0]));
    assert.deepEqual(got.nums.slice(1), want.nums.slice(1));
    assert.ok(Buffer.isBuffer(got.buf), "a Buffer stays a Buffer");
    assert.deepEqual([...got.buf], [...want.buf]);
    assert.ok(got.nested.f64 instanceof Float64Array && got.nested.i16 instanceof Int16Array && got.nested.u64 instanceof BigUint64Array);
    assert.deepEqual(got.nested, want.nested);
  },

  async "every TypedArray kind travels intact through send/recv (also as a subarray)"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    for (const Kind of KINDS) {
      const whole = sample(Kind, 37, comm.rank);
      await comm.send(whole, right, 2);
      await comm.send(whole.subarray(3, 11), right, 3);
      const got = await comm.recv(left, 2);
      const sub = await comm.recv(left, 3);
      assert.equal(got.constructor, Kind, `kind ${Kind.name}`);
      assert.deepEqual(got, sample(Kind, 37, left));
      assert.equal(sub.constructor, Kind);
      assert.deepEqual(sub, sample(Kind, 37, left).subarray(3, 11));
      assert.equal(got.byteOffset, 0);
      assert.equal(got.buffer.byteLength, got.byteLength, "the received array owns its buffer exactly");
    }
  },

  async "Send/Recv of every kind fills the caller's array; a larger array gets its prefix filled"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    for (const Kind of KINDS) {
      const out = sample(Kind, 50, comm.rank);
      const reqs = [comm.Isend(out, right, 5), comm.Isend([out, 20], right, 6)];
      const exact = new Kind(50);
      const bigger = new Kind(64) as AnyTypedArray;
      bigger.fill((Kind === BigInt64Array || Kind === BigUint64Array ? 9n : 9) as never);
      const st = new mpi.Status();
      await comm.Recv(exact, left, 5, st);
      assert.equal(st.count, 50);
      assert.equal(st.source, left);
      assert.equal(st.tag, 5);
      await comm.Recv(bigger, left, 6, st);
      assert.equal(st.count, 20, `${Kind.name} count`);
      assert.equal(st.getCount(), 20 * Kind.BYTES_PER_ELEMENT);
      await mpi.Request.waitall(reqs);
      assert.deepEqual(exact, sample(Kind, 50, left));
      assert.deepEqual(bigger.subarray(0, 20), sample(Kind, 50, left).subarray(0, 20));
      assert.ok(
        [...bigger.subarray(20)].every((x: unknown) => x === 9 || x === 9n),
        "elements past the message stay untouched",
      );
    }
  },

  async "a receive buffer that is too small is ERR_TSMPI_TRUNCATE and nothing after it is lost"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    await comm.Send(new Float64Array(10).fill(comm.rank), right, 7);
    await comm.Send(new Float64Array([42, 43]), right, 7);
    await assert.rejects(comm.Recv(new Float64Array(5), left, 7), codeIs(mpi, "ERR_TSMPI_TRUNCATE"));
    const next = new Float64Array(2);
    await comm.Recv(next, left, 7);
    assert.deepEqual([...next], [42, 43]);
  },

  async "messages from one sender are never overtaken (same tag, 200 isends)"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const sends = Array.from({ length: 200 }, (_, i) => comm.isend(i % 3 === 0 ? new Int32Array([i]) : { i }, right, 9));
    for (let i = 0; i < 200; i++) {
      const v = await comm.recv(left, 9);
      assert.equal(v instanceof Int32Array ? v[0] : v.i, i);
    }
    await mpi.Request.waitall(sends);
  },

  async "tags select messages; ANY_TAG takes the oldest; status says source and tag"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    for (const tag of [30, 10, 20, 40]) await comm.send(`t${tag}`, right, tag);
    await comm.barrier();
    assert.equal(await comm.recv(left, 20), "t20");
    assert.equal(await comm.recv(mpi.ANY_SOURCE, 10), "t10");
    const st = new mpi.Status();
    assert.equal(await comm.recv(mpi.ANY_SOURCE, mpi.ANY_TAG, st), "t30");
    assert.equal(st.source, left);
    assert.equal(st.tag, 30);
    assert.ok(st.count > 0 && st.count === st.byteCount);
    assert.equal(await comm.recv(left, mpi.ANY_TAG, st), "t40");
    assert.equal(st.tag, 40);
  },

  async "ANY_SOURCE receives from every rank (all-to-all messages, self included)"(t) {
    const { comm, mpi } = t;
    const sends = Array.from({ length: comm.size }, (_, d) => comm.isend({ from: comm.rank }, d, 11));
    const seen = new Set<number>();
    const st = new mpi.Status();
    for (let i = 0; i < comm.size; i++) {
      const v = await comm.recv(mpi.ANY_SOURCE, 11, st);
      assert.equal(v.from, st.source);
      seen.add(st.source);
    }
    assert.deepEqual(
      [...seen].sort(),
      Array.from({ length: comm.size }, (_, i) => i),
    );
    await mpi.Request.waitall(sends);
  },

  async "a rank sends to itself and then receives (eager send)"(t) {
    const { comm } = t;
    await comm.send("me", comm.rank, 12);
    await comm.Send(new Int16Array([1, 2]), comm.rank, 13);
    assert.equal(await comm.recv(comm.rank, 12), "me");
    const b = new Int16Array(2);
    await comm.Recv(b, comm.rank, 13);
    assert.deepEqual([...b], [1, 2]);
  },

  async "zero-length messages in both tiers"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    await comm.send(new Float64Array(0), right, 14);
    await comm.Send(new Int32Array(0), right, 15);
    await comm.send("", right, 16);
    await comm.send([], right, 16);
    const st = new mpi.Status();
    const a = await comm.recv(left, 14, st);
    assert.ok(a instanceof Float64Array && a.length === 0);
    assert.equal(st.count, 0);
    const b = new Int32Array(3);
    await comm.Recv(b, left, 15, st);
    assert.equal(st.count, 0);
    assert.equal(await comm.recv(left, 16), "");
    assert.deepEqual(await comm.recv(left, 16), []);
  },

  async "PROC_NULL is a no-op everywhere"(t) {
    const { comm, mpi } = t;
    const { PROC_NULL, ANY_TAG } = mpi;
    await comm.send("x", PROC_NULL);
    await comm.ssend("x", PROC_NULL, 3);
    await comm.Send(new Float64Array(3), PROC_NULL);
    const st = new mpi.Status();
    assert.equal(await comm.recv(PROC_NULL, 5, st), undefined);
    assert.deepEqual([st.source, st.tag, st.count], [PROC_NULL, ANY_TAG, 0]);
    const buf = new Float64Array([1, 2, 3]);
    await comm.Recv(buf, PROC_NULL, mpi.ANY_TAG, st);
    assert.deepEqual([...buf], [1, 2, 3]);
    assert.equal(st.source, PROC_NULL);
    assert.ok(comm.isend(1, PROC_NULL).test());
    const r = comm.irecv(PROC_NULL);
    assert.ok(r.test());
    assert.equal(await comm.sendrecv("y", PROC_NULL, 0, PROC_NULL, 0), undefined);
    assert.ok(await comm.probe(PROC_NULL, 0, st));
    assert.equal(st.source, PROC_NULL);
    assert.equal(comm.iprobe(PROC_NULL), true);
  },

  async "a new Status starts as ANY_SOURCE/ANY_TAG/0 and a false iprobe leaves it untouched"(t) {
    const { comm, mpi } = t;
    const st = new mpi.Status();
    assert.deepEqual([st.source, st.tag, st.count], [mpi.ANY_SOURCE, mpi.ANY_TAG, 0]);
    for (let i = 0; i < 5; i++) {
      assert.equal(comm.iprobe(mpi.ANY_SOURCE, 999, st), false);
      await tick();
    }
    assert.deepEqual([st.source, st.tag, st.count], [mpi.ANY_SOURCE, mpi.ANY_TAG, 0]);
  },

  async "probe and iprobe see a message without receiving it"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    await comm.send(new Uint16Array([1, 2, 3]), right, 17);
    const st = new mpi.Status();
    assert.equal(await comm.probe(mpi.ANY_SOURCE, 17, st), true);
    assert.deepEqual([st.source, st.tag, st.count], [left, 17, 3]);
    let spins = 0;
    while (!comm.iprobe(left, 17, st)) {
      await tick();
      if (++spins > 100000) throw new Error("iprobe never saw a probed message");
    }
    assert.deepEqual(await comm.recv(left, 17), new Uint16Array([1, 2, 3]));
    await comm.send("late", right, 18);
    spins = 0;
    while (!comm.iprobe(mpi.ANY_SOURCE, 18)) {
      await tick();
      if (++spins > 100000) throw new Error("iprobe polling loop never saw the message");
    }
    assert.equal(await comm.recv(left, 18), "late");
  },

  async "isend/irecv with waitall: values for receives, undefined for sends"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const r1 = comm.irecv(left, 19);
    const r2 = comm.irecv(left, 20);
    const s1 = comm.isend("a", right, 20);
    const s2 = comm.isend("b", right, 19);
    const statuses = [new mpi.Status(), new mpi.Status(), new mpi.Status(), new mpi.Status()];
    const vals = await mpi.Request.waitall([r1, s1, r2, s2], statuses);
    assert.deepEqual(vals, ["b", undefined, "a", undefined]);
    assert.equal(statuses[0]!.tag, 19);
    assert.equal(statuses[2]!.tag, 20);
    assert.ok(r1.test() && s1.test(), "completed requests test true");
    assert.equal(r1.active, false);
  },

  async "test() is false until complete; waitany skips inactive requests and ends with UNDEFINED"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const a = comm.irecv(left, 21);
    const b = comm.irecv(left, 22);
    assert.equal(a.test(), false);
    assert.deepEqual(mpi.Request.testall([a, b]), [false, undefined]);
    assert.deepEqual(mpi.Request.testany([a, b]), [mpi.UNDEFINED, false, undefined]);
    await comm.barrier(); // nobody sends before every rank checked the above
    await comm.send("second", right, 22);
    const [i, v] = await mpi.Request.waitany([a, b]);
    assert.deepEqual([i, v], [1, "second"]);
    await comm.barrier(); // "first" must not arrive before the waitany above returned
    await comm.send("first", right, 21);
    const [j, w] = await mpi.Request.waitany([a, b]);
    assert.deepEqual([j, w], [0, "first"]);
    assert.deepEqual(await mpi.Request.waitany([a, b]), [mpi.UNDEFINED, undefined]);
    assert.deepEqual(mpi.Request.testany([a, b]), [mpi.UNDEFINED, true, undefined]);
    assert.deepEqual(mpi.Request.testall([a, b]), [true, [undefined, undefined]]);
    assert.equal(await a.wait(), undefined, "an inactive request waits for nothing");
  },

  async "waitsome and testsome return the completed indices"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const reqs = [comm.irecv(left, 23), comm.irecv(left, 24), comm.irecv(left, 25)];
    await comm.send(24, right, 24);
    await comm.send(25, right, 25);
    const [idx, vals] = await mpi.Request.waitsome(reqs);
    assert.ok(idx!.length >= 1 && idx!.every((k) => k === 1 || k === 2));
    assert.deepEqual(
      vals,
      idx!.map((k) => 23 + k),
    );
    while (!reqs[1]!.test() || !reqs[2]!.test()) await tick();
    await comm.barrier(); // tag 23 only after every rank's waitsome above
    await comm.send(23, right, 23);
    let some = mpi.Request.testsome(reqs);
    while (some[0]!.length === 0) {
      await tick();
      some = mpi.Request.testsome(reqs);
    }
    assert.deepEqual(some, [[0], [23]]);
    assert.deepEqual(mpi.Request.testsome(reqs), [undefined, undefined]);
  },

  async "cancel withdraws an unmatched receive; the message goes to the next receive"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const r = comm.irecv(left, 26);
    r.cancel();
    const st = new mpi.Status();
    assert.equal(await r.wait(st), undefined);
    assert.equal(st.cancelled, true);
    assert.ok(st.isCancelled());
    await comm.barrier(); // every rank cancelled before anyone sends
    await comm.send("kept", right, 26);
    assert.equal(await comm.recv(left, 26), "kept");
    const s = comm.isend("sent", right, 27);
    s.cancel();
    await s.wait(st);
    assert.equal(st.cancelled, false, "an eager send is already complete: cancel does nothing");
    assert.equal(await comm.recv(left, 27), "sent");
  },

  async "ssend completes only once the receiver matched the message"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    const s = comm.issend({ sync: comm.rank }, right, 28);
    await (comm.size === 1 ? tick() : comm.sendrecv("ready?", left, 29, right, 29));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.test(), false, "no receive was posted yet");
    await comm.barrier();
    assert.deepEqual(await comm.recv(left, 28), { sync: left });
    await s.wait();
    assert.ok(s.test());
    const r30 = comm.irecv(left, 30);
    await comm.ssend("blocking form", right, 30);
    assert.equal(await r30.wait(), "blocking form");
  },

  async "ssend to a rank that receives it later (blocking form)"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    const recv = comm.irecv(left, 31);
    await comm.ssend(comm.rank, right, 31);
    assert.equal(await recv.wait(), left);
    const bufRecv = comm.Irecv(new Int8Array(4), left, 32);
    await comm.Ssend(new Int8Array([1, 2, 3, 4]), right, 32);
    await bufRecv.wait();
  },

  async "sendrecv exchanges with both neighbours without deadlock"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    const st = new mpi.Status();
    assert.equal(await comm.sendrecv(`from ${comm.rank}`, right, 33, left, 33, st), `from ${left}`);
    assert.equal(st.source, left);
    const out = new Float32Array(4);
    await comm.Sendrecv(new Float32Array(4).fill(comm.rank), right, 34, out, left, 34);
    assert.deepEqual([...out], [left, left, left, left]);
    const rep = new Int32Array([comm.rank, comm.rank * 2]);
    await comm.Sendrecv_replace(rep, right, 35, left, 35);
    assert.deepEqual([...rep], [left, left * 2]);
  },

  async "a typed array sent with Send is received by recv as that kind, and an object by Recv is ERR_TSMPI_TYPE"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    await comm.Send(new Uint32Array([7, 8]), right, 36);
    await comm.send({ not: "an array" }, right, 37);
    await comm.send("after", right, 37);
    assert.deepEqual(await comm.recv(left, 36), new Uint32Array([7, 8]));
    await assert.rejects(comm.Recv(new Uint8Array(100), left, 37), codeIs(mpi, "ERR_TSMPI_TYPE"));
    assert.equal(await comm.recv(left, 37), "after", "the bad match consumed only its own message");
  },

  async "a small Send resolves at once, and overwriting its buffer then changes nothing the receiver gets"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    for (const n of [1, 1000, 8000]) {
      const out = Int32Array.from({ length: n }, (_, i) => i * 3 + comm.rank);
      await comm.Send(out, right, 35); // eager: the array is ours again at once
      out.fill(-1);
      const got = new Int32Array(n);
      await comm.Recv(got, left, 35);
      assert.deepEqual(
        got,
        Int32Array.from({ length: n }, (_, i) => i * 3 + left),
        `${n} elements`,
      );
    }
  },

  async "a large Send (64 MiB) arrives intact, and the sender may reuse its buffer once Send resolves"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    const n = 8 * 1024 * 1024;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 4099) out[i] = i + comm.rank;
    const recv = comm.Irecv(new Float64Array(n), left, 38);
    await comm.Send(out, right, 38);
    out.fill(-1); // MPI: the buffer is ours again once Send returned
    await recv.wait();
    const got = new Float64Array(n);
    const again = comm.Irecv(got, left, 39);
    const src = new Float64Array(n);
    for (let i = 0; i < n; i += 4099) src[i] = i * 2 + comm.rank;
    const s = comm.Isend(src, right, 39);
    await s.wait();
    src.fill(-2);
    await again.wait();
    for (let i = 0; i < n; i += 4099) assert.equal(got[i], i * 2 + left);
    assert.equal(got[1], 0);
  },

  async "a large object-tier typed array (16 MiB) and a large object (a 2 MiB string) arrive intact"(t) {
    const { comm } = t;
    const { right, left } = ring(t);
    const arr = new Int32Array(4 * 1024 * 1024).map((_, i) => i ^ comm.rank);
    const text = "x".repeat(2 * 1024 * 1024) + comm.rank;
    await comm.send(arr, right, 40);
    arr.fill(0); // the send copied it
    await comm.send({ text }, right, 41);
    const got = await comm.recv(left, 40);
    assert.equal(got.length, arr.length);
    assert.ok(got.every((v: number, i: number) => v === (i ^ left)));
    assert.equal((await comm.recv(left, 41)).text, "x".repeat(2 * 1024 * 1024) + left);
  },

  async "bad arguments reject with a TsmpiError code naming the argument"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    await assert.rejects(comm.send(1, n), codeIs(mpi, "ERR_TSMPI_RANK"));
    await assert.rejects(comm.send(1, -7), codeIs(mpi, "ERR_TSMPI_RANK"));
    await assert.rejects(comm.send(1, 0.5), codeIs(mpi, "ERR_TSMPI_RANK"));
    await assert.rejects(comm.send(1, mpi.ANY_SOURCE), codeIs(mpi, "ERR_TSMPI_RANK"));
    await assert.rejects(comm.send(1, 0, -1), codeIs(mpi, "ERR_TSMPI_TAG"));
    await assert.rejects(comm.send(1, 0, mpi.ANY_TAG), codeIs(mpi, "ERR_TSMPI_TAG"));
    await assert.rejects(comm.send(1, 0, mpi.TAG_UB + 1), codeIs(mpi, "ERR_TSMPI_TAG"));
    await assert.rejects(comm.recv(n), codeIs(mpi, "ERR_TSMPI_RANK"));
    await assert.rejects(comm.recv(0, -5), codeIs(mpi, "ERR_TSMPI_TAG"));
    await assert.rejects(comm.Send([1, 2, 3] as never, 0), codeIs(mpi, "ERR_TSMPI_TYPE"));
    await assert.rejects(comm.Send(new DataView(new ArrayBuffer(8)) as never, 0), codeIs(mpi, "ERR_TSMPI_TYPE"));
    await assert.rejects(comm.Send([new Float64Array(2), 3], 0), codeIs(mpi, "ERR_TSMPI_COUNT"));
    await assert.rejects(comm.Recv("nope" as never, 0), codeIs(mpi, "ERR_TSMPI_TYPE"));
    await assert.rejects(
      comm.send(() => 1, 0),
      codeIs(mpi, "ERR_TSMPI_TYPE"),
    );
    await assert.rejects(comm.send({ nested: [1, function named() {}] }, 0), codeIs(mpi, "ERR_TSMPI_TYPE"));
    await assert.rejects(comm.send(Symbol("s"), 0), codeIs(mpi, "ERR_TSMPI_TYPE"));
    assert.throws(() => comm.isend(1, n + 3), codeIs(mpi, "ERR_TSMPI_RANK"));
    assert.throws(() => comm.irecv(0, 1.5), codeIs(mpi, "ERR_TSMPI_TAG"));
    assert.throws(() => comm.iprobe(n), codeIs(mpi, "ERR_TSMPI_RANK"));
    try {
      await comm.send(1, n + 2);
    } catch (e) {
      assert.match((e as Error).message, new RegExp(`dest.*\\[0, ${n}\\).*${n + 2}`));
    }
    assert.throws(() => comm.abort(1.5), codeIs(mpi, "ERR_TSMPI_ARG"));
  },

  async "one rank's messages keep their order across tags when received with ANY_TAG"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(t);
    for (let i = 0; i < 20; i++) {
      if (i % 2) await comm.send(i, right, 100 + i);
      else await comm.Send(new Int32Array([i]), right, 100 + i);
    }
    for (let i = 0; i < 20; i++) {
      const v = await comm.recv(left, mpi.ANY_TAG);
      assert.equal(typeof v === "number" ? v : v[0], i);
    }
    await sleep(0);
  },
};
