/**
 * DeviceArrays in every buffer-tier call, written for any world size. Each call runs on the same
 * inputs with host arrays (the reference) and then with DeviceArrays in four placements: every
 * array, only the send buffer, only the receive buffers, and every array on even ranks only
 * (host arrays on the odd ones). Every array, read back from the device, must end as in the host
 * run, and the call must report the same (a receive's status); receive arrays start filled with
 * a sentinel, so a write outside what the call defines shows. On the "cpu" backend DeviceArrays
 * live in host memory; the mocha side runs this suite again on a GPU where there is one
 * (TSMPI_TEST_BACKEND says which backend the run expects).
 */
import assert from "node:assert/strict";
import type { DeviceArray } from "tsmpi";
import type { AnyTypedArray, Case, CaseContext } from "./types.js";
import { ALL_KINDS } from "./types.js";

type Mpi = CaseContext["mpi"];
type Comm = CaseContext["comm"];
type Kind = (typeof KINDS)[number];

const KINDS = ALL_KINDS;
const SENTINEL = -7;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const ring = (comm: Comm) => ({ right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size });

/** `length` elements of `K` that depend on `rank` and `salt`: small, so every kind and op stays exact. */
function series<K extends Kind>(rank: number, K: K, length: number, salt = 0): InstanceType<K> {
  const a = new K(length) as AnyTypedArray;
  for (let i = 0; i < length; i++) {
    const v = ((rank * 31 + i * 7 + salt * 13) % 23) - (K.name.includes("Uint") ? 0 : 9);
    a[i] = K === BigInt64Array || K === BigUint64Array ? BigInt(v) : K === Float32Array || K === Float64Array ? v / 4 : v;
  }
  return a as InstanceType<K>;
}

/** `length` elements of `K` set to the sentinel. */
function sentinels<K extends Kind>(K: K, length: number): InstanceType<K> {
  return new K(length).fill((K === BigInt64Array || K === BigUint64Array ? BigInt(SENTINEL) : SENTINEL) as never) as InstanceType<K>;
}

/** How one run places the arrays of a call (argument 0 is the send buffer). */
const PLACEMENTS = {
  "every array on the device": () => true,
  "device send, host receive": (i: number) => i === 0,
  "host send, device receive": (i: number) => i > 0,
  "device on even ranks, host on odd": (_i: number, rank: number) => rank % 2 === 0,
} satisfies Record<string, (i: number, rank: number) => boolean>;

/** The typed array or DeviceArray inside a buffer argument, or null (for IN_PLACE and null). */
function arrayIn(arg: unknown): AnyTypedArray | DeviceArray | null {
  if (arg === null || typeof arg === "symbol") return null;
  return (Array.isArray(arg) ? arg[0] : arg) as AnyTypedArray | DeviceArray;
}

/** `arg` in the same form with its typed array copied into a new DeviceArray. */
function onDevice(mpi: Mpi, arg: unknown): unknown {
  const array = arrayIn(arg);
  if (array === null) return arg;
  const device = mpi.DeviceArray.from(array as AnyTypedArray); // make() builds host arrays
  return Array.isArray(arg) ? [device, ...arg.slice(1)] : device;
}

/** The contents of an argument's array, as a host typed array (null for IN_PLACE and null). */
function contents(mpi: Mpi, arg: unknown): unknown {
  const array = arrayIn(arg);
  return mpi.isDeviceArray(array) ? array.toHost() : array;
}

/**
 * Runs `call` on buffers from `make` with host arrays, then once per placement with DeviceArrays,
 * and asserts that every array ends, and `call` returns, as in the host run.
 */
