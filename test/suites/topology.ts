/**
 * Process topologies (issue 19 items 3 and 4), translated from mpi4py's test/test_comm_topo.py
 * (TestTopoConstructor where it carries over, BaseTestTopo: testCartcomm, testCartcommZeroDim,
 * testGraphcomm, testDistgraphcommAdjacent, testDistgraphcomm, testCartMap, testGraphMap)
 * assertion for assertion, plus what those leave open: open borders, wrap-around, Sub's
 * members, ranks beyond the grid, dups keeping the topology, edges named by other ranks.
 */
import assert from "node:assert/strict";
import type { Case } from "./types.js";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** mpi4py's ring graph: `index` with a leading 0, node i's neighbours i-1 and i+1. */
function ring(size: number): { index: number[]; edges: number[] } {
  const index = [0];
  const edges: number[] = [];
  for (let i = 0; i < size; i++) {
    index.push(index[index.length - 1]! + 2);
    edges.push(mod(i - 1, size), mod(i + 1, size));
  }
  return { index, edges };
}

export const cases: Record<string, Case> = {
  // ------------------------------------------------------------ TestTopoConstructor
  async "topo: testConstructor* (what carries over)"({ mpi }) {
    const cart = mpi.COMM_SELF.Create_cart([1])!;
    assert.ok(cart instanceof mpi.Cartcomm && cart instanceof mpi.Topocomm && cart instanceof mpi.Comm);
    assert.ok(!(cart instanceof mpi.Graphcomm) && !(cart instanceof mpi.Distgraphcomm));
    cart.Free();
    const graph = mpi.COMM_SELF.Create_graph([0, 1], [0])!;
    assert.ok(graph instanceof mpi.Graphcomm && !(graph instanceof mpi.Cartcomm));
    graph.Free();
    const dist = await mpi.COMM_SELF.Create_dist_graph([], [], []);
    assert.ok(dist instanceof mpi.Distgraphcomm && !(dist instanceof mpi.Graphcomm));
    dist.Free();
    assert.throws(() => mpi.COMM_SELF.Create_dist_graph_adjacent([0], [0], mpi.WEIGHTS_EMPTY, mpi.WEIGHTS_EMPTY), {
      code: "ERR_TSMPI_ARG",
    });
  },

  // ------------------------------------------------------------ BaseTestTopo
  async "topo: testCartcomm"({ mpi, comm }) {
    const size = comm.Get_size();
    for (const ndim of [1, 2, 3, 4, 5]) {
      const dims = mpi.Compute_dims(size, new Array<number>(ndim).fill(0));
      const periods = new Array<boolean>(dims.length).fill(true);
      const topo = comm.Create_cart(dims, periods)!;
      assert.ok(topo.is_topo);
      assert.equal(topo.topology, mpi.CART);
      assert.equal(topo.dim, dims.length);
      assert.equal(topo.ndim, dims.length);
      const coords = topo.coords;
      assert.deepEqual(coords, topo.Get_coords(topo.rank));
      assert.deepEqual(topo.topo, [dims, periods, coords]);
      const neighbors: number[] = [];
      const coordinates = topo.Get_coords(topo.rank);
      for (let i = 0; i < ndim; i++) {
        for (const d of [-1, +1]) {
          const coord = [...coordinates];
          coord[i] = mod(coord[i]! + d, dims[i]!);
          const neigh = topo.Get_cart_rank(coord);
          assert.deepEqual(coord, topo.Get_coords(neigh));
          const [, dest] = topo.Shift(i, d);
          assert.equal(neigh, dest);
          neighbors.push(neigh);
        }
      }
      assert.equal(topo.indegree, neighbors.length);
      assert.equal(topo.outdegree, neighbors.length);
      assert.deepEqual(topo.inedges, neighbors);
      assert.deepEqual(topo.outedges, neighbors);
      const [inedges, outedges] = topo.inoutedges;
      assert.deepEqual(inedges, neighbors);
      assert.deepEqual(outedges, neighbors);
      if (ndim === 1) {
        topo.Free();
        continue;
      }
      for (let i = 0; i < ndim; i++) {
        const rem = new Array<boolean>(ndim).fill(true);
        rem[i] = false;
        const sub = topo.Sub(rem);
        assert.equal(sub.dim, ndim - 1);
        const d = topo.dims;
        d.splice(i, 1);
        assert.deepEqual(sub.dims, d);
        sub.Free();
      }
      topo.Free();
    }
    assert.throws(() => comm.Create_cart([comm.Get_size()], []), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => comm.Create_cart([comm.Get_size()], [false, false]), { code: "ERR_TSMPI_ARG" });
  },
  async "topo: testCartcommZeroDim"({ comm }) {
    const topo = comm.Create_cart([]);
    if (topo === null) {
      assert.notEqual(comm.rank, 0, "rank 0 is the one process of a 0-dimensional grid");
      return;
    }
    assert.equal(comm.rank, 0);
    assert.equal(topo.dim, 0);
    assert.deepEqual(topo.dims, []);
    assert.deepEqual(topo.periods, []);
    assert.deepEqual(topo.coords, []);
    assert.equal(topo.Get_cart_rank([]), 0);
    const [inedges, outedges] = topo.inoutedges;
    assert.deepEqual(inedges, []);
    assert.deepEqual(outedges, []);
    topo.Free();
  },
  async "topo: testGraphcomm"({ mpi, comm }) {
    const size = comm.Get_size();
    const rank = comm.Get_rank();
    const { index, edges } = ring(size);
    let topo = comm.Create_graph(index.slice(1), edges)!;
    assert.ok(topo.is_topo);
    assert.equal(topo.topology, mpi.GRAPH);
    topo.Free();
    topo = comm.Create_graph(index, edges)!;
    assert.deepEqual(topo.dims, [index.length - 1, edges.length]);
    assert.equal(topo.nnodes, index.length - 1);
    assert.equal(topo.nedges, edges.length);
    assert.deepEqual(topo.index, index.slice(1));
    assert.deepEqual(topo.edges, edges);
    assert.deepEqual(topo.topo, [index.slice(1), edges]);
    const neighbors = edges.slice(index[rank], index[rank + 1]);
    assert.deepEqual(neighbors, topo.neighbors);
    assert.equal(neighbors.length, topo.nneighbors);
    for (let r = 0; r < size; r++) assert.deepEqual(topo.Get_neighbors(r), [mod(r - 1, size), mod(r + 1, size)]);
    assert.equal(topo.indegree, neighbors.length);
    assert.equal(topo.outdegree, neighbors.length);
    assert.deepEqual(topo.inedges, neighbors);
    assert.deepEqual(topo.outedges, neighbors);
    const [inedges, outedges] = topo.inoutedges;
    assert.deepEqual(inedges, neighbors);
    assert.deepEqual(outedges, neighbors);
    topo.Free();
  },
  async "topo: testDistgraphcommAdjacent"({ mpi, comm }) {
    const size = comm.Get_size();
    const rank = comm.Get_rank();
    comm.Create_dist_graph_adjacent(null, null).Free();
    const sources = [mod(rank - 2, size), mod(rank - 1, size)];
    const destinations = [mod(rank + 1, size), mod(rank + 2, size)];
    let topo = comm.Create_dist_graph_adjacent(sources, destinations);
    assert.ok(topo.is_topo);
    assert.equal(topo.topology, mpi.DIST_GRAPH);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [2, 2, false]);
    assert.deepEqual(topo.Get_dist_neighbors(), [sources, destinations, null]);
    assert.equal(topo.indegree, sources.length);
    assert.equal(topo.outdegree, destinations.length);
    assert.deepEqual(topo.inedges, sources);
    assert.deepEqual(topo.outedges, destinations);
    const [inedges, outedges] = topo.inoutedges;
    assert.deepEqual(inedges, sources);
    assert.deepEqual(outedges, destinations);
    topo.Free();
    const sourceweights = [1, 2];
    const destweights = [3, 4];
    topo = comm.Create_dist_graph_adjacent(sources, destinations, sourceweights, destweights);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [2, 2, true]);
    assert.deepEqual(topo.Get_dist_neighbors(), [sources, destinations, [sourceweights, destweights]]);
    topo.Free();
    topo = comm.Create_dist_graph_adjacent(sources, null, mpi.UNWEIGHTED, null);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [2, 0, false]);
    assert.deepEqual(topo.Get_dist_neighbors(), [sources, [], null]);
    topo.Free();
    topo = comm.Create_dist_graph_adjacent(null, destinations, null, mpi.UNWEIGHTED);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [0, 2, false]);
    assert.deepEqual(topo.Get_dist_neighbors(), [[], destinations, null]);
    topo.Free();
    topo = comm.Create_dist_graph_adjacent([], [], mpi.WEIGHTS_EMPTY, mpi.WEIGHTS_EMPTY);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [0, 0, true]);
    assert.deepEqual(topo.Get_dist_neighbors(), [[], [], [[], []]]);
    topo.Free();
  },
  async "topo: testDistgraphcomm"({ mpi, comm }) {
    const size = comm.Get_size();
    const rank = comm.Get_rank();
    (await comm.Create_dist_graph([], [], [], mpi.UNWEIGHTED)).Free();
    const sources = [rank];
    const degrees = [3];
    const destinations = [mod(rank - 1, size), rank, mod(rank + 1, size)];
    let topo = await comm.Create_dist_graph(sources, degrees, destinations, mpi.UNWEIGHTED);
    assert.ok(topo.is_topo);
    assert.equal(topo.topology, mpi.DIST_GRAPH);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [3, 3, false]);
    topo.Free();
    topo = await comm.Create_dist_graph(sources, degrees, destinations, [1, 2, 3]);
    assert.deepEqual(topo.Get_dist_neighbors_count(), [3, 3, true]);
    topo.Free();
  },
  async "topo: testCartMap"({ mpi, comm }) {
    const size = comm.Get_size();
    for (const ndim of [1, 2, 3, 4, 5]) {
      for (const periods of [null, true, false]) {
        const dims = mpi.Compute_dims(size, ndim);
        const topo = comm.Create_cart(dims, periods, true)!;
        assert.equal(topo.Get_rank(), comm.Cart_map(dims, periods));
        topo.Free();
      }
    }
  },
  async "topo: testGraphMap"({ comm }) {
    const { index, edges } = ring(comm.Get_size());
    let topo = comm.Create_graph(index, edges, true)!;
    assert.equal(topo.Get_rank(), comm.Graph_map(index, edges));
    topo.Free();
    topo = comm.Create_graph(index.slice(1), edges, true)!;
    assert.equal(topo.Get_rank(), comm.Graph_map(index.slice(1), edges));
    topo.Free();
  },

  // ------------------------------------------------------------ beyond mpi4py's tests
  async "cart: row-major coordinates, open borders give PROC_NULL, periodic ones wrap"({ mpi, comm }) {
    const size = comm.size;
    const [rows, cols] = mpi.Compute_dims(size, 2) as [number, number];
    const cart = comm.Create_cart([rows, cols], [true, false])!;
    const r = Math.floor(comm.rank / cols);
    const c = comm.rank % cols;
    assert.deepEqual(cart.coords, [r, c]);
    assert.equal(cart.rank, comm.rank);
    assert.deepEqual(cart.periods, [true, false]);
    // dimension 0 wraps; dimension 1 has borders
    assert.deepEqual(cart.Shift(0, 1), [mod(r - 1, rows) * cols + c, mod(r + 1, rows) * cols + c]);
    assert.deepEqual(cart.Shift(1, 1), [c > 0 ? comm.rank - 1 : mpi.PROC_NULL, c < cols - 1 ? comm.rank + 1 : mpi.PROC_NULL]);
    assert.deepEqual(cart.Shift(1, -1), [...cart.Shift(1, 1)].reverse());
    assert.deepEqual(cart.Shift(1, cols), [mpi.PROC_NULL, mpi.PROC_NULL]);
    assert.deepEqual(cart.Shift(0, 0), [comm.rank, comm.rank]);
    assert.equal(cart.Get_cart_rank([r - rows, c]), comm.rank);
    assert.equal(cart.Get_cart_rank([-1, 0]), (rows - 1) * cols);
    assert.throws(() => cart.Get_cart_rank([0, cols]), { code: "ERR_TSMPI_RANK" });
    assert.throws(() => cart.Get_cart_rank([0]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => cart.Shift(2, 1), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => cart.Get_coords(size), { code: "ERR_TSMPI_RANK" });
    // a Sendrecv along dimension 1 meets the neighbours Shift names
    const [left, right] = cart.Shift(1, 1);
    const got = await cart.sendrecv(comm.rank, right, 0, left, 0);
    assert.equal(got, left === mpi.PROC_NULL ? undefined : left);
    // Sub: the row of this rank, then its column
    const row = cart.Sub([false, true]);
    assert.deepEqual(row.dims, [cols]);
    assert.deepEqual(row.periods, [false]);
    assert.equal(row.rank, c);
    assert.deepEqual(
      await row.allgather(comm.rank),
      range(cols).map((k) => r * cols + k),
    );
    const col = cart.Sub([true, false]);
    assert.deepEqual(col.coords, [r]);
    assert.deepEqual(
      await col.allgather(comm.rank),
      range(rows).map((k) => k * cols + c),
    );
    const none = cart.Sub([false, false]);
    assert.equal(none.size, 1);
    assert.equal(none.dim, 0);
  },
  async "cart: ranks beyond the grid get COMM_NULL; a dup keeps the topology"({ mpi, comm }) {
    const n = Math.max(1, comm.size - 1);
    const cart = comm.Create_cart([n], false);
    if (comm.rank >= n) {
      assert.equal(cart, mpi.COMM_NULL);
      assert.equal(comm.Cart_map([n]), mpi.UNDEFINED);
    } else {
      assert.ok(cart);
      assert.equal(cart.size, n);
      const d = cart.Dup();
      assert.ok(d instanceof mpi.Cartcomm);
      assert.deepEqual(d.topo, cart.topo);
      assert.equal(cart.Compare(d), mpi.CONGRUENT);
      const [c2] = cart.Idup();
      assert.ok(c2 instanceof mpi.Cartcomm);
      assert.equal(cart.Clone().topology, mpi.CART);
      assert.equal(await d.allreduce(1), n);
    }
    assert.throws(() => comm.Create_cart([comm.size + 1]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => comm.Create_cart([0]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => comm.Create_cart([1.5]), { code: "ERR_TSMPI_ARG" });
  },
  async "graph: nodes beyond the graph get COMM_NULL; bad graphs are refused"({ mpi, comm }) {
    const g = comm.Create_graph([1], [0]);
    if (comm.rank === 0) assert.deepEqual(g!.neighbors, [0]);
    else assert.equal(g, mpi.COMM_NULL);
    assert.throws(() => comm.Create_graph([2, 1], [0, 0]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => comm.Create_graph([1], [0, 0]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => comm.Create_graph([1], [1]), { code: "ERR_TSMPI_RANK" });
    // one node more than ranks (an index not starting at 0, so not read as mpi4py's CSR form)
    assert.throws(
      () =>
        comm.Create_graph(
          range(comm.size + 1).map((i) => i + 1),
          new Array<number>(comm.size + 1).fill(0),
        ),
      { code: "ERR_TSMPI_ARG" },
    );
  },
  async "dist graph: each rank learns the edges others named, with weights, in a fixed order"({ mpi, comm }) {
    const size = comm.size;
    const rank = comm.rank;
    // rank 0 names every edge r -> r+1 (weight 10 r), the others name none
    const all = range(size);
    const g = await comm.Create_dist_graph(
      rank === 0 ? all : [],
      rank === 0 ? all.map(() => 1) : [],
      rank === 0 ? all.map((r) => mod(r + 1, size)) : [],
      rank === 0 ? all.map((r) => 10 * r) : [],
    );
    assert.deepEqual(g.Get_dist_neighbors(), [[mod(rank - 1, size)], [mod(rank + 1, size)], [[10 * mod(rank - 1, size)], [10 * rank]]]);
    assert.deepEqual(await g.neighbor_alltoall([`${rank}>`]), [`${mod(rank - 1, size)}>`]);
    // bad arguments on one rank fail the call on every rank
    await assert.rejects(comm.Create_dist_graph(rank === 0 ? [0] : [], rank === 0 ? [2] : [], rank === 0 ? [0] : []), {
      code: "ERR_TSMPI_ARG",
    });
    await assert.rejects(comm.Create_dist_graph([0], [1], [size]), { code: "ERR_TSMPI_RANK" });
    assert.throws(() => comm.Create_dist_graph_adjacent([size], []), { code: "ERR_TSMPI_RANK" });
    assert.throws(() => comm.Create_dist_graph_adjacent([0], [], [1, 2]), { code: "ERR_TSMPI_ARG" });
    void mpi;
  },
};
