/**
 * Intercommunicators (issue 19 item 6), translated from mpi4py's test/test_comm_inter.py,
 * test/test_cco_obj_inter.py and test/test_cco_buf_inter.py, assertion for assertion where the
 * semantics carry over, on the intercommunicator their setUp builds (the lower half of the
 * communicator under test against the upper half) and on its Dup (their *DupDup classes); their
 * *Dup classes are the "dup" runs. Plus what they leave open: point-to-point between the groups
 * (both tiers, nonblocking, probes, statuses), isolation of the contexts, Merge both ways, Create,
 * several outstanding collectives, bad input. Like mpi4py's, they need two ranks: on one rank
 * (and COMM_SELF) each case returns at once.
 */
import assert from "node:assert/strict";
import type { Intercomm, TypedArray } from "tsmpi";
import type { Case, CaseContext } from "./types.js";

type Mpi = CaseContext["mpi"];
type Comm = CaseContext["comm"];

interface Setup {
  mpi: Mpi;
  base: Comm;
  COLOR: number;
  intra: Comm;
  inter: Intercomm;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** mpi4py's setUp: the lower half (color 0) and the upper half (color 1), leaders their first ranks. */
async function setUp(t: CaseContext): Promise<Setup | null> {
  const { comm: base, mpi } = t;
  if (base.size < 2) return null; // @skipIf(size < 2)
  const size = base.size;
  const COLOR = base.rank < Math.floor(size / 2) ? 0 : 1;
  const REMOTE_LEADER = COLOR === 0 ? Math.floor(size / 2) : 0;
  const intra = (await base.Split(COLOR, 0))!;
  const inter = await intra.Create_intercomm(0, base, REMOTE_LEADER);
  return { mpi, base, COLOR, intra, inter };
}

/** Runs `body` on the intercommunicator of {@link setUp} and on its Dup (mpi4py's *DupDup), freeing them after. */
function each(body: (s: Setup) => Promise<void>): Case {
  return async (t) => {
    for (const dupdup of [false, true]) {
      const s = await setUp(t);
      if (!s) return;
      if (dupdup) {
        const orig = s.inter;
        s.inter = orig.Dup();
        orig.Free();
      }
      try {
        await body(s);
      } catch (err) {
        if (err instanceof Error) err.message = `${dupdup ? "on a Dup of the intercomm: " : ""}${err.message}`;
        throw err;
      }
      s.intra.Free();
      s.inter.Free();
    }
  };
}

/** mpi4py's `messages` of test_cco_obj_inter.py, less the complex numbers (JavaScript has none). */
const basic: unknown[] = [null, true, false, -7, 0, 7, 2 ** 31, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, +1.62, "mpi4py"];
const messages: unknown[] = [...basic, [...basic], Object.fromEntries(basic.map((v, k) => [`k${k}`, v]))];

/** Typed-array kinds standing for arrayimpl's typecodes. */
const KINDS = [Int8Array, Uint8Array, Int16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array] as const;
type Kind = (typeof KINDS)[number];
const isBig = (K: Kind): boolean => K === BigInt64Array;
/** arrayimpl's `array(value, typecode, n)`: n copies of value. */
function array(K: Kind, value: number, n: number): TypedArray {
  const a = new K(n);
  a.fill((isBig(K) ? BigInt(value) : value) as never);
  return a;
}
function fromList(K: Kind, values: number[]): TypedArray {
  return isBig(K) ? new BigInt64Array(values.map(BigInt)) : new (K as Exclude<Kind, typeof BigInt64Array>)(values);
}
const num = (v: unknown): number => Number(v);
/** test_cco_buf_inter.py's maxvalue. */
const maxvalue = (K: Kind): number => (K === Float32Array ? 1e30 : K === Float64Array ? 1e300 : 2 ** (K.BYTES_PER_ELEMENT * 7) - 1);

function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(p, (e: { code?: string }) => e.code === code, `expected ${code}`);
}

