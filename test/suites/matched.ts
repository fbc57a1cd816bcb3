/**
 * Matched probes (issue 20 point 3): mpi4py 4.x's test_p2p_buf_matched.py and
 * test_p2p_obj_matched.py translated assertion for assertion, plus what makes a matched probe
 * worth having: the message it matched is out of matching (no receive, probe or iprobe sees it;
 * two concurrent receivers never race for it), a second receive is an error, a synchronous send
 * completes only once the message is received, and large messages (in pieces, or read from the
 * sender's memory) arrive whole through their `Message`.
 *
 * Left out of mpi4py's files: comparisons of message handles (`==`, `bool(message)`) become
 * `isNull`/`isNoProc` (JavaScript has no operator overloading), `testPickle` (no pickling of
 * messages; its Mprobe/Recv of an empty message is kept), `[None, 0, MPI.BYTE]` buffers (an
 * empty typed array instead), complex numbers in the object messages (JavaScript has none).
 */
import assert from "node:assert/strict";
import type { AnyTypedArray, Case, CaseContext } from "./types.js";

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const KINDS = [Int8Array, Uint8Array, Int16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array] as const;
type Kind = (typeof KINDS)[number];
/** An array of `length` elements of kind `K`, all `v` (mpi4py's `array(v, typecode, length)`); also used by `modes.ts`. */
export function make(K: Kind, length: number, v: number): AnyTypedArray {
  const a = new K(length) as AnyTypedArray;
  a.fill((K === BigInt64Array ? BigInt(v) : v) as never);
  return a;
}
export function allEqual(a: ArrayLike<number | bigint>, v: number, what: string): void {
  for (let i = 0; i < a.length; i++) assert.equal(Number(a[i]), v, `${what}: element ${i}`);
}
export function codeIs(mpi: CaseContext["mpi"], code: string) {
  return (e: unknown) => e instanceof mpi.TsmpiError && e.code === code;
}

// mpi4py's `messages` (test_p2p_obj_matched.py): None, bools, ints (64-bit ends as BigInt), floats, a string, and a list, a tuple and a dict of them.
const basic: unknown[] = [null, true, false, -7, 0, 7, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, +1.62, "mpi4py"];
export const MESSAGES: unknown[] = [...basic, [...basic], [...basic], Object.fromEntries(basic.map((v, k) => [`k${k}`, v]))];

