/**
 * Send modes (issue 20 point 4): buffered (`Bsend`, `Ibsend`, `bsend`, `ibsend`, `Bsend_init`)
 * with `Attach_buffer`/`Detach_buffer` and `BSEND_OVERHEAD`, ready (`Rsend`, `Irsend`,
 * `Rsend_init`), and MPI-4's `Isendrecv`/`Isendrecv_replace`. Translated from mpi4py 4.x:
 * test_p2p_buf.py `testSendRecv` (its buffered and ready parts), `testISendrecv`,
 * `testISendrecvReplace`, `testProcNull`, `testProcNullISendrecv`, the `Bsend_init` part of
 * `testPersistent`; test_p2p_obj.py `testIRecvAndBSend`, `testIRecvAndIBSend`; test_buffer.py
 * and test_comm.py `testBuffering` (process and communicator buffers). Plus the accounting rules:
 * what fits, what does not (`ERR_TSMPI_BUFFER`), a communicator's buffer before the process's.
 *
 * Left out: `MPI.Alloc_mem`/`Free_mem` (a typed array is the memory here), `None` buffers of
 * PROC_NULL sends (a buffer is required, as `Send` requires it), complex numbers among the object
 * messages, `testAttachBufferReadonly` (no read-only typed arrays in JavaScript).
 */
import assert from "node:assert/strict";
import { MESSAGES, allEqual, codeIs, make } from "./matched.js";
import type { Case } from "./types.js";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const KINDS = [Int8Array, Int16Array, Int32Array, Float32Array, Float64Array, BigInt64Array] as const;