async function mirror(
  { mpi, comm }: CaseContext,
  what: string,
  make: () => unknown[],
  // biome-ignore lint/suspicious/noExplicitAny: each case's `call` hands its `bufs` (host or device, arrays, tuples, IN_PLACE) to a different tsmpi call; no one type fits them all
  call: (bufs: any[]) => Promise<unknown>,
): Promise<void> {
  const reference = make();
  const expected = await call(reference);
  for (const [placement, device] of Object.entries(PLACEMENTS)) {
    const bufs = make().map((arg, i) => (device(i, comm.rank) ? onDevice(mpi, arg) : arg));
    const got = await call(bufs);
    bufs.forEach((arg, i) =>
      assert.deepEqual(contents(mpi, arg), contents(mpi, reference[i]), `${what}, ${placement}: argument ${i} differs from the host run`),
    );
    assert.deepEqual(got, expected, `${what}, ${placement}: the result differs from the host run`);
    for (const arg of bufs) {
      const array = arrayIn(arg);
      if (mpi.isDeviceArray(array)) array.free();
    }
  }
}

/** A receive's status as `[source, tag, count]`. */
async function received(
  mpi: Mpi,
  receive: (status: InstanceType<Mpi["Status"]>) => Promise<unknown>,
  ...others: Promise<unknown>[]
): Promise<number[]> {
  const st = new mpi.Status();
  await Promise.all([receive(st), ...others]);
  return [st.source, st.tag, st.count];
}

