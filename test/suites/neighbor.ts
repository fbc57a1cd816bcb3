/**
 * Neighbourhood collectives (issue 19 item 5), translated from mpi4py's
 * test/test_cco_ngh_obj.py (testNeighborAllgather, testNeighborAlltoall) and
 * test/test_cco_ngh_buf.py (testNeighborAllgather, testNeighborAlltoall; the alltoallw tests
 * need derived datatypes and are left out), on the same three topologies (mpi4py's
 * create_topo_comms, its Cartesian shape rule included), plus what those cannot see because
 * every block carries the same value: which block lands where (MPI's (−1, +1) order per
 * dimension, also where both neighbours are one rank), PROC_NULL blocks left untouched, uneven
 * v-variant counts, and bad sizes.
 */
import assert from "node:assert/strict";
import type { AnyTypedArray, Case, CaseContext } from "./types.js";
import { ALL_KINDS } from "./types.js";

type Mpi = CaseContext["mpi"];
type Comm = CaseContext["comm"];

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** mpi4py's create_topo_comms: a periodic Cartesian grid, a ring graph, a dist graph (r-2, r-1 -> r+1, r+2). */
function topoComms(comm: Comm) {
  const size = comm.size;
  const rank = comm.rank;
  // mpi4py's rule, as written there (size**1 / 2.0): [2, 2] on 4 ranks, [2, 2, 2] on 8, else [size]
  const n = Math.trunc(size / 2);
  const m = Math.trunc(size / 3);
  const dims = m * m * m === size ? [m, m, m] : n * n === size ? [n, n] : [size];
  const cart = comm.Create_cart(dims, new Array<boolean>(dims.length).fill(true))!;
  const index = [0];
  const edges: number[] = [];
  for (let i = 0; i < size; i++) {
    index.push(index[index.length - 1]! + 2);
    edges.push(mod(i - 1, size), mod(i + 1, size));
  }
  const graph = comm.Create_graph(index, edges)!;
  const dist = comm.Create_dist_graph_adjacent([mod(rank - 2, size), mod(rank - 1, size)], [mod(rank + 1, size), mod(rank + 2, size)]);
  return [cart, graph, dist] as const;
}

/** mpi4py's get_neighbors_count. */
function neighborsCount(mpi: Mpi, comm: ReturnType<typeof topoComms>[number]): [number, number] {
  if (comm.topology === mpi.CART) {
    const ndim = (comm as InstanceType<Mpi["Cartcomm"]>).Get_dim();
    return [2 * ndim, 2 * ndim];
  }
  if (comm.topology === mpi.GRAPH) {
    const n = (comm as InstanceType<Mpi["Graphcomm"]>).Get_neighbors_count(comm.rank);
    return [n, n];
  }
  const [i, o] = (comm as InstanceType<Mpi["Distgraphcomm"]>).Get_dist_neighbors_count();
  return [i, o];
}

/** mpi4py's `messages` (complex numbers left out: JavaScript has none; 64-bit integers as BigInt). */
const basic: unknown[] = [null, true, false, -7, 0, 7, 2 ** 31, -(2n ** 63n) + 1n, 2n ** 63n - 1n, -2.17, 0.0, +1.62, "mpi4py"];
const messages: unknown[] = [...basic, [...basic], Object.fromEntries(basic.map((v, k) => [`k${k}`, v]))];
messages.push([...messages]);

const KINDS = ALL_KINDS;
type Kind = (typeof KINDS)[number];
const isBig = (K: Kind): boolean => K === BigInt64Array || K === BigUint64Array;
/** mpi4py's `array(v, typecode, n)`: n elements of value v. */
function filled(K: Kind, v: number, n: number): AnyTypedArray {
  const a = new K(n) as AnyTypedArray;
  a.fill((isBig(K) ? BigInt(v) : v) as never);
  return a;
}
function allEqual(a: AnyTypedArray, v: number, what: string): void {
  for (const x of a) assert.equal(Number(x), v, `${what}: ${Array.from(a as ArrayLike<unknown>, String).join(",")}`);
}

