/**
 * The small calls of issue 20 item 6 where ranks matter: `Op.Create` ops in `Allreduce` against
 * `Op.Reduce_local` (mpi4py 4.x's test_op.py `testCreate`), `Status.Get_count` /
 * `Get_elements` with a typed-array constructor as the datatype after real receives and probes
 * (test_status.py's calls on statuses a message filled), and the environment inquiries inside a
 * rank (test_environ.py's `testIsInitialized`, `testIsFinalized`, and the rest through the
 * package's built entry point). The in-process parts: test/op.test.ts, test/status.test.ts,
 * test/environ.test.ts.
 */
import assert from "node:assert/strict";
import type { Case } from "./types.js";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** mpi4py's `mysum` on buffers: `b[i] = a[i] + b[i]`, in place. */
function mysum(a: Int32Array, b: Int32Array, dt: unknown): undefined {
  assert.equal(dt, Int32Array, "datatype: the operands' constructor");
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) b[i] = a[i]! + b[i]!;
  return undefined;
}

/** Decimal concatenation of positive integers, `12 op 3 = 123`: associative, not commutative. */
function concatDigits(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v * 10 ** String(b[i]!).length + b[i]!);
}

export const cases: Record<string, Case> = {
  async "testCreate: Allreduce with an Op.Create sum (commutative or not) for N = 0..3, then Reduce_local"({ comm, mpi }) {
    const { rank, size } = comm;
    for (const commute of [true, false])
      for (const N of range(4)) {
        const myop = mpi.Op.Create(mysum, commute);
        assert.equal(myop.is_predefined, false);
        try {
          const a = new Int32Array(range(N).map((i) => i * (rank + 1)));
          const b = new Int32Array(N);
          await comm.Allreduce(a, b, myop);
          const scale = (size * (size + 1)) / 2;
          for (const i of range(N)) assert.equal(b[i], scale * i, `commute=${commute} N=${N} Allreduce[${i}]`);
          myop.Reduce_local(a, b);
          for (const i of range(N)) assert.equal(b[i], a[i]! + scale * i, `commute=${commute} N=${N} Reduce_local[${i}]`);
          const ones = new Int32Array(N).fill(1);
          const twos = new Int32Array(N).fill(2);
          myop.Reduce_local(ones, twos);
          assert.deepEqual(Array.from(twos), new Array(N).fill(3));
        } finally {
          myop.Free();
        }
      }
  },

  async "a non-commutative op: Allreduce and Reduce, rank order, equal the Reduce_local fold"({ comm, mpi }) {
    const { rank, size } = comm;
    for (const make of [() => mpi.Op.create(concatDigits), () => mpi.Op.Create(concatDigits)]) {
      const op = make();
      const mine = new Float64Array([rank + 1, 9 - rank]);
      const all = new Float64Array(2);
      await comm.Allreduce(mine, all, op);
      // the fold a reduction makes, from the highest rank down: acc = op(value of r, acc)
      const acc = new Float64Array([size, 9 - (size - 1)]);
      for (let r = size - 2; r >= 0; r--) op.Reduce_local(new Float64Array([r + 1, 9 - r]), acc);
      assert.deepEqual(Array.from(all), Array.from(acc), "Allreduce vs Reduce_local");
      assert.equal(
        all[0],
        Number(
          range(size)
            .map((r) => r + 1)
            .join(""),
        ),
        "1, 2, ... in rank order",
      );
      const root = new Float64Array(2).fill(-1);
      await comm.Reduce(mine, root, op, 0);
      if (rank === 0) assert.deepEqual(Array.from(root), Array.from(acc), "Reduce at the root");
    }
  },

  async "Status.Get_count / Get_elements with a datatype after Recv, recv, probe and a PROC_NULL receive"({ comm, mpi }) {
    const { rank, size } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    const n = rank + 1;
    const m = source + 1;

    const st = new mpi.Status();
    await Promise.all([comm.Send(new Float64Array(n).fill(rank), dest, 1), comm.Recv(new Float64Array(8), source, 1, st)]);
    assert.equal(st.Get_source(), source);
    assert.equal(st.Get_tag(), 1);
    assert.equal(st.Get_error(), 0);
    assert.equal(st.Get_count(Float64Array), m);
    assert.equal(st.Get_elements(Float64Array), m);
    assert.equal(st.Get_count(), 8 * m, "bytes by default (BYTE)");
    assert.equal(st.Get_count(Uint8Array), 8 * m);
    assert.equal(st.Get_count(Float32Array), 2 * m);
    assert.equal(st.Get_count(BigInt64Array), m);
    assert.equal(st.count, m, "count: elements of the receiving kind");
    assert.equal(st.Is_cancelled(), false);

    // 3 bytes are no whole number of 16-bit elements
    await Promise.all([comm.Send(new Int8Array(3), dest, 2), comm.Recv(new Int8Array(4), source, 2, st)]);
    assert.equal(st.Get_count(Int8Array), 3);
    assert.equal(st.Get_count(Int16Array), mpi.UNDEFINED);
    assert.equal(st.Get_elements(Int16Array), mpi.UNDEFINED);

    // a probe tells the size in any kind before the receive
    const sent = comm.Send(new Float32Array(4 * n), dest, 3);
    const pst = new mpi.Status();
    await comm.Probe(source, 3, pst);
    assert.equal(pst.Get_count(Float32Array), 4 * m);
    assert.equal(pst.Get_count(Float64Array), 2 * m);
    const into = new Float32Array(pst.Get_count(Float32Array));
    await Promise.all([sent, comm.Recv(into, source, 3)]);

    // the object tier counts serialized bytes, as mpi4py
    const ost = new mpi.Status();
    await Promise.all([comm.send({ rank, text: "x".repeat(10 * n) }, dest, 4), comm.recv(source, 4, ost)]);
    assert.ok(ost.Get_count() > 10 * m);
    assert.equal(ost.Get_count(), ost.count);
    assert.equal(ost.Get_count(Uint8Array), ost.Get_count());

    const nst = new mpi.Status();
    nst.Set_elements(Float64Array, 5);
    await comm.Recv(new Float64Array(1), mpi.PROC_NULL, 0, nst);
    assert.equal(nst.Get_source(), mpi.PROC_NULL);
    assert.equal(nst.Get_tag(), mpi.ANY_TAG);
    assert.equal(nst.Get_count(), 0);
    assert.equal(nst.Get_count(Float64Array), 0);
    assert.equal(nst.Get_elements(Float64Array), 0);
  },

  async "testIsInitialized, testIsFinalized and the environment inquiries in a rank"({ mpi }) {
    assert.equal(mpi.Is_initialized(), true);
    assert.equal(mpi.Is_finalized(), false);
    assert.equal(mpi.Is_finalized(), mpi.isFinalized());
    assert.deepEqual(mpi.Get_version(), [mpi.VERSION, mpi.SUBVERSION]);
    assert.match(mpi.Get_library_version(), /^tsmpi \d+\.\d+\.\d+\S* \(MPI 4\.0; Node\.js v\d+/, "the built package finds its version");
    assert.equal(mpi.Query_thread(), mpi.THREAD_FUNNELED);
    assert.equal(mpi.Is_thread_main(), true);
    assert.equal(mpi.Get_processor_name(), mpi.processorName());
    const t1 = mpi.Wtime();
    const t2 = mpi.wtime();
    const t3 = mpi.Wtime();
    assert.ok(t1 <= t2 && t2 <= t3, "Wtime and wtime read one clock");
    assert.equal(mpi.Wtick(), mpi.wtick());
  },
};