/** "ok" when `p` resolves, else the TsmpiError's code (or the foreign error's name and message). */
async function outcome(mpi: Mpi, p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "ok";
  } catch (e) {
    return e instanceof mpi.TsmpiError ? e.code : `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

/** The outcome of `call` on every rank (gathered with a collective, so the communicator must still work). */
async function outcomes(t: CaseContext, call: () => unknown): Promise<string[]> {
  return t.comm.allgather(await outcome(t.mpi, call));
}

export const cases: Record<string, Case> = {
  async "DeviceArrays live on the backend the run expects; cuda comes from tsmpi and is this rank's"({ mpi }) {
    const { cuda } = mpi;
    const expected = process.env.TSMPI_TEST_BACKEND;
    if (expected) assert.equal(cuda.backend, expected, `backend (${cuda.reason})`);
    assert.equal(mpi.DeviceArray.from(new Float64Array(2)).backend, cuda.backend);
    assert.equal(cuda.available, cuda.backend === "cuda");
    if (cuda.available) {
      assert.equal(cuda.device, mpi.localRank().rank % cuda.deviceCount);
      assert.equal(cuda.deviceInfo().index, cuda.device);
    } else {
      assert.equal(cuda.device, null);
      assert.equal(cuda.deviceCount, 0);
    }
  },

  async "Send/Recv, Isend/Irecv, Ssend and Issend around the ring, every kind"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(comm);
    for (const K of KINDS) {
      const make = () => [series(comm.rank, K, 9), sentinels(K, 9)];
      await mirror(t, `Send/Recv ${K.name}`, make, ([s, r]) => received(mpi, (st) => comm.Recv(r, left, 1, st), comm.Send(s, right, 1)));
    }
    const make = () => [series(comm.rank, Float64Array, 6), sentinels(Float64Array, 6)];
    await mirror(t, "Isend/Irecv", make, ([s, r]) =>
      received(mpi, (st) => comm.Irecv(r, left, 2).wait(st), comm.Isend(s, right, 2).wait()),
    );
    await mirror(t, "Ssend/Recv", make, ([s, r]) => received(mpi, (st) => comm.Recv(r, left, 3, st), comm.Ssend(s, right, 3)));
    await mirror(t, "Issend/Irecv", make, ([s, r]) =>
      received(mpi, (st) => comm.Irecv(r, left, 4).wait(st), comm.Issend(s, right, 4).wait()),
    );
  },

  async "[array, count]: a Recv of 3 elements into 10 writes only the first 3 device elements"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(comm);
    const make = () => [[series(comm.rank, Int32Array, 8), 3], sentinels(Int32Array, 10)];
    await mirror(t, "Send [array, 3] / Recv 10", make, ([s, r]) =>
      received(mpi, (st) => comm.Recv(r, left, 5, st), comm.Send(s, right, 5)),
    );
    await mirror(
      t,
      "Send [array, 3] / Recv [array, 6]",
      () => [
        [series(comm.rank, Int32Array, 8), 3],
        [sentinels(Int32Array, 10), 6],
      ],
      ([s, r]) => received(mpi, (st) => comm.Recv(r, left, 6, st), comm.Send(s, right, 6)),
    );
    const d = mpi.DeviceArray.from(sentinels(Float32Array, 10));
    const st = new mpi.Status();
    await Promise.all([comm.Send([series(comm.rank, Float32Array, 5), 3], right, 7), comm.Recv(d, left, 7, st)]);
    assert.equal(st.count, 3);
    const expected = sentinels(Float32Array, 10);
    expected.set(series(left, Float32Array, 3));
    assert.deepEqual(d.toHost(), expected);
  },

  async "Sendrecv and Sendrecv_replace"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(comm);
    const make = () => [series(comm.rank, Float64Array, 5), sentinels(Float64Array, 7)];
    await mirror(t, "Sendrecv", make, ([s, r]) => received(mpi, (st) => comm.Sendrecv(s, right, 8, r, left, 8, st)));
    await mirror(
      t,
      "Sendrecv [array, count]",
      () => [
        [series(comm.rank, Uint16Array, 5), 2],
        [sentinels(Uint16Array, 7), 4],
      ],
      ([s, r]) => received(mpi, (st) => comm.Sendrecv(s, right, 9, r, left, 9, st)),
    );
    await mirror(
      t,
      "Sendrecv_replace",
      () => [series(comm.rank, BigInt64Array, 4)],
      ([b]) => received(mpi, (st) => comm.Sendrecv_replace(b, right, 10, left, 10, st)),
    );
    await mirror(
      t,
      "Sendrecv_replace [array, count]",
      () => [[series(comm.rank, Int8Array, 6), 4]],
      ([b]) => received(mpi, (st) => comm.Sendrecv_replace(b, right, 11, left, 11, st)),
    );
  },

  async "a large DeviceArray (2.4 MB, sent in pieces) through Send/Recv and Allreduce"(t) {
    const { comm, mpi } = t;
    const { right, left } = ring(comm);
    const n = 300_000;
    await mirror(
      t,
      "large Send/Recv",
      () => [series(comm.rank, Float64Array, n), sentinels(Float64Array, n)],
      ([s, r]) => received(mpi, (st) => comm.Recv(r, left, 12, st), comm.Send(s, right, 12)),
    );
    await mirror(
      t,
      "large Allreduce",
      () => [series(comm.rank, Float64Array, n), sentinels(Float64Array, n)],
      ([s, r]) => comm.Allreduce(s, r, mpi.Op.SUM),
    );
  },

  async "DeviceArray and host messages keep their order; PROC_NULL moves nothing; a cancelled Irecv leaves the array alone"({ comm, mpi }) {
    const { right, left } = ring(comm);
    const sends = range(12).map((i) => {
      const data = new Int32Array([comm.rank, i]);
      return i % 2 ? comm.Isend(mpi.DeviceArray.from(data), right, 13) : comm.Isend(data, right, 13);
    });
    for (let i = 0; i < 12; i++) {
      const into = i % 3 ? new Int32Array(2) : mpi.DeviceArray.from(new Int32Array(2));
      await comm.Recv(into, left, 13);
      assert.deepEqual(mpi.isDeviceArray(into) ? into.toHost() : into, new Int32Array([left, i]), `message ${i}`);
    }
    await mpi.Request.waitall(sends);

    const d = mpi.DeviceArray.from(sentinels(Float64Array, 4));
    const st = new mpi.Status();
    await comm.Recv(d, mpi.PROC_NULL, 0, st);
    assert.equal(st.source, mpi.PROC_NULL);
    await comm.Send(d, mpi.PROC_NULL, 0);
    const r = comm.Irecv(d, left, 14);
    r.cancel();
    await r.wait(st);
    assert.equal(st.cancelled, true);
    assert.deepEqual(d.toHost(), sentinels(Float64Array, 4));
  },

  async "Bcast, Ibcast, Scatter, Gather, Reduce, Scatterv and Gatherv at every root; non-roots' unused arrays untouched"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    const me = comm.rank;
    for (const root of range(n)) {
      const at = `at root ${root}`;
      await mirror(
        t,
        `Bcast ${at}`,
        () => [me === root ? series(comm.rank, Float32Array, 5) : sentinels(Float32Array, 5)],
        ([b]) => comm.Bcast(b, root),
      );
      await mirror(
        t,
        `Bcast [array, count] ${at}`,
        () => [[me === root ? series(comm.rank, Int16Array, 6) : sentinels(Int16Array, 6), 4]],
        ([b]) => comm.Bcast(b, root),
      );
      await mirror(
        t,
        `Ibcast ${at}`,
        () => [me === root ? series(comm.rank, Float64Array, 3) : sentinels(Float64Array, 3)],
        ([b]) => comm.Ibcast(b, root).wait(),
      );
      // non-roots pass a send array too: it is ignored there, and must stay as it is
      await mirror(
        t,
        `Scatter ${at}`,
        () => [series(comm.rank, Int32Array, 2 * n), sentinels(Int32Array, 2)],
        ([s, r]) => comm.Scatter(s, r, root),
      );
      await mirror(
        t,
        `Gather ${at}`,
        () => [series(comm.rank, Int32Array, 2), sentinels(Int32Array, 2 * n)],
        ([s, r]) => comm.Gather(s, r, root),
      );
      await mirror(
        t,
        `Gather IN_PLACE ${at}`,
        () => [me === root ? mpi.IN_PLACE : series(comm.rank, Int32Array, 2), series(comm.rank, Int32Array, 2 * n, 1)],
        ([s, r]) => comm.Gather(s, r, root),
      );
      await mirror(
        t,
        `Reduce ${at}`,
        () => [series(comm.rank, Float64Array, 4), sentinels(Float64Array, 4)],
        ([s, r]) => comm.Reduce(s, r, mpi.Op.SUM, root),
      );
      await mirror(
        t,
        `Reduce MAX [array, count] ${at}`,
        () => [
          [series(comm.rank, Int32Array, 6), 3],
          [sentinels(Int32Array, 5), 3],
        ],
        ([s, r]) => comm.Reduce(s, r, mpi.Op.MAX, root),
      );
      await mirror(
        t,
        `Reduce IN_PLACE ${at}`,
        () => [me === root ? mpi.IN_PLACE : series(comm.rank, Int32Array, 3), series(comm.rank, Int32Array, 3)],
        ([s, r]) => comm.Reduce(s, r, mpi.Op.SUM, root),
      );
      // v-variants with gaps between the blocks: the gaps keep their contents
      const counts = range(n).map((r) => r + 1);
      const displs = range(n).map((r) => r * (n + 2));
      const span = n * (n + 2);
      await mirror(
        t,
        `Scatterv ${at}`,
        () => [[series(comm.rank, Uint32Array, span), counts, displs], sentinels(Uint32Array, me + 1)],
        ([s, r]) => comm.Scatterv(s, r, root),
      );
      await mirror(
        t,
        `Gatherv ${at}`,
        () => [series(comm.rank, Uint32Array, me + 1), [sentinels(Uint32Array, span), counts, displs]],
        ([s, r]) => comm.Gatherv(s, r, root),
      );
    }
    // explicitly: a non-root's Reduce receive DeviceArray is never written
    const recv = mpi.DeviceArray.from(sentinels(Float64Array, 3));
    await comm.Reduce(mpi.DeviceArray.from(series(comm.rank, Float64Array, 3)), recv, mpi.Op.SUM, n - 1);
    if (me !== n - 1) assert.deepEqual(recv.toHost(), sentinels(Float64Array, 3));
  },

  async "Allgather, Alltoall, Allreduce, Iallreduce, Reduce_scatter_block, Reduce_scatter, Scan, Exscan, Allgatherv, Alltoallv; IN_PLACE"(
    t,
  ) {
    const { comm, mpi } = t;
    const n = comm.size;
    const me = comm.rank;
    const { SUM, MAX, PROD } = mpi.Op;
    await mirror(
      t,
      "Allgather",
      () => [series(comm.rank, Float32Array, 3), sentinels(Float32Array, 3 * n)],
      ([s, r]) => comm.Allgather(s, r),
    );
    await mirror(
      t,
      "Allgather IN_PLACE",
      () => [mpi.IN_PLACE, series(comm.rank, Float32Array, 3 * n)],
      ([s, r]) => comm.Allgather(s, r),
    );
    await mirror(
      t,
      "Alltoall",
      () => [series(comm.rank, Int16Array, 2 * n), sentinels(Int16Array, 2 * n)],
      ([s, r]) => comm.Alltoall(s, r),
    );
    for (const K of KINDS) {
      await mirror(
        t,
        `Allreduce SUM ${K.name}`,
        () => [series(comm.rank, K, 5), sentinels(K, 5)],
        ([s, r]) => comm.Allreduce(s, r, SUM),
      );
    }
    await mirror(
      t,
      "Allreduce MAX [array, count]",
      () => [
        [series(comm.rank, Int32Array, 7), 4],
        [sentinels(Int32Array, 6), 4],
      ],
      ([s, r]) => comm.Allreduce(s, r, MAX),
    );
    await mirror(
      t,
      "Allreduce IN_PLACE",
      () => [mpi.IN_PLACE, series(comm.rank, Float64Array, 4)],
      ([s, r]) => comm.Allreduce(s, r, SUM),
    );
    await mirror(
      t,
      "Iallreduce",
      () => [series(comm.rank, Float64Array, 4), sentinels(Float64Array, 4)],
      ([s, r]) => comm.Iallreduce(s, r, PROD).wait(),
    );
    await mirror(
      t,
      "Reduce_scatter_block",
      () => [series(comm.rank, Int32Array, 2 * n), sentinels(Int32Array, 2)],
      ([s, r]) => comm.Reduce_scatter_block(s, r, SUM),
    );
    const counts = range(n).map((r) => (r % 2) + 1);
    const total = counts.reduce((a, b) => a + b, 0);
    // a receive array longer than this rank's count: the rest keeps its contents
    await mirror(
      t,
      "Reduce_scatter",
      () => [series(comm.rank, Int32Array, total), sentinels(Int32Array, 3)],
      ([s, r]) => comm.Reduce_scatter(s, r, counts, SUM),
    );
    await mirror(
      t,
      "Scan",
      () => [series(comm.rank, Float64Array, 3), sentinels(Float64Array, 3)],
      ([s, r]) => comm.Scan(s, r, SUM),
    );
    await mirror(
      t,
      "Scan IN_PLACE",
      () => [mpi.IN_PLACE, series(comm.rank, Float64Array, 3)],
      ([s, r]) => comm.Scan(s, r, MAX),
    );
    // rank 0's Exscan receive array is untouched (and, with IN_PLACE, its operand)
    await mirror(
      t,
      "Exscan",
      () => [series(comm.rank, Int32Array, 3), sentinels(Int32Array, 3)],
      ([s, r]) => comm.Exscan(s, r, SUM),
    );
    await mirror(
      t,
      "Exscan IN_PLACE",
      () => [mpi.IN_PLACE, series(comm.rank, Int32Array, 3)],
      ([s, r]) => comm.Exscan(s, r, SUM),
    );
    const vcounts = range(n).map((r) => r + 1);
    const vdispls = range(n).map((r) => r * (n + 2));
    const span = n * (n + 2);
    await mirror(
      t,
      "Allgatherv",
      () => [series(comm.rank, Float64Array, me + 1), [sentinels(Float64Array, span), vcounts, vdispls]],
      ([s, r]) => comm.Allgatherv(s, r),
    );
    // rank r sends (r + j) % 3 elements to rank j, with gaps on both sides
    const sendCounts = range(n).map((j) => (me + j) % 3);
    const recvCounts = range(n).map((i) => (i + me) % 3);
    const gapped = (c: number[]) => c.map((_, i) => i * 4);
    await mirror(
      t,
      "Alltoallv",
      () => [
        [series(comm.rank, Int8Array, 4 * n), sendCounts, gapped(sendCounts)],
        [sentinels(Int8Array, 4 * n), recvCounts, gapped(recvCounts)],
      ],
      ([s, r]) => comm.Alltoallv(s, r),
    );
  },

  async "errors keep their codes: ERR_TSMPI_TRUNCATE, ERR_TSMPI_COUNT, ERR_TSMPI_TYPE, ERR_TSMPI_ARG after free()"({ comm, mpi }) {
    const { right, left } = ring(comm);
    const small = mpi.DeviceArray.from(sentinels(Float64Array, 3));
    const [sent, got] = await Promise.all([
      outcome(mpi, comm.Send(series(comm.rank, Float64Array, 5), right, 15)),
      outcome(mpi, comm.Recv(small, left, 15)),
    ]);
    assert.deepEqual([sent, got], ["ok", "ERR_TSMPI_TRUNCATE"]);
    assert.deepEqual(small.toHost(), sentinels(Float64Array, 3), "a truncated receive writes nothing");
    const d = mpi.DeviceArray.from(new Float64Array(10));
    assert.equal(await outcome(mpi, comm.Send([d, 11], right, 16)), "ERR_TSMPI_COUNT");
    assert.equal(await outcome(mpi, () => comm.Isend([d, -1], right, 16)), "ERR_TSMPI_COUNT");
    assert.equal(await outcome(mpi, () => comm.Irecv([d, 1.5], left, 16)), "ERR_TSMPI_COUNT");
    assert.equal(await outcome(mpi, comm.Send([d] as never, right, 16)), "ERR_TSMPI_TYPE");
    assert.equal(await outcome(mpi, comm.Send(d, comm.size, 16)), "ERR_TSMPI_RANK");
    // every rank passes mismatched kinds: each rejects by itself
    assert.equal(await outcome(mpi, comm.Allreduce(d, mpi.DeviceArray.from(new Int32Array(10)), mpi.Op.SUM)), "ERR_TSMPI_TYPE");
    assert.equal(await outcome(mpi, comm.Allgather(d, mpi.cuda.empty(Float64Array, 10 * comm.size + 1))), "ERR_TSMPI_COUNT");
    const freed = mpi.DeviceArray.from(new Float64Array(2));
    freed.free();
    assert.equal(await outcome(mpi, comm.Send(freed, right, 16)), "ERR_TSMPI_ARG");
    assert.equal(await outcome(mpi, () => comm.Irecv(freed, left, 16)), "ERR_TSMPI_ARG");
    assert.equal(await outcome(mpi, comm.Allreduce(freed, new Float64Array(2), mpi.Op.SUM)), "ERR_TSMPI_ARG");
    assert.equal(comm.iprobe(mpi.ANY_SOURCE, 16), false, "no message left from the failed sends");
  },

  async "a bad DeviceArray on one rank fails the collective on every rank, without a hang"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    const last = comm.rank === n - 1;
    const freed = mpi.DeviceArray.from(new Int32Array(4));
    freed.free();
    const mine = () => (last ? freed : mpi.DeviceArray.from(new Int32Array(4)));
    assert.deepEqual(
      await outcomes(t, () => comm.Allreduce(mine(), mpi.cuda.empty(Int32Array, 4), mpi.Op.SUM)),
      range(n).map(() => "ERR_TSMPI_ARG"),
      "Allreduce, last rank's send array freed",
    );
    for (const root of range(n)) {
      const isRoot = comm.rank === root;
      const buf = mpi.DeviceArray.from(new Float64Array(4));
      assert.deepEqual(
        await outcomes(t, () => comm.Bcast(isRoot ? [buf, 5] : buf, root)),
        range(n).map(() => "ERR_TSMPI_COUNT"),
        `Bcast, root ${root} count too large`,
      );
      const recv = isRoot ? mpi.cuda.empty(Int32Array, 4 * n) : null;
      const send = last ? freed : mpi.DeviceArray.from(new Int32Array(4));
      const all = await outcomes(t, () => comm.Gather(send, recv, root));
      assert.equal(all[n - 1], "ERR_TSMPI_ARG", `Gather at root ${root}: ${all}`);
      assert.ok(
        all.every((o) => o === "ok" || o === "ERR_TSMPI_ARG") && (n === 1 || all[root] === "ERR_TSMPI_ARG"),
        `Gather at root ${root}: ${all}`,
      );
    }
    // one rank's DeviceArray one element longer: somebody rejects, nobody hangs
    const sizes = await outcomes(t, () =>
      comm.Allreduce(mpi.cuda.empty(Float32Array, last && n > 1 ? 6 : 5), mpi.cuda.empty(Float32Array, last && n > 1 ? 6 : 5), mpi.Op.SUM),
    );
    assert.ok(
      sizes.every((o) => o === "ok" || o.startsWith("ERR_TSMPI_")) && (n === 1 || sizes.some((o) => o !== "ok")),
      `Allreduce of mismatched lengths: ${sizes}`,
    );
    assert.equal(await comm.allreduce(1, mpi.Op.SUM), n, "the communicator still works");
  },

  async "lowercase (object) calls refuse a DeviceArray with ERR_TSMPI_TYPE on every rank"(t) {
    const { comm, mpi } = t;
    const n = comm.size;
    const { right, left } = ring(comm);
    const d = mpi.DeviceArray.from(new Float64Array([1, 2]));
    const every = (all: string[], what: string) =>
      assert.deepEqual(
        all,
        range(n).map(() => "ERR_TSMPI_TYPE"),
        what,
      );
    for (const [name, call] of Object.entries({
      send: () => comm.send(d, right, 17),
      isend: () => comm.isend(d, right, 17),
      ssend: () => comm.ssend(d, right, 17),
      issend: () => comm.issend(d, right, 17),
      "send to self": () => comm.send(d, comm.rank, 17),
      sendrecv: () => comm.sendrecv(d, right, 17, left, 17),
    })) {
      assert.equal(await outcome(mpi, call), "ERR_TSMPI_TYPE", name);
    }
    assert.equal(comm.iprobe(mpi.ANY_SOURCE, 17), false, "nothing was sent");
    // the failed sendrecv withdrew its receive: the next message with its tag goes to a new one
    await comm.barrier();
    await comm.send("after", right, 17);
    assert.equal(await comm.recv(left, 17), "after");
    every(await outcomes(t, () => comm.bcast(d, 0)), "bcast");
    every(await outcomes(t, () => comm.ibcast(comm.rank === n - 1 ? d : null, n - 1).wait()), "ibcast, root's value a DeviceArray");
    every(await outcomes(t, () => comm.scatter(comm.rank === 0 ? range(n).map(() => d) : null, 0)), "scatter");
    every(await outcomes(t, () => comm.gather(d, 0)), "gather");
    every(await outcomes(t, () => comm.allgather(d)), "allgather");
    every(await outcomes(t, () => comm.alltoall(range(n).map(() => d))), "alltoall");
    every(await outcomes(t, () => comm.reduce(d, mpi.Op.SUM, 0)), "reduce");
    every(await outcomes(t, () => comm.allreduce(d, mpi.Op.SUM)), "allreduce");
    every(await outcomes(t, () => comm.iallreduce(comm.rank === 0 ? d : 1, mpi.Op.SUM).wait()), "iallreduce, rank 0's value a DeviceArray");
    every(await outcomes(t, () => comm.scan(d, mpi.Op.SUM)), "scan");
    every(await outcomes(t, () => comm.exscan(d, mpi.Op.SUM)), "exscan");
    // the fix works: the buffer-tier call, or a host copy
    await comm.send(d.toHost(), comm.rank, 18);
    assert.deepEqual(await comm.recv(comm.rank, 18), new Float64Array([1, 2]));
  },
};
