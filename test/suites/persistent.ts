/**
 * Persistent point-to-point requests (issue 20 item 2), translated from mpi4py 4.x's
 * test_p2p_buf.py `testPersistent` and `testProcNullPersistent`, plus MPI's rules for inactive
 * requests, reuse, `Startall`, cancellation and bad arguments.
 *
 * Left out of mpi4py's files: `Attach_buffer`/`Detach_buffer` around `Bsend_init` (no buffered
 * mode yet: `Bsend_init` copies at start, see lib/prequest.ts), `None` as the buffer of a
 * `PROC_NULL` request (a buffer is required, as `Isend` requires it), `REQUEST_NULL` comparisons
 * after `Free()` and `testConstructor`'s handle conversions (`fromhandle`, `py2f`: no handles here).
 */
import assert from "node:assert/strict";
import type { AnyTypedArray, Case } from "./types.js";

const KINDS = [Int8Array, Uint16Array, Int32Array, Float32Array, Float64Array, BigInt64Array] as const;
type Kind = (typeof KINDS)[number];
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
function make(K: Kind, length: number, v: number): AnyTypedArray {
  const a = new K(length) as AnyTypedArray;
  a.fill((K === BigInt64Array ? BigInt(v) : v) as never);
  return a;
}
/** `rbuf[:s]` all `s`, the rest all -1 (as the kind stores it). */
function check(rbuf: AnyTypedArray, s: number, what: string): void {
  const want = make(rbuf.constructor as Kind, rbuf.length, -1);
  want.fill((rbuf.constructor === BigInt64Array ? BigInt(s) : s) as never, 0, s);
  assert.deepEqual(Array.from(rbuf, Number), Array.from(want, Number), what);
}
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export const cases: Record<string, Case> = {
  async "testPersistent: Send_init/Recv_init, Startall + waitany, Ssend_init, Bsend_init, Rsend_init, every kind and size"({ comm, mpi }) {
    const { rank, size } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    for (const K of KINDS)
      for (const s of range(size + 1))
        for (const xs of range(3)) {
          const at = `${K.name} s=${s} xs=${xs}`;
          let sbuf = make(K, s, s);
          let rbuf = make(K, s + xs, -1);
          let sendreq = comm.Send_init(sbuf, dest, 0);
          let recvreq = comm.Recv_init(rbuf, source, 0);
          sendreq.Start();
          recvreq.Start();
          await sendreq.wait();
          const st = new mpi.Status();
          await recvreq.wait(st);
          assert.equal(st.source, source, `${at}: status.source`);
          assert.equal(st.count, s, `${at}: status.count`);
          sendreq.Free();
          recvreq.Free();
          check(rbuf, s, `${at} Send_init`);

          sbuf = make(K, s, s);
          rbuf = make(K, s + xs, -1);
          sendreq = comm.Send_init(sbuf, dest, 0);
          recvreq = comm.Recv_init(rbuf, source, 0);
          const reqlist = [sendreq, recvreq];
          mpi.Prequest.Startall(reqlist);
          const [index1] = await mpi.Request.waitany(reqlist);
          assert.ok([0, 1].includes(index1), `${at}: waitany ${index1}`);
          const [index2] = await mpi.Request.waitany(reqlist);
          assert.ok([0, 1].includes(index2), `${at}: waitany ${index2}`);
          assert.notEqual(index1, index2);
          const [index3] = await mpi.Request.waitany(reqlist);
          assert.equal(index3, mpi.UNDEFINED, `${at}: waitany over inactive persistent requests`);
          for (const p of reqlist) p.Free();
          check(rbuf, s, `${at} Startall`);

          for (const [how, init] of [
            ["Ssend_init", () => comm.Ssend_init(sbuf, dest, 0)],
            ["Bsend_init", () => comm.Bsend_init(sbuf, dest, 0)],
          ] as const) {
            sbuf = make(K, s, s);
            rbuf = make(K, s + xs, -1);
            sendreq = init();
            recvreq = comm.Recv_init(rbuf, source, 0);
            sendreq.Start();
            recvreq.Start();
            await sendreq.wait();
            await recvreq.wait();
            sendreq.Free();
            recvreq.Free();
            check(rbuf, s, `${at} ${how}`);
          }

          sbuf = make(K, s, s);
          rbuf = make(K, s + xs, -1);
          recvreq = comm.Recv_init(rbuf, rank, 0);
          sendreq = comm.Rsend_init(sbuf, rank, 0);
          recvreq.Start();
          sendreq.Start();
          await recvreq.wait();
          await sendreq.wait();
          sendreq.Free();
          recvreq.Free();
          check(rbuf, s, `${at} Rsend_init to self`);
        }
  },

  async "testProcNullPersistent: every *_init to or from PROC_NULL starts and completes at once"({ comm, mpi }) {
    const buf = new Int32Array(3).fill(7);
    for (const make of [
      () => comm.Send_init(buf, mpi.PROC_NULL),
      () => comm.Ssend_init(buf, mpi.PROC_NULL),
      () => comm.Bsend_init(buf, mpi.PROC_NULL),
      () => comm.Rsend_init(buf, mpi.PROC_NULL),
    ]) {
      const req = make();
      req.Start();
      assert.equal(req.test(), true);
      req.Free();
    }
    const req = comm.Recv_init(buf, mpi.PROC_NULL);
    req.Start();
    const st = new mpi.Status();
    await req.wait(st);
    assert.deepEqual([st.source, st.tag, st.count], [mpi.PROC_NULL, mpi.ANY_TAG, 0], "status of a PROC_NULL receive");
    assert.deepEqual(Array.from(buf), [7, 7, 7], "buffer untouched");
    req.Free();
  },

  async "inactive between uses: wait/test before Start and after completion return at once with an empty status"({ comm, mpi }) {
    const { rank } = comm;
    const r = comm.Recv_init(new Float64Array(2), rank, 5);
    const st = new mpi.Status();
    st.source = 3;
    st.count = 9;
    assert.equal(r.test(st), true, "test() on a new (inactive) request");
    assert.deepEqual([st.source, st.tag, st.count], [mpi.ANY_SOURCE, mpi.ANY_TAG, 0], "empty status");
    assert.equal(r.active, false);
    assert.equal(await r.wait(), undefined, "wait() on an inactive request returns at once");
    assert.deepEqual(mpi.Request.testany([r]), [mpi.UNDEFINED, true, undefined]);
    assert.deepEqual(await mpi.Request.waitsome([r]), [undefined, undefined]);
    r.Start();
    assert.equal(r.active, true);
    assert.equal(r.test(), false, "started and not matched: test() is false");
    await comm.Send(Float64Array.of(1, 2), rank, 5);
    await r.wait(st);
    assert.deepEqual([st.source, st.tag, st.count], [rank, 5, 2]);
    assert.equal(r.test(st), true, "completed and waited: inactive again");
    assert.deepEqual([st.source, st.tag, st.count], [mpi.ANY_SOURCE, mpi.ANY_TAG, 0]);
    r.Free();
  },

  async "reuse: one pair of requests carries a new message at every start; contents read at start"({ comm, mpi }) {
    const { rank, size } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    for (const n of [4, 50_000]) {
      const out = new Float64Array(n);
      const inn = new Float64Array(n);
      const reqs = [comm.Send_init(out, dest, 3), comm.Recv_init(inn, source, 3)];
      for (let i = 0; i < 6; i++) {
        out.fill(rank * 1000 + i);
        inn.fill(-1);
        mpi.Prequest.Startall(reqs);
        if (i % 2) {
          while (!mpi.Request.testall(reqs)[0]) await turn();
        } else await mpi.Request.waitall(reqs);
        assert.ok(
          inn.every((v) => v === source * 1000 + i),
          `n=${n} round ${i}: got ${inn[0]}..${inn[n - 1]}`,
        );
      }
      for (const r of reqs) r.Free();
    }
  },

  async "a persistent receive matches any send, and a persistent send any receive"({ comm, mpi }) {
    const { rank, size } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    const rbuf = new Int32Array(3);
    const r = comm.Recv_init(rbuf, mpi.ANY_SOURCE, mpi.ANY_TAG);
    for (let i = 0; i < 3; i++) {
      r.Start();
      await comm.Send(Int32Array.of(rank, i, 0), dest, 10 + i);
      const st = new mpi.Status();
      await r.wait(st);
      assert.deepEqual(Array.from(rbuf), [source, i, 0]);
      assert.deepEqual([st.source, st.tag], [source, 10 + i]);
    }
    r.Free();
    const s = comm.Ssend_init(Int16Array.of(rank), dest, 2);
    s.Start();
    const got = new Int16Array(1);
    await comm.Recv(got, source, 2);
    await s.wait();
    assert.equal(got[0], source);
    s.Free();
  },

  async "Start on an active request, Startall with one active or freed, Free: ERR_TSMPI_REQUEST, nothing started"({ comm, mpi }) {
    const { rank } = comm;
    const buf = new Int32Array(1);
    const a = comm.Recv_init(buf, rank, 8);
    const b = comm.Recv_init(new Int32Array(1), rank, 9);
    a.Start();
    assert.throws(
      () => a.Start(),
      (e: unknown) => e instanceof mpi.TsmpiError && e.code === "ERR_TSMPI_REQUEST",
    );
    assert.throws(
      () => mpi.Prequest.Startall([b, a]),
      (e: { code?: string }) => e.code === "ERR_TSMPI_REQUEST",
    );
    assert.equal(b.active, false, "Startall started nothing");
    assert.throws(
      () => mpi.Prequest.Startall([b, {} as never]),
      (e: { code?: string }) => e.code === "ERR_TSMPI_ARG",
    );
    await comm.Send(Int32Array.of(42), rank, 8);
    await a.wait();
    assert.equal(buf[0], 42);
    b.Free();
    assert.throws(
      () => b.Start(),
      (e: { code?: string }) => e.code === "ERR_TSMPI_REQUEST",
    );
    a.Free();
  },

  async "cancel: a started persistent receive is withdrawn, completes cancelled, and can start again"({ comm, mpi }) {
    const { rank } = comm;
    const buf = new Int32Array(1);
    const r = comm.Recv_init(buf, rank, 77);
    r.Start();
    r.cancel();
    const st = new mpi.Status();
    await r.wait(st);
    assert.equal(st.cancelled, true);
    r.Start();
    await comm.Send(Int32Array.of(5), rank, 77);
    await r.wait(st);
    assert.equal(st.cancelled, false);
    assert.equal(buf[0], 5);
    r.Free();
  },

  async "bad arguments at init: rank, tag, buffer"({ comm, mpi }) {
    const { size } = comm;
    const code = (f: () => unknown, c: string): void => assert.throws(f, (e: unknown) => e instanceof mpi.TsmpiError && e.code === c, c);
    code(() => comm.Send_init(new Int32Array(1), size), "ERR_TSMPI_RANK");
    code(() => comm.Recv_init(new Int32Array(1), -9), "ERR_TSMPI_RANK");
    code(() => comm.Ssend_init(new Int32Array(1), 0, -1), "ERR_TSMPI_TAG");
    code(() => comm.Recv_init(new Int32Array(1), 0, -5), "ERR_TSMPI_TAG");
    code(() => comm.Bsend_init([1, 2, 3] as never, 0), "ERR_TSMPI_TYPE");
    code(() => comm.Rsend_init([new Int32Array(2), 3], 0), "ERR_TSMPI_COUNT");
  },

  async "truncation: a round whose message is too long fails with ERR_TSMPI_TRUNCATE; the next round works"({ comm, mpi }) {
    const { rank } = comm;
    const r = comm.Recv_init(new Int8Array(2), rank, 4);
    r.Start();
    await comm.Send(Int8Array.of(1, 2, 3), rank, 4);
    await assert.rejects(r.wait(), (e: unknown) => e instanceof mpi.TsmpiError && e.code === "ERR_TSMPI_TRUNCATE");
    r.Start();
    await comm.Send(Int8Array.of(9), rank, 4);
    const st = new mpi.Status();
    await r.wait(st);
    assert.equal(st.count, 1);
    r.Free();
  },

  async "DeviceArray buffers: Send_init, Recv_init and Allreduce_init stage through host memory at each start"({ comm, mpi }) {
    const { rank, size } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    const out = mpi.DeviceArray.from(new Int32Array(3));
    const inn = mpi.DeviceArray.from(new Int32Array(3));
    const reqs = [comm.Send_init(out, dest, 1), comm.Recv_init(inn, source, 1)];
    const sum = mpi.DeviceArray.from(new Float64Array(2));
    const ar = comm.Allreduce_init(Float64Array.of(rank, 1), sum, mpi.Op.SUM);
    for (let i = 0; i < 3; i++) {
      out.copyFrom(Int32Array.of(rank, i, 10 - rank));
      mpi.Prequest.Startall([...reqs, ar]);
      await mpi.Request.waitall([...reqs, ar]);
      assert.deepEqual(Array.from(inn.toHost()), [source, i, 10 - source], `round ${i}: Recv_init into a DeviceArray`);
      assert.deepEqual(Array.from(sum.toHost()), [(size * (size - 1)) / 2, size], `round ${i}: Allreduce_init into a DeviceArray`);
    }
    for (const r of [...reqs, ar]) r.Free();
  },
};