export const cases: Record<string, Case> = {
  async "TestMessage.testMessageNull: MESSAGE_NULL, Message() and Message(MESSAGE_NULL) are null"({ mpi }) {
    assert.ok(mpi.MESSAGE_NULL.isNull);
    assert.ok(new mpi.Message().isNull);
    assert.ok(new mpi.Message(mpi.MESSAGE_NULL).isNull);
    await assert.rejects(mpi.MESSAGE_NULL.Recv(new Int32Array(1)), codeIs(mpi, "ERR_TSMPI_REQUEST"));
    assert.throws(() => mpi.MESSAGE_NULL.irecv(), codeIs(mpi, "ERR_TSMPI_REQUEST"));
  },

  async "TestMessage.testMessageNoProc (buffer and object tiers), mprobe/improbe(PROC_NULL)"({ mpi, comm }) {
    const noproc = mpi.MESSAGE_NO_PROC;
    assert.ok(noproc.isNoProc && !noproc.isNull);
    await noproc.Recv(null);
    assert.ok(noproc.isNoProc, "the constant stays MESSAGE_NO_PROC");
    await noproc.Irecv(null).wait();
    assert.ok(noproc.isNoProc);
    assert.equal(await noproc.recv(), undefined);
    assert.equal(await noproc.irecv().wait(), undefined);
    assert.ok(noproc.isNoProc);
    const noproc2 = new mpi.Message(mpi.MESSAGE_NO_PROC);
    assert.ok(noproc2.isNoProc && !noproc2.isNull);
    let message = new mpi.Message(mpi.MESSAGE_NO_PROC);
    const st = new mpi.Status();
    await message.Recv(null, st);
    assert.ok(message.isNull && !message.isNoProc, "a copy becomes MESSAGE_NULL once received");
    assert.deepEqual([st.source, st.tag, st.count], [mpi.PROC_NULL, mpi.ANY_TAG, 0]);
    message = new mpi.Message(mpi.MESSAGE_NO_PROC);
    const request = message.Irecv(null);
    assert.ok(message.isNull);
    assert.ok(request.active);
    await request.wait();
    assert.ok(!request.active);
    message = new mpi.Message(mpi.MESSAGE_NO_PROC);
    await message.recv();
    assert.ok(message.isNull);
    // comm.mprobe / improbe of PROC_NULL (on COMM_SELF in mpi4py; on every communicator here)
    const st2 = new mpi.Status();
    const m = await comm.mprobe(mpi.PROC_NULL, mpi.ANY_TAG, st2);
    assert.ok(m.isNoProc && !m.isNull);
    assert.deepEqual([st2.source, st2.tag, st2.count], [mpi.PROC_NULL, mpi.ANY_TAG, 0]);
    const n = comm.improbe(mpi.PROC_NULL);
    assert.ok(n?.isNoProc && !n.isNull);
    assert.ok((await comm.Mprobe(mpi.PROC_NULL)).isNoProc);
    const buf = new Int32Array([5]);
    await comm.Improbe(mpi.PROC_NULL)!.Recv(buf, st2);
    assert.deepEqual([...buf], [5], "a no-proc receive leaves the buffer untouched");
    assert.equal(st2.source, mpi.PROC_NULL);
  },

  async "TestMessage.testPickle (its Mprobe of an empty message, then Recv into a larger buffer)"({ mpi, comm }) {
    const request = comm.Isend(new Uint8Array(0), comm.rank, 0);
    const message = await comm.Mprobe(comm.rank, 0);
    const st = new mpi.Status();
    await message.Recv(new Uint8Array(1), st);
    assert.equal(st.count, 0);
    await request.wait();
  },

  async "testIMProbe (buffer tier): Improbe with no message is null and leaves status; Mprobe(rank).Irecv"({ mpi, comm: base }) {
    const comm = base.Dup();
    try {
      assert.equal(comm.Improbe(), null);
      assert.equal(comm.Improbe(mpi.ANY_SOURCE), null);
      assert.equal(comm.Improbe(mpi.ANY_SOURCE, mpi.ANY_TAG), null);
      const status = new mpi.Status();
      assert.equal(comm.Improbe(mpi.ANY_SOURCE, mpi.ANY_TAG, status), null);
      assert.equal(status.source, mpi.ANY_SOURCE);
      assert.equal(status.tag, mpi.ANY_TAG);
      assert.equal(status.error, 0);
      assert.equal(mpi.Message.Iprobe(comm), null);
      const buf = new Uint8Array(0);
      const s = comm.Isend(buf, comm.rank, 0);
      const r = (await comm.Mprobe(comm.rank, 0)).Irecv(buf);
      await mpi.Request.waitall([s, r]);
    } finally {
      comm.Free();
    }
  },

  async "testIMProbe (object tier): improbe is null; mprobe(rank).irecv"({ mpi, comm: base }) {
    const comm = base.Dup();
    try {
      assert.equal(comm.improbe(), null);
      assert.equal(comm.improbe(mpi.ANY_SOURCE), null);
      assert.equal(comm.improbe(mpi.ANY_SOURCE, mpi.ANY_TAG), null);
      const status = new mpi.Status();
      assert.equal(comm.improbe(mpi.ANY_SOURCE, mpi.ANY_TAG, status), null);
      assert.equal(status.source, mpi.ANY_SOURCE);
      assert.equal(status.tag, mpi.ANY_TAG);
      assert.equal(status.error, 0);
      assert.equal(mpi.Message.iprobe(comm), null);
      const s = comm.isend(null, comm.rank, 0);
      const r = (await comm.mprobe(comm.rank, 0)).irecv();
      assert.deepEqual(await mpi.Request.waitall([s, r]), [undefined, null]);
    } finally {
      comm.Free();
    }
  },

  async "testProbeRecv (buffer tier): every kind and size, Mprobe/Improbe with Recv/Irecv"({ mpi, comm }) {
    const { size, rank } = comm;
    for (const K of KINDS)
      for (const s of range(size + 1)) {
        const at = `${K.name} s=${s}`;
        const sbuf = make(K, s, s);
        let rbuf = make(K, s, -1);
        if (size === 1) {
          assert.equal(comm.Improbe(0, 0), null);
          const sr = comm.Isend(sbuf, 0, 0);
          let m = await comm.Mprobe(0, 0);
          assert.ok(m instanceof mpi.Message);
          assert.ok(!m.isNull);
          const rr = m.Irecv(rbuf);
          assert.ok(m.isNull);
          assert.ok(sr.active && rr.active);
          await mpi.Request.waitall([sr, rr]);
          assert.ok(!sr.active && !rr.active);
          //
          assert.equal(comm.Improbe(0, 0), null);
          let r = comm.Isend(sbuf, 0, 0);
          m = await mpi.Message.Probe(comm, 0, 0);
          assert.ok(m instanceof mpi.Message && !m.isNull);
          await m.Recv(rbuf);
          assert.ok(m.isNull);
          await r.wait();
          //
          assert.equal(mpi.Message.Iprobe(comm, 0, 0), null);
          r = comm.Isend(sbuf, 0, 0);
          await comm.Probe(0, 0);
          const m2 = mpi.Message.Iprobe(comm, 0, 0);
          assert.ok(m2 instanceof mpi.Message && !m2.isNull);
          await m2.Recv(rbuf);
          assert.ok(m2.isNull);
          await r.wait();
          //
          assert.equal(mpi.Message.Iprobe(comm, 0, 0), null);
          r = comm.Isend(sbuf, 0, 0);
          m = await comm.Mprobe(0, 0);
          assert.ok(m instanceof mpi.Message && !m.isNull);
          await m.Recv(rbuf);
          assert.ok(m.isNull);
          await r.wait();
        } else if (rank === 0) {
          assert.equal(comm.Improbe(0, 0), null);
          await comm.Send(sbuf, 1, 0);
          const m = await comm.Mprobe(1, 0);
          assert.ok(!m.isNull);
          await m.Recv(rbuf);
          assert.ok(m.isNull);
          assert.equal(comm.Improbe(0, 0), null);
          await comm.Send(sbuf, 1, 1);
          let n = comm.Improbe(1, 1);
          while (!n) {
            await turn();
            n = comm.Improbe(1, 1);
          }
          await n.Irecv(rbuf).wait();
        } else if (rank === 1) {
          assert.equal(comm.Improbe(1, 0), null);
          const m = await comm.Mprobe(0, 0);
          assert.ok(!m.isNull);
          await m.Recv(rbuf);
          assert.ok(m.isNull);
          assert.equal(comm.Improbe(1, 0), null);
          await comm.Send(sbuf, 0, 0);
          let n = comm.Improbe(0, 1);
          while (!n) {
            await turn();
            n = comm.Improbe(0, 1);
          }
          await n.Irecv(rbuf).wait();
          await comm.Send(sbuf, 0, 1);
        } else {
          rbuf = sbuf;
        }
        allEqual(rbuf, s, at);
      }
  },

  async "testProbeRecv (object tier): every message through mprobe/recv, Message.probe and Message.iprobe/irecv"({ mpi, comm }) {
    const { size, rank } = comm;
    for (const smsg of MESSAGES) {
      let rmsg: unknown;
      if (size === 1) {
        const sr = comm.isend(smsg, 0, 0);
        let m = await comm.mprobe(0, 0);
        assert.ok(m instanceof mpi.Message && !m.isNull);
        const rr = m.irecv();
        assert.ok(m.isNull);
        assert.ok(sr.active && rr.active);
        [, rmsg] = await mpi.Request.waitall([sr, rr]);
        assert.ok(!sr.active && !rr.active);
        assert.deepEqual(rmsg, smsg);
        const r = comm.isend(smsg, 0, 0);
        m = await mpi.Message.probe(comm, 0, 0);
        assert.ok(m instanceof mpi.Message && !m.isNull);
        rmsg = await m.recv();
        assert.ok(m.isNull);
        await r.wait();
      } else if (rank === 0) {
        await comm.send(smsg, 1, 0);
        const m = await comm.mprobe(1, 0);
        assert.ok(!m.isNull);
        rmsg = await m.recv();
        assert.ok(m.isNull);
        await comm.send(rmsg, 1, 1);
        let n = mpi.Message.iprobe(comm, 1, 1);
        while (!n) {
          await turn();
          n = mpi.Message.iprobe(comm, 1, 1);
        }
        rmsg = await n.irecv().wait();
      } else if (rank === 1) {
        const m = await comm.mprobe(0, 0);
        assert.ok(!m.isNull);
        rmsg = await m.recv();
        assert.ok(m.isNull);
        await comm.send(rmsg, 0, 0);
        let n = mpi.Message.iprobe(comm, 0, 1);
        while (!n) {
          await turn();
          n = mpi.Message.iprobe(comm, 0, 1);
        }
        rmsg = await n.irecv().wait();
        await comm.send(smsg, 0, 1);
      } else {
        rmsg = smsg;
      }
      assert.deepEqual(rmsg, smsg);
    }
  },

  async "a matched message is out of matching: probe, iprobe, Improbe and receives see the next one"({ mpi, comm }) {
    const { right, left } = { right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size };
    await comm.Send(new Int32Array([1, 1]), right, 3);
    await comm.Send(new Int32Array([2, 2, 2]), right, 3);
    const st = new mpi.Status();
    const first = await comm.Mprobe(left, 3, st);
    assert.equal(st.count, 2);
    const st2 = new mpi.Status();
    await comm.probe(left, 3, st2);
    assert.equal(st2.count, 3, "probe sees the second message, not the matched one");
    assert.ok(comm.iprobe(left, 3, st2) && st2.count === 3);
    const rbuf = new Int32Array(3);
    await comm.Recv(rbuf, left, 3, st2);
    assert.deepEqual([st2.count, ...rbuf], [3, 2, 2, 2], "a receive gets the second message");
    assert.equal(comm.Improbe(left, 3), null);
    assert.equal(comm.iprobe(left, 3), false);
    await first.Recv(rbuf, st);
    assert.deepEqual([st.count, ...rbuf.subarray(0, 2)], [2, 1, 1]);
    await assert.rejects(first.Recv(rbuf), codeIs(mpi, "ERR_TSMPI_REQUEST"), "a second receive is an error");
    assert.throws(() => first.irecv(), codeIs(mpi, "ERR_TSMPI_REQUEST"));
    const copy = new mpi.Message(first);
    assert.ok(copy.isNull, "a copy refers to the same, received, message");
  },

  async "two concurrent receivers after Mprobe never race: each gets its own message, sized from its probe"({ mpi, comm }) {
    const { right, left } = { right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size };
    const ROUNDS = 20;
    const receiver = async (): Promise<number[]> => {
      const got: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const st = new mpi.Status();
        const m = await comm.Mprobe(left, 9, st);
        await turn(); // the other receiver runs in between: with probe + Recv it could take this message
        const buf = new Float64Array(st.count);
        const st2 = new mpi.Status();
        await m.Recv(buf, st2);
        assert.equal(st2.count, st.count);
        assert.ok(
          buf.every((v) => v === buf.length),
          `message of ${buf.length} elements holds its own length`,
        );
        got.push(buf.length);
      }
      return got;
    };
    const both = Promise.all([receiver(), receiver()]);
    for (let i = 1; i <= 2 * ROUNDS; i++) {
      await comm.Send(new Float64Array(i).fill(i), right, 9);
      if (i % 5 === 0) await turn();
    }
    const [a, b] = await both;
    assert.deepEqual(
      [...a, ...b].sort((x, y) => x - y),
      range(2 * ROUNDS).map((i) => i + 1),
      "every message received once",
    );
    for (const list of [a, b])
      assert.deepEqual(
        list,
        [...list].sort((x, y) => x - y),
        "each receiver sees them in order",
      );
  },

  async "a synchronous send completes only once its matched message is received"({ comm }) {
    const { right, left } = { right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size };
    const s = comm.issend({ hello: comm.rank }, right, 4);
    const m = await comm.mprobe(left, 4);
    for (let i = 0; i < 5; i++) await turn();
    await comm.barrier(); // every rank has matched; nobody has received
    assert.equal(s.done, false, "not complete while the message is only matched");
    await comm.barrier();
    assert.deepEqual(await m.recv(), { hello: left });
    await s.wait();
  },

  async "large messages (in pieces, or read from the sender's memory) arrive whole through Mprobe and Improbe"({ mpi, comm }) {
    const { right, left } = { right: (comm.rank + 1) % comm.size, left: (comm.rank - 1 + comm.size) % comm.size };
    const n = 400_000; // 3.2 MB: chunked between hosts, single copy on one host
    const big = new Float64Array(n).map((_, i) => i * 0.5 + comm.rank);
    const sreq = comm.Isend(big, right, 6);
    const st = new mpi.Status();
    const m = await comm.Mprobe(left, 6, st);
    assert.equal(st.count, n);
    const rbuf = new Float64Array(st.count);
    await m.Recv(rbuf);
    await sreq.wait();
    assert.ok(
      rbuf.every((v, i) => v === i * 0.5 + left),
      "Mprobe'd array intact",
    );
    // the same as an object, received after the matched probe had to wait
    const sobj = comm.isend({ big, tail: "end" }, right, 7);
    let n2 = comm.improbe(left, 7);
    while (!n2) {
      await turn();
      n2 = comm.improbe(left, 7);
    }
    await new Promise((r) => setTimeout(r, 20)); // the matched message may keep arriving meanwhile
    const got = await n2.recv();
    await sobj.wait();
    assert.equal(got.tail, "end");
    assert.ok(
      got.big.every((v: number, i: number) => v === i * 0.5 + left),
      "improbe'd object intact",
    );
  },
};