export const cases: Record<string, Case> = {
  // ------------------------------------------------------------ test_cco_ngh_obj.py
  async "ngh obj: testNeighborAllgather"({ mpi, comm }) {
    for (const topo of topoComms(comm)) {
      const [rsize] = neighborsCount(mpi, topo);
      for (const smess of messages) assert.deepEqual(await topo.neighbor_allgather(smess), new Array(rsize).fill(smess));
      topo.Free();
    }
  },
  async "ngh obj: testNeighborAlltoall"({ mpi, comm }) {
    for (const topo of topoComms(comm)) {
      const [rsize, ssize] = neighborsCount(mpi, topo);
      for (const smess of messages)
        assert.deepEqual(await topo.neighbor_alltoall(new Array(ssize).fill(smess)), new Array(rsize).fill(smess));
      topo.Free();
    }
  },

  // ------------------------------------------------------------ test_cco_ngh_buf.py
  async "ngh buf: testNeighborAllgather"({ mpi, comm }) {
    for (const topo of topoComms(comm)) {
      const [rsize] = neighborsCount(mpi, topo);
      for (const K of KINDS) {
        for (let v = 0; v < 3; v++) {
          let rbuf = filled(K, -1, rsize * 3);
          await topo.Neighbor_allgather(filled(K, v, 3), rbuf);
          allEqual(rbuf, v, `${K.name} Neighbor_allgather`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Neighbor_allgatherv(filled(K, v, 3), [rbuf, new Array(rsize).fill(3)]);
          allEqual(rbuf, v, `${K.name} Neighbor_allgatherv`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Ineighbor_allgather(filled(K, v, 3), rbuf).wait();
          allEqual(rbuf, v, `${K.name} Ineighbor_allgather`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Ineighbor_allgatherv(filled(K, v, 3), [rbuf, new Array(rsize).fill(3)]).wait();
          allEqual(rbuf, v, `${K.name} Ineighbor_allgatherv`);
        }
      }
      topo.Free();
    }
  },
  async "ngh buf: testNeighborAlltoall"({ mpi, comm }) {
    for (const topo of topoComms(comm)) {
      const [rsize, ssize] = neighborsCount(mpi, topo);
      for (const K of KINDS) {
        for (let v = 0; v < 3; v++) {
          let rbuf = filled(K, -1, rsize * 3);
          await topo.Neighbor_alltoall(filled(K, v, ssize * 3), [rbuf, rsize * 3]);
          allEqual(rbuf, v, `${K.name} Neighbor_alltoall [buf, count]`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Neighbor_alltoall(filled(K, v, ssize * 3), rbuf);
          allEqual(rbuf, v, `${K.name} Neighbor_alltoall`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Neighbor_alltoallv([filled(K, v, ssize * 3), new Array(ssize).fill(3)], [rbuf, new Array(rsize).fill(3)]);
          allEqual(rbuf, v, `${K.name} Neighbor_alltoallv`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Ineighbor_alltoall(filled(K, v, ssize * 3), rbuf).wait();
          allEqual(rbuf, v, `${K.name} Ineighbor_alltoall`);
          rbuf = filled(K, -1, rsize * 3);
          await topo.Ineighbor_alltoallv([filled(K, v, ssize * 3), new Array(ssize).fill(3)], [rbuf, new Array(rsize).fill(3)]).wait();
          allEqual(rbuf, v, `${K.name} Ineighbor_alltoallv`);
        }
      }
      topo.Free();
    }
  },

  // ------------------------------------------------------------ beyond mpi4py's tests
  async "cart: block 2d comes from the -1 neighbour's +1 block, block 2d+1 from the +1 neighbour's -1 block (dims of 1 and 2 too)"({
    mpi,
    comm,
  }) {
    for (const ndim of [1, 2, 3]) {
      const dims = mpi.Compute_dims(comm.size, ndim);
      const cart = comm.Create_cart(dims, true)!;
      const out: string[] = [];
      for (let d = 0; d < ndim; d++) out.push(`${comm.rank} to -1 of dim ${d}`, `${comm.rank} to +1 of dim ${d}`);
      const expect: string[] = [];
      for (let d = 0; d < ndim; d++) {
        const [minus, plus] = cart.Shift(d, 1);
        expect.push(`${minus} to +1 of dim ${d}`, `${plus} to -1 of dim ${d}`);
      }
      assert.deepEqual(await cart.neighbor_alltoall(out), expect, `dims ${dims}`);
      // the buffer tier places blocks alike
      const send = new Int32Array(out.length * 2).map((_, i) => comm.rank * 1000 + Math.floor(i / 2));
      const recv = new Int32Array(out.length * 2).fill(-1);
      await cart.Neighbor_alltoall(send, recv);
      const want: number[] = [];
      for (let d = 0; d < ndim; d++) {
        const [minus, plus] = cart.Shift(d, 1);
        want.push(minus * 1000 + 2 * d + 1, minus * 1000 + 2 * d + 1, plus * 1000 + 2 * d, plus * 1000 + 2 * d);
      }
      assert.deepEqual(Array.from(recv), want, `dims ${dims}`);
      cart.Free();
    }
  },
  async "cart: PROC_NULL neighbours at open borders leave their blocks untouched"({ mpi, comm }) {
    const cart = comm.Create_cart([comm.size], false)!;
    const [left, right] = cart.Shift(0, 1);
    const fromObj = await cart.neighbor_allgather(comm.rank);
    assert.deepEqual(fromObj, [left === mpi.PROC_NULL ? undefined : left, right === mpi.PROC_NULL ? undefined : right]);
    const recv = new Float64Array(4).fill(-7);
    await cart.Neighbor_allgather(new Float64Array([comm.rank, comm.rank + 0.5]), recv);
    assert.deepEqual(Array.from(recv), [
      ...(left === mpi.PROC_NULL ? [-7, -7] : [left, left + 0.5]),
      ...(right === mpi.PROC_NULL ? [-7, -7] : [right, right + 0.5]),
    ]);
    const recv2 = new Int16Array(2).fill(-7);
    await cart.Ineighbor_alltoall(new Int16Array([10 + comm.rank, 20 + comm.rank]), recv2).wait();
    assert.deepEqual(Array.from(recv2), [left === mpi.PROC_NULL ? -7 : 20 + left, right === mpi.PROC_NULL ? -7 : 10 + right]);
  },
  async "graph and dist graph: each block comes from its own neighbour, with uneven v counts"({ mpi, comm }) {
    const size = comm.size;
    const rank = comm.rank;
    if (size < 3) return; // below 3 ranks the ring's two neighbours are one rank: blocks are told apart only by order
    const [, graph, dist] = topoComms(comm);
    assert.deepEqual(
      await graph.neighbor_alltoall(graph.neighbors.map((n) => `${rank}>${n}`)),
      graph.neighbors.map((n) => `${n}>${rank}`),
    );
    assert.deepEqual(await dist.neighbor_alltoall([`${rank}>+1`, `${rank}>+2`]), [
      `${mod(rank - 2, size)}>+2`,
      `${mod(rank - 1, size)}>+1`,
    ]);
    // block i to destination i has i+1 elements; the -2 source sends 2 here, the -1 source 1
    const send = new Float32Array([rank, rank + 0.25, rank + 0.5]);
    const recv = new Float32Array(5).fill(-1);
    await dist.Neighbor_alltoallv([send, [1, 2], [0, 1]], [recv, [2, 1], [3, 0]]);
    const a = mod(rank - 2, size);
    const b = mod(rank - 1, size);
    assert.deepEqual(Array.from(recv), [b, -1, -1, a + 0.25, a + 0.5]);
    const gathered = new Uint8Array(6).fill(99);
    await dist.Neighbor_allgatherv(new Uint8Array([rank, rank]), [gathered, [2, 2], [4, 0]]);
    assert.deepEqual(Array.from(gathered), [b, b, 99, 99, a, a]);
    void mpi;
  },
  async "large blocks (single-copy sizes) land in their own blocks, a neighbour twice included"({ comm }) {
    const cart = comm.Create_cart([comm.size], true)!;
    const m = 1 << 16; // 512 KiB of Float64 per block: above the single-copy threshold
    const send = new Float64Array(2 * m);
    send.fill(comm.rank + 0.25, 0, m); // to the -1 neighbour
    send.fill(comm.rank + 0.75, m); // to the +1 neighbour
    const recv = new Float64Array(2 * m).fill(-1);
    await cart.Neighbor_alltoall(send, recv);
    const [minus, plus] = cart.Shift(0, 1);
    assert.ok(
      recv.subarray(0, m).every((v) => v === minus + 0.75),
      "block 0: the -1 neighbour's +1 block",
    );
    assert.ok(
      recv.subarray(m).every((v) => v === plus + 0.25),
      "block 1: the +1 neighbour's -1 block",
    );
    const all = new Float64Array(4 * m).fill(-1);
    await cart.Neighbor_allgather(send, all);
    assert.equal(all[0], minus + 0.25);
    assert.equal(all[2 * m - 1], minus + 0.75);
    assert.equal(all[2 * m], plus + 0.25);
    assert.equal(all[4 * m - 1], plus + 0.75);
    cart.Free();
  },
  async "neighbour collectives: bad sizes reject with a code; outstanding calls complete in order"({ mpi, comm }) {
    const cart = comm.Create_cart([comm.size], true)!;
    await assert.rejects(cart.Neighbor_allgather(new Int32Array(2), new Int32Array(3)), { code: "ERR_TSMPI_COUNT" });
    await assert.rejects(cart.Neighbor_alltoall(new Int32Array(3), new Int32Array(2)), { code: "ERR_TSMPI_COUNT" });
    await assert.rejects(cart.Neighbor_allgather(new Int32Array(2), new Float64Array(4)), { code: "ERR_TSMPI_TYPE" });
    await assert.rejects(cart.neighbor_alltoall([1]), { code: "ERR_TSMPI_COUNT" });
    // several outstanding calls on one communicator match by issue order
    const reqs = [cart.ineighbor_allgather("a"), cart.ineighbor_allgather("b"), cart.ineighbor_alltoall(["c", "d"])];
    const [a, b, c] = await mpi.Request.waitall(reqs);
    assert.deepEqual(a, ["a", "a"]);
    assert.deepEqual(b, ["b", "b"]);
    assert.deepEqual(c, ["d", "c"]);
    // the communicator still works afterwards
    assert.equal(await cart.allreduce(1), comm.size);
  },
};