export const cases: Record<string, Case> = {
  async "testSendRecv: Ibsend/Bsend with an attached buffer of 2*(s+BSEND_OVERHEAD) elements, then Send/Ssend; Rsend/Irsend to self"({
    mpi,
    comm,
  }) {
    const { size } = comm;
    let { rank } = comm;
    for (const K of KINDS)
      for (const s of range(size + 1)) {
        const at = `${K.name} s=${s}`;
        const sbuf = make(K, s, s);
        let rbuf = make(K, s, -1);
        const mem = new K(2 * (s + mpi.BSEND_OVERHEAD));
        if (size === 1) {
          mpi.Attach_buffer(mem);
          rbuf = sbuf;
          assert.equal(await mpi.Detach_buffer(), mem);
        } else if (rank === 0) {
          mpi.Attach_buffer(mem);
          await comm.Ibsend(sbuf, 1, 0).wait();
          await comm.Bsend(sbuf, 1, 0);
          assert.equal(await mpi.Detach_buffer(), mem);
          await comm.Send(sbuf, 1, 0);
          await comm.Ssend(sbuf, 1, 0);
          for (let i = 0; i < 4; i++) await comm.Recv(rbuf, 1, 0);
        } else if (rank === 1) {
          for (let i = 0; i < 4; i++) await comm.Recv(rbuf, 0, 0);
          mpi.Attach_buffer(mem);
          await comm.Ibsend(sbuf, 0, 0).wait();
          await comm.Bsend(sbuf, 0, 0);
          assert.equal(await mpi.Detach_buffer(), mem);
          await comm.Send(sbuf, 0, 0);
          await comm.Ssend(sbuf, 0, 0);
        } else {
          rbuf = sbuf;
        }
        allEqual(rbuf, s, at);
        rank = comm.rank;
        rbuf = make(K, s, -1);
        let rreq = comm.Irecv(rbuf, rank, 0);
        await comm.Rsend(sbuf, rank, 0);
        await rreq.wait();
        allEqual(rbuf, s, `${at} Rsend`);
        rbuf = make(K, s, -1);
        rreq = comm.Irecv(rbuf, rank, 0);
        await comm.Irsend(sbuf, rank, 0).wait();
        await rreq.wait();
        allEqual(rbuf, s, `${at} Irsend`);
      }
  },

  async "testISendrecv: every kind and size around the ring; the status is the receive's"({ mpi, comm }) {
    const { size, rank } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    await comm.Isendrecv(new Uint8Array(1), dest, 0, new Uint8Array(1), source, 0).wait();
    for (const K of KINDS)
      for (const s of range(size + 1)) {
        const sbuf = make(K, s, s);
        const rbuf = make(K, s + 1, -1);
        const st = new mpi.Status();
        await comm.Isendrecv(sbuf, dest, 0, rbuf, source, 0).wait(st);
        allEqual(rbuf.subarray(0, s), s, `${K.name} s=${s}`);
        assert.equal(Number(rbuf[s]), -1);
        assert.deepEqual([st.source, st.tag, st.count], [source, 0, s]);
      }
  },

  async "testISendrecvReplace: every kind and size around the ring"({ comm }) {
    const { size, rank } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    await comm.Isendrecv_replace(new Uint8Array(1), dest, 0, source, 0).wait();
    for (const K of KINDS)
      for (const s of range(size + 1)) {
        const buf = make(K, s, rank);
        const req = comm.Isendrecv_replace(buf, dest, 0, source, 0);
        await req.wait();
        allEqual(buf, source, `${K.name} s=${s}`);
      }
  },

  async "testProcNull and testProcNullISendrecv: every mode to and from PROC_NULL"({ mpi, comm }) {
    const none = new Uint8Array(0);
    await comm.Sendrecv(none, mpi.PROC_NULL, 0, none, mpi.PROC_NULL, 0);
    await comm.Sendrecv_replace(none, mpi.PROC_NULL, 0, mpi.PROC_NULL, 0);
    await comm.Send(none, mpi.PROC_NULL);
    await comm.Isend(none, mpi.PROC_NULL).wait();
    await comm.Ssend(none, mpi.PROC_NULL);
    await comm.Issend(none, mpi.PROC_NULL).wait();
    const buf = new Uint8Array(mpi.BSEND_OVERHEAD);
    mpi.Attach_buffer(buf);
    await comm.Bsend(none, mpi.PROC_NULL);
    await comm.Ibsend(none, mpi.PROC_NULL).wait();
    await comm.bsend(null, mpi.PROC_NULL);
    await comm.ibsend(null, mpi.PROC_NULL).wait();
    assert.equal(await mpi.Detach_buffer(), buf);
    await comm.Rsend(none, mpi.PROC_NULL);
    await comm.Irsend(none, mpi.PROC_NULL).wait();
    await comm.Recv(none, mpi.PROC_NULL);
    await comm.Irecv(none, mpi.PROC_NULL).wait();
    const st = new mpi.Status();
    await comm.Isendrecv(none, mpi.PROC_NULL, 0, none, mpi.PROC_NULL, 0).wait(st);
    assert.deepEqual([st.source, st.tag, st.count], [mpi.PROC_NULL, mpi.ANY_TAG, 0]);
    await comm.Isendrecv_replace(none, mpi.PROC_NULL, 0, mpi.PROC_NULL, 0).wait();
    // a buffered send to PROC_NULL needs no buffer at all
    await comm.Bsend(new Float64Array(100), mpi.PROC_NULL);
    // persistent, from testProcNullPersistent
    mpi.Attach_buffer(new Uint8Array(mpi.BSEND_OVERHEAD));
    const req = comm.Bsend_init(none, mpi.PROC_NULL);
    req.Start();
    await req.wait();
    req.Free();
    await mpi.Detach_buffer();
  },

  async "testPersistent's Bsend_init: an attached buffer of s+BSEND_OVERHEAD elements, every kind and size"({ mpi, comm }) {
    const { size, rank } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    for (const K of KINDS)
      for (const s of range(size + 1))
        for (const xs of range(3)) {
          const mem = new K(s + mpi.BSEND_OVERHEAD);
          const sbuf = make(K, s, s);
          const rbuf = make(K, s + xs, -1);
          mpi.Attach_buffer(mem);
          const sendreq = comm.Bsend_init(sbuf, dest, 0);
          const recvreq = comm.Recv_init(rbuf, source, 0);
          sendreq.Start();
          recvreq.Start();
          await sendreq.wait();
          await recvreq.wait();
          assert.equal(await mpi.Detach_buffer(), mem);
          sendreq.Free();
          recvreq.Free();
          allEqual(rbuf.subarray(0, s), s, `${K.name} s=${s} xs=${xs}`);
          allEqual(rbuf.subarray(s), -1, `${K.name} s=${s} xs=${xs} tail`);
        }
    // Start without a buffer attached fails, and the request stays startable
    const req = comm.Bsend_init(new Int32Array(4), dest, 0);
    assert.throws(() => req.Start(), codeIs(mpi, "ERR_TSMPI_BUFFER"));
    assert.ok(!req.active);
    mpi.Attach_buffer(new Uint8Array(16 + mpi.BSEND_OVERHEAD));
    req.Start();
    await req.wait();
    await comm.Recv(new Int32Array(4), source, 0);
    await mpi.Detach_buffer();
    req.Free();
  },

  async "testIRecvAndBSend / testIRecvAndIBSend: every object message to self, received out of order"({ mpi, comm }) {
    const buf = new Uint8Array((1 << 16) + mpi.BSEND_OVERHEAD);
    mpi.Attach_buffer(buf);
    try {
      const rank = comm.rank;
      for (const smess of MESSAGES) {
        const [req1, req2, req3] = [1, 2, 3].map((t) => comm.irecv(rank, t));
        await comm.bsend(smess, rank, 3);
        await comm.bsend(smess, rank, 2);
        await comm.bsend(smess, rank, 1);
        assert.deepEqual(await req3!.wait(), smess);
        assert.deepEqual(await req2!.wait(), smess);
        assert.deepEqual(await req1!.wait(), smess);
        await comm.bsend(smess, mpi.PROC_NULL, 3);
      }
      for (const smess of MESSAGES) {
        const [req1, req2, req3] = [1, 2, 3].map((t) => comm.irecv(rank, t));
        const sends = [3, 2, 1].map((t) => comm.ibsend(smess, rank, t));
        assert.ok(
          sends.every((r) => r.done),
          "a buffered send is complete once made",
        );
        await mpi.Request.waitall(sends);
        assert.deepEqual(await req3!.wait(), smess);
        assert.deepEqual(await req2!.wait(), smess);
        assert.deepEqual(await req1!.wait(), smess);
        await comm.ibsend(smess, mpi.PROC_NULL, 3).wait();
      }
    } finally {
      assert.equal(await mpi.Detach_buffer(), buf);
    }
  },

  async "testBuffering: Attach/Flush/Iflush/Detach, BUFFER_AUTOMATIC, for the process and the communicator"({ mpi, comm: base }) {
    const buf = new Uint8Array((1 << 16) + mpi.BSEND_OVERHEAD);
    mpi.Attach_buffer(buf);
    await mpi.Flush_buffer();
    await mpi.Iflush_buffer().wait();
    assert.equal(await mpi.Detach_buffer(), buf);
    mpi.Attach_buffer(mpi.BUFFER_AUTOMATIC);
    assert.equal(await mpi.Detach_buffer(), mpi.BUFFER_AUTOMATIC);
    assert.equal(await mpi.Detach_buffer(), null, "nothing attached");
    const comm = base.Dup();
    try {
      comm.Attach_buffer(buf);
      await comm.Flush_buffer();
      await comm.Iflush_buffer().wait();
      assert.equal(await comm.Detach_buffer(), buf);
      comm.Attach_buffer(mpi.BUFFER_AUTOMATIC);
      assert.equal(await comm.Detach_buffer(), mpi.BUFFER_AUTOMATIC);
    } finally {
      comm.Free();
    }
  },

  async "the accounting: size + BSEND_OVERHEAD must fit; ERR_TSMPI_BUFFER otherwise, or with no buffer, or attaching twice"({ mpi, comm }) {
    const { rank } = comm;
    const data = new Float64Array(10); // 80 bytes
    await assert.rejects(comm.Bsend(data, rank, 5), codeIs(mpi, "ERR_TSMPI_BUFFER"), "no buffer attached");
    assert.throws(() => comm.ibsend("x", rank, 5), codeIs(mpi, "ERR_TSMPI_BUFFER"));
    mpi.Attach_buffer(new ArrayBuffer(80 + mpi.BSEND_OVERHEAD - 1));
    assert.throws(() => mpi.Attach_buffer(new Uint8Array(10)), codeIs(mpi, "ERR_TSMPI_BUFFER"), "attached twice");
    await assert.rejects(
      comm.Bsend(data, rank, 5),
      (e: unknown) => codeIs(mpi, "ERR_TSMPI_BUFFER")(e) && /80 bytes/.test((e as Error).message) && /591/.test((e as Error).message),
    );
    await mpi.Detach_buffer();
    mpi.Attach_buffer(new DataView(new ArrayBuffer(80 + mpi.BSEND_OVERHEAD)));
    await comm.Bsend(data.fill(2.5), rank, 5); // fits exactly
    data.fill(0); // copied: the receive still gets 2.5
    const rbuf = new Float64Array(10);
    await comm.Recv(rbuf, rank, 5);
    allEqual(rbuf, 2.5, "buffered copy");
    await mpi.Detach_buffer();
    assert.throws(() => mpi.Attach_buffer([1, 2] as never), codeIs(mpi, "ERR_TSMPI_TYPE"));
  },

  async "a communicator's buffer comes before the process's; others still use the process's"({ mpi, comm: base }) {
    const comm = base.Dup();
    try {
      const { rank } = comm;
      mpi.Attach_buffer(new Uint8Array(mpi.BSEND_OVERHEAD - 1)); // fits nothing
      comm.Attach_buffer(new Uint8Array(1000 + mpi.BSEND_OVERHEAD));
      await comm.Bsend(new Uint8Array(1000), rank, 1);
      await comm.Recv(new Uint8Array(1000), rank, 1);
      await assert.rejects(base.Bsend(new Uint8Array(1), base.rank, 1), codeIs(mpi, "ERR_TSMPI_BUFFER"));
      await comm.Detach_buffer();
      await assert.rejects(comm.Bsend(new Uint8Array(1), rank, 1), codeIs(mpi, "ERR_TSMPI_BUFFER"), "the process's again");
      await mpi.Detach_buffer();
    } finally {
      comm.Free();
    }
  },

  async "many buffered messages around the ring: Detach_buffer resolves once they have left"({ mpi, comm }) {
    const { size, rank } = comm;
    const dest = (rank + 1) % size;
    const source = (rank - 1 + size) % size;
    const n = 50;
    const data = new Int32Array(1000);
    const mem = new Uint8Array(n * (data.byteLength + mpi.BSEND_OVERHEAD));
    mpi.Attach_buffer(mem);
    for (let i = 0; i < n; i++) await comm.Bsend(data.fill(i), dest, 8);
    const detached = mpi.Detach_buffer();
    const rbuf = new Int32Array(1000);
    for (let i = 0; i < n; i++) {
      await comm.Recv(rbuf, source, 8);
      allEqual(rbuf, i, `message ${i}`);
    }
    assert.equal(await detached, mem);
  },
};