export const cases: Record<string, Case> = {
  async "ROOT is a negative integer distinct from the other special ranks and tags"({ mpi }) {
    const special = [mpi.ROOT, mpi.ANY_SOURCE, mpi.ANY_TAG, mpi.PROC_NULL, mpi.UNDEFINED];
    assert.ok(Number.isInteger(mpi.ROOT) && mpi.ROOT < 0);
    assert.equal(new Set(special).size, special.length);
  },
  // ------------------------------------------------------------------ test_comm_inter.py
  "testConstructor (as classes)": each(async ({ mpi, intra, inter }) => {
    assert.ok(inter instanceof mpi.Intercomm);
    assert.ok(inter instanceof mpi.Comm);
    assert.ok(!(intra instanceof mpi.Intercomm));
  }),
  testLocalGroupSizeRank: each(async ({ inter }) => {
    const local = inter.Get_group();
    assert.equal(local.size, inter.Get_size());
    assert.equal(local.size, inter.size);
    assert.equal(local.rank, inter.Get_rank());
    assert.equal(local.rank, inter.rank);
    local.Free();
  }),
  testRemoteGroupSize: each(async ({ inter }) => {
    const remote = inter.Get_remote_group();
    assert.equal(remote.size, inter.Get_remote_size());
    assert.equal(remote.size, inter.remote_size);
    remote.Free();
  }),
  testMerge: each(async ({ base, inter }) => {
    const high = !(base.rank < Math.floor(base.size / 2));
    const intra = await inter.Merge(high);
    assert.equal(intra.size, base.size);
    assert.equal(intra.rank, base.rank);
    intra.Free();
  }),
  testSplit: each(async ({ mpi, inter: base }) => {
    let comm = (await base.Split(42, 42))!;
    assert.equal(comm.Get_rank(), base.Get_rank());
    assert.equal(comm.Get_size(), base.Get_size());
    assert.equal(comm.Get_remote_size(), base.Get_remote_size());
    comm.Free();
    const color = base.Get_rank();
    const c = await base.Split(color, 42);
    if (c !== mpi.COMM_NULL) {
      comm = c;
      assert.equal(comm.Get_rank(), 0);
      assert.equal(comm.Get_size(), 1);
      assert.equal(comm.Get_remote_size(), 1);
      comm.Free();
    }
  }),
  testPyProps: each(async ({ mpi, inter: comm }) => {
    assert.equal(comm.rank, comm.Get_rank());
    assert.equal(comm.size, comm.Get_size());
    assert.equal(comm.remote_size, comm.Get_remote_size());
    const group = comm.remote_group;
    assert.ok(group instanceof mpi.Group);
    group.Free();
    assert.equal(comm.is_inter, true);
    assert.equal(comm.is_intra, false);
    assert.equal(comm.Is_inter(), true);
    assert.equal(comm.Is_intra(), false);
  }),

  // ------------------------------------------------------------------ test_cco_obj_inter.py
  "obj: testBarrier": each(async ({ inter }) => {
    await inter.barrier();
    await inter.Barrier();
  }),
  "obj: testBcast": each(async ({ mpi, COLOR, inter }) => {
    const { rank, size, remote_size: rsize } = inter;
    for (const smess of [...messages, messages]) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            const rmess = root === rank ? await inter.bcast(smess, mpi.ROOT) : await inter.bcast(null, mpi.PROC_NULL);
            assert.equal(rmess, undefined);
          }
        } else {
          for (const root of range(rsize)) assert.deepEqual(await inter.bcast(null, root), smess);
        }
      }
    }
  }),
  "obj: testGather": each(async ({ mpi, COLOR, inter }) => {
    const { rank, size, remote_size: rsize } = inter;
    for (const smess of [...messages, messages]) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            if (root === rank) assert.deepEqual(await inter.gather(smess, mpi.ROOT), new Array(rsize).fill(smess));
            else assert.equal(await inter.gather(null, mpi.PROC_NULL), undefined);
          }
        } else {
          for (const root of range(rsize)) assert.equal(await inter.gather(smess, root), undefined);
        }
      }
    }
  }),
  "obj: testScatter": each(async ({ mpi, COLOR, inter }) => {
    const { rank, size, remote_size: rsize } = inter;
    for (const smess of [...messages, messages]) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            const rmess =
              root === rank ? await inter.scatter(new Array(rsize).fill(smess), mpi.ROOT) : await inter.scatter(null, mpi.PROC_NULL);
            assert.equal(rmess, undefined);
          }
        } else {
          for (const root of range(rsize)) assert.deepEqual(await inter.scatter(null, root), smess);
        }
      }
    }
  }),
  "obj: testAllgather": each(async ({ inter }) => {
    for (const smess of [...messages, messages]) assert.deepEqual(await inter.allgather(smess), new Array(inter.remote_size).fill(smess));
  }),
  "obj: testAlltoall": each(async ({ inter }) => {
    const rsize = inter.remote_size;
    for (const smess of [...messages, messages])
      assert.deepEqual(await inter.alltoall(new Array(rsize).fill(smess)), new Array(rsize).fill(smess));
  }),
  "obj: testReduce": each(async ({ mpi, COLOR, inter }) => {
    const { rank, size, remote_size: rsize } = inter;
    const { Op } = mpi;
    for (const op of [Op.SUM, Op.MAX, Op.MIN, Op.PROD]) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            if (root === rank) {
              const value = await inter.reduce(null, op, mpi.ROOT);
              if (op === Op.SUM)
                assert.equal(
                  value,
                  range(rsize).reduce((a, b) => a + b, 0),
                );
              else if (op === Op.PROD)
                assert.equal(
                  value,
                  range(rsize).reduce((a, b) => a * b, 1),
                );
              else if (op === Op.MAX) assert.equal(value, rsize - 1);
              else assert.equal(value, 0);
            } else {
              assert.equal(await inter.reduce(null, op, mpi.PROC_NULL), undefined);
            }
          }
        } else {
          for (const root of range(rsize)) assert.equal(await inter.reduce(rank, op, root), undefined);
        }
      }
    }
    // badroots = {-3, -2, -1, rsize} minus {ROOT, PROC_NULL}
    for (const root of [-2, -1, rsize, -5, 0.5]) await rejectsCode(inter.reduce(null, Op.NO_OP, root), "ERR_TSMPI_ROOT");
  }),
  "obj: testAllreduce": each(async ({ mpi, inter }) => {
    const { rank, remote_size: rsize } = inter;
    const { Op } = mpi;
    for (const op of [Op.SUM, Op.MAX, Op.MIN, Op.PROD]) {
      const value = await inter.allreduce(rank, op);
      if (op === Op.SUM)
        assert.equal(
          value,
          range(rsize).reduce((a, b) => a + b, 0),
        );
      else if (op === Op.PROD)
        assert.equal(
          value,
          range(rsize).reduce((a, b) => a * b, 1),
        );
      else if (op === Op.MAX) assert.equal(value, rsize - 1);
      else assert.equal(value, 0);
    }
  }),

  // ------------------------------------------------------------------ test_cco_buf_inter.py
  "buf: testBarrier": each(async ({ inter }) => {
    await inter.Barrier();
  }),
  "buf: testBcast": each(async ({ mpi, COLOR, inter: comm }) => {
    const { rank, size, remote_size: rsize } = comm;
    for (const K of KINDS) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            if (root === rank) await comm.Bcast(array(K, root, root + color), mpi.ROOT);
            else await comm.Bcast(null, mpi.PROC_NULL);
          }
        } else {
          for (const root of range(rsize)) {
            const buf = array(K, -1, root + color);
            await comm.Bcast(buf, root);
            for (const value of buf) assert.equal(num(value), root);
          }
        }
      }
    }
  }),
  "buf: testGather": each(async ({ mpi, COLOR, inter: comm }) => {
    const { rank, size, remote_size: rsize } = comm;
    for (const K of KINDS) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            if (root === rank) {
              const rbuf = array(K, -1, rsize * (root + color));
              await comm.Gather(null, rbuf, mpi.ROOT);
              for (const value of rbuf) assert.equal(num(value), root);
            } else {
              await comm.Gather(null, null, mpi.PROC_NULL);
            }
          }
        } else {
          for (const root of range(rsize)) await comm.Gather(array(K, root, root + color), null, root);
        }
      }
    }
  }),
  "buf: testScatter": each(async ({ mpi, COLOR, inter: comm }) => {
    const { rank, size, remote_size: rsize } = comm;
    for (const K of KINDS) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const root of range(size)) {
            if (root === rank) await comm.Scatter(array(K, root, rsize * (root + color)), null, mpi.ROOT);
            else await comm.Scatter(null, null, mpi.PROC_NULL);
          }
        } else {
          for (const root of range(rsize)) {
            const rbuf = array(K, root, root + color);
            await comm.Scatter(null, rbuf, root);
            for (const value of rbuf) assert.equal(num(value), root);
          }
        }
      }
    }
  }),
  "buf: testAllgather": each(async ({ COLOR, inter: comm }) => {
    const { size, remote_size: rsize } = comm;
    for (const K of KINDS) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const n of range(size)) {
            const rbuf = array(K, -1, rsize * (n + color));
            await comm.Allgather(array(K, n, color), rbuf);
            for (const value of rbuf) assert.equal(num(value), n);
          }
        } else {
          for (const n of range(rsize)) {
            const rbuf = array(K, -1, rsize * color);
            await comm.Allgather(array(K, n, n + color), rbuf);
            for (const value of rbuf) assert.equal(num(value), n);
          }
        }
      }
    }
  }),
  "buf: testAlltoall": each(async ({ COLOR, inter: comm }) => {
    const { size, remote_size: rsize } = comm;
    for (const K of KINDS) {
      for (const color of [0, 1]) {
        if (COLOR === color) {
          for (const n of range(size)) {
            const rbuf = array(K, -1, rsize * (n + 3 * color));
            await comm.Alltoall(array(K, n, rsize * ((n + 1) * color)), rbuf);
            for (const value of rbuf) assert.equal(num(value), n);
          }
        } else {
          for (const n of range(rsize)) {
            const rbuf = array(K, -1, rsize * ((n + 1) * color));
            await comm.Alltoall(array(K, n, rsize * (n + 3 * color)), rbuf);
            for (const value of rbuf) assert.equal(num(value), n);
          }
        }
      }
    }
  }),
  "buf: testReduce": each(async ({ mpi, COLOR, inter: comm }) => {
    const { rank, size: lsize, remote_size: rsize } = comm;
    const { Op } = mpi;
    for (const K of KINDS) {
      for (const op of [Op.SUM, Op.PROD, Op.MAX, Op.MIN]) {
        for (const color of [0, 1]) {
          if (COLOR === color) {
            for (const root of range(lsize)) {
              if (root === rank) {
                const rbuf = array(K, -1, rsize);
                await comm.Reduce(null, rbuf, op, mpi.ROOT);
                checkReduced(K, op, Op, rbuf, rsize);
              } else {
                await comm.Reduce(null, null, op, mpi.PROC_NULL);
              }
            }
          } else {
            for (const root of range(rsize)) await comm.Reduce(fromList(K, range(lsize)), null, op, root);
          }
        }
      }
    }
  }),
  "buf: testAllreduce": each(async ({ mpi, inter: comm }) => {
    const rsize = comm.remote_size;
    const { Op } = mpi;
    for (const K of KINDS) {
      for (const op of [Op.SUM, Op.PROD, Op.MAX, Op.MIN]) {
        const rbuf = array(K, -1, 5);
        await comm.Allreduce(fromList(K, range(5)), rbuf, op);
        checkReduced(K, op, Op, rbuf, rsize);
      }
    }
  }),
  "buf: testReduceScatter / testReduceScatterBlock (not on intercomms yet: rejected)": each(async ({ mpi, inter: comm }) => {
    const s = new Int32Array(comm.size * comm.remote_size);
    const r = new Int32Array(comm.remote_size);
    await rejectsCode(comm.Reduce_scatter_block(s, r, mpi.Op.SUM), "ERR_TSMPI_COMM");
    await rejectsCode(comm.Reduce_scatter(s, r, new Array(comm.size).fill(comm.remote_size), mpi.Op.SUM), "ERR_TSMPI_COMM");
    await rejectsCode(comm.scan(1), "ERR_TSMPI_COMM");
  }),

  // ------------------------------------------------------------------ beyond mpi4py's tests
  "p2p: both tiers, nonblocking, probes and statuses name remote ranks": each(async ({ mpi, COLOR, inter }) => {
    const { rank, remote_size: rsize } = inter;
    // every rank sends to every remote rank, object and buffer tier, then receives from each
    const sends: Promise<void>[] = [];
    for (const dest of range(rsize)) {
      sends.push(inter.send({ from: rank, color: COLOR, to: dest }, dest, 5));
      sends.push(inter.Isend(new Float64Array([COLOR, rank, dest]), dest, 6).wait());
    }
    for (const src of range(rsize)) {
      const st = new mpi.Status();
      assert.equal(await inter.probe(src, 5, st), true);
      assert.equal(st.source, src);
      assert.equal(st.tag, 5);
      assert.deepEqual(await inter.recv(src, 5, st), { from: src, color: 1 - COLOR, to: rank });
      assert.equal(st.source, src);
      const buf = new Float64Array(3);
      const req = inter.Irecv(buf, src, 6);
      await req.wait(st);
      assert.deepEqual([...buf], [1 - COLOR, src, rank]);
      assert.equal(st.source, src);
      assert.equal(st.count, 3);
    }
    await Promise.all(sends);
    // sendrecv from ANY_SOURCE between rank r and remote rank r; ssend completes once matched
    if (rank < rsize) {
      const st = new mpi.Status();
      const got = await inter.sendrecv(`${COLOR}:${rank}`, rank, 7, mpi.ANY_SOURCE, 7, st);
      assert.equal(got, `${1 - COLOR}:${rank}`);
      assert.equal(st.source, rank);
      if (COLOR === 0) await inter.ssend("sync", rank, 8);
      else assert.equal(await inter.recv(rank, 8), "sync");
    }
    await inter.barrier();
    // iprobe finds nothing pending; PROC_NULL is a no-op
    assert.equal(inter.iprobe(mpi.ANY_SOURCE, mpi.ANY_TAG), false);
    await inter.send("nothing", mpi.PROC_NULL);
    assert.equal(await inter.recv(mpi.PROC_NULL), undefined);
    // ranks are remote ranks: remote_size is out of range even where the local group is larger
    assert.throws(() => inter.isend(1, rsize), { code: "ERR_TSMPI_RANK" });
    assert.throws(() => inter.irecv(rsize), { code: "ERR_TSMPI_RANK" });
    assert.throws(() => inter.isend(1, mpi.ROOT), { code: "ERR_TSMPI_RANK" });
  }),
  "p2p: an intercomm's messages never match its parents', its dup's or the merged comm's": each(
    async ({ mpi, base, COLOR, intra, inter }) => {
      const merged = await inter.Merge(COLOR === 1);
      const dup = inter.dup();
      // rank 0 of each group sends to remote rank 0 on every communicator with one tag
      if (inter.rank === 0) {
        const peerInBase = COLOR === 0 ? Math.floor(base.size / 2) : 0;
        await dup.send("dup", 0, 9);
        await inter.send("inter", 0, 9);
        await base.send("base", peerInBase, 9);
        await merged.send("merged", peerInBase, 9);
        if (intra.size > 1) await intra.send("intra", 1, 9);
        assert.equal(await merged.recv(mpi.ANY_SOURCE, 9), "merged");
        assert.equal(await base.recv(mpi.ANY_SOURCE, 9), "base");
        assert.equal(await inter.recv(mpi.ANY_SOURCE, 9), "inter");
        assert.equal(await dup.recv(mpi.ANY_SOURCE, 9), "dup");
      }
      if (inter.rank === 1) assert.equal(await intra.recv(0, 9), "intra");
      dup.Free();
      merged.Free();
    },
  ),
  "Merge: high puts a group last; the same high on both keeps the lower world ranks first": each(async ({ mpi, base, COLOR, inter }) => {
    const size = base.size;
    const half = Math.floor(size / 2);
    const world = mpi.COMM_WORLD.rank;
    for (const [high, firstColor] of [
      [COLOR === 0, 1],
      [COLOR === 1, 0],
      [false, 0],
      [true, 0],
    ] as const) {
      const m = await inter.Merge(high);
      assert.equal(m.size, size);
      assert.equal(m.is_inter, false);
      const expected = firstColor === COLOR ? inter.rank : (firstColor === 0 ? half : size - half) + inter.rank;
      assert.equal(m.rank, expected, `Merge(${high})`);
      // the merged communicator works: everyone learns everyone's world rank
      const all = await m.allgather(world);
      assert.equal(all[m.rank], world);
      assert.equal(new Set(all).size, size);
      m.Free();
    }
  }),
  "dup and Create: same groups, new contexts; non-members get null": each(async ({ mpi, inter }) => {
    const d = inter.dup();
    assert.ok(d instanceof mpi.Intercomm);
    assert.equal(d.rank, inter.rank);
    assert.equal(d.remote_size, inter.remote_size);
    assert.deepEqual(await d.allgather(inter.rank), range(inter.remote_size));
    const [c, req] = inter.Idup();
    await req.wait();
    assert.ok(c instanceof mpi.Intercomm);
    c.Free();
    d.Free();
    // Create with the whole local group: congruent groups
    const all = (await inter.Create(inter.Get_group()))!;
    assert.equal(all.rank, inter.rank);
    assert.equal(all.size, inter.size);
    assert.equal(all.remote_size, inter.remote_size);
    assert.deepEqual(await all.allgather(all.rank), range(all.remote_size));
    all.Free();
    // Create with each group's rank 0 only: a 1 x 1 intercomm between the leaders
    const g = inter.Get_group().Incl([0]);
    const leaders = await inter.Create(g);
    if (inter.rank === 0) {
      assert.ok(leaders);
      assert.equal(leaders.size, 1);
      assert.equal(leaders.remote_size, 1);
      assert.equal(await leaders.sendrecv("hi", 0, 1, 0, 1), "hi");
      leaders.Free();
    } else {
      assert.equal(leaders, mpi.COMM_NULL);
    }
    // the empty group: null everywhere
    assert.equal(await inter.Create(mpi.GROUP_EMPTY), mpi.COMM_NULL);
  }),
  "split: colors pick members on both sides; UNDEFINED and one-sided colors give null": each(async ({ mpi, COLOR, inter }) => {
    // even local ranks take color 0, odd ones color 1, ordered by descending key
    const s = await inter.split(inter.rank % 2, -inter.rank);
    const mine = range(inter.size)
      .filter((r) => r % 2 === inter.rank % 2)
      .reverse();
    const theirs = range(inter.remote_size)
      .filter((r) => r % 2 === inter.rank % 2)
      .reverse();
    if (theirs.length === 0) {
      assert.equal(s, mpi.COMM_NULL);
    } else {
      assert.ok(s);
      assert.equal(s.size, mine.length);
      assert.equal(s.rank, mine.indexOf(inter.rank));
      assert.equal(s.remote_size, theirs.length);
      // the remote ranks, in their new order, tell their old ranks
      assert.deepEqual(await s.allgather(inter.rank), theirs);
      s.Free();
    }
    // group 1 passes UNDEFINED: null on both sides (group 0 finds no remote member)
    assert.equal(await inter.split(COLOR === 0 ? 3 : mpi.UNDEFINED), mpi.COMM_NULL);
    await rejectsCode(inter.split(-7), "ERR_TSMPI_ARG");
  }),
  "outstanding collectives complete in issue order": each(async ({ mpi, COLOR, inter }) => {
    const reqs = [
      inter.Ibarrier(),
      inter.iallreduce(1),
      inter.ibcast(COLOR === 0 ? (inter.rank === 0 ? "x" : null) : null, COLOR === 0 ? (inter.rank === 0 ? mpi.ROOT : mpi.PROC_NULL) : 0),
      inter.Iallreduce(new Int32Array([inter.rank]), new Int32Array(1)),
    ];
    const values = await mpi.Request.waitall(reqs);
    assert.equal(values[1], inter.remote_size);
    assert.equal(values[2], COLOR === 1 ? "x" : undefined);
  }),
  "a size mismatch fails every rank of the group that receives, and leaves the intercomm usable": each(async ({ mpi, COLOR, inter }) => {
    // group 0's rank 0 broadcasts 4 elements; group 1 expects 5: its leader sees the mismatch,
    // its other ranks (waiting for the leader) fail with the same code instead of hanging
    if (COLOR === 0) {
      await inter.Bcast(new Int32Array(4), inter.rank === 0 ? mpi.ROOT : mpi.PROC_NULL);
    } else {
      await rejectsCode(inter.Bcast(new Int32Array(5), 0), "ERR_TSMPI_COUNT");
    }
    // group 1 receives 3 elements per remote rank where group 0 sends 2 each
    const r = new Int32Array(inter.remote_size * (COLOR === 1 ? 3 : 2));
    const done = inter.Allgather(new Int32Array(2).fill(inter.rank), r);
    if (COLOR === 1) await rejectsCode(done, "ERR_TSMPI_COUNT");
    // group 0 got what it expected, unless group 1's notice of the failure came first
    else await done.catch((e: { code?: string }) => assert.equal(e.code, "ERR_TSMPI_COUNT"));
    // group 1's rank 1 passes a shorter block to a Gather at group 0's rank 0: group 1's leader
    // fails in the local part and tells the root (its rank 0 too), which stops waiting
    if ((COLOR === 1 ? inter.size : inter.remote_size) >= 2) {
      const either = (p: Promise<void>) => p.catch((e: { code?: string }) => assert.equal(e.code, "ERR_TSMPI_COUNT"));
      if (COLOR === 0) {
        const p = inter.Gather(null, new Int32Array(2 * inter.remote_size), inter.rank === 0 ? mpi.ROOT : mpi.PROC_NULL);
        await (inter.rank === 0 ? rejectsCode(p, "ERR_TSMPI_COUNT") : p);
      } else {
        const p = inter.Gather(new Int32Array(inter.rank === 1 ? 1 : 2), null, 0);
        await (inter.rank === 0 ? rejectsCode(p, "ERR_TSMPI_COUNT") : either(p));
      }
    }
    assert.deepEqual(await inter.allgather(inter.rank), range(inter.remote_size));
  }),
  "bad input": each(async ({ mpi, base, intra, inter }) => {
    await rejectsCode(inter.bcast(1, inter.remote_size), "ERR_TSMPI_ROOT");
    await rejectsCode(inter.Bcast(new Int32Array(1), -1), "ERR_TSMPI_ROOT");
    await rejectsCode(inter.scatter([], mpi.ROOT), "ERR_TSMPI_COUNT");
    await rejectsCode(inter.alltoall([]), "ERR_TSMPI_COUNT");
    await rejectsCode(inter.Allreduce(mpi.IN_PLACE, new Int32Array(1)), "ERR_TSMPI_TYPE");
    assert.throws(() => inter.Create_cart([inter.size]), { code: "ERR_TSMPI_COMM" });
    await rejectsCode(inter.Create_intercomm(0, base, 0), "ERR_TSMPI_COMM");
    await rejectsCode(intra.Create_intercomm(intra.size, base, 0), "ERR_TSMPI_ROOT");
    // overlapping groups: both "groups" are the whole communicator (on every rank)
    await rejectsCode(base.Create_intercomm(0, base, 0, 11), "ERR_TSMPI_ARG");
    await inter.barrier();
  }),
};

/** test_cco_buf_inter.py's checks of a reduction of `range(n)` over `rsize` ranks. */
function checkReduced(K: Kind, op: unknown, Op: Mpi["Op"], rbuf: TypedArray, rsize: number): void {
  const max = maxvalue(K);
  [...rbuf].forEach((v, i) => {
    const value = num(v);
    if (op === Op.SUM) {
      if (i * rsize < max) assert.equal(value, i * rsize);
    } else if (op === Op.PROD) {
      if (i ** rsize < max) assert.equal(value, i ** rsize);
    } else {
      assert.equal(value, i);
    }
  });
}
