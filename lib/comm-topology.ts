/**
 * `CommTopology`: the topology constructors of `Comm` (MPI's chapter 8), as in mpi4py:
 * `Create_cart` and `Cart_map`, `Create_graph` and `Graph_map`, `Create_dist_graph_adjacent` and
 * `Create_dist_graph`. They check their arguments and derive the new communicator's context
 * without messages (but `Create_dist_graph`, whose ranks exchange their edges); the classes they
 * make (`Cartcomm`, `Graphcomm`, `Distgraphcomm`) live in `topology/` and register their
 * constructors in {@link topologies}. Part of the `Comm` chain, see `comm-base.ts`.
 *
 * Not supported yet: reordering ranks (`reorder` is accepted and ignored), `info` hints.
 *
 * @module
 */
import { CommPersistent } from "./comm-persistent.js";
import type { CommInit } from "./comm-base.js";
import type { Comm } from "./comm.js";
import { UNDEFINED, UNWEIGHTED, WEIGHTS_EMPTY } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import type { Cartcomm } from "./topology/cartcomm.js";
import type { Distgraphcomm } from "./topology/distgraphcomm.js";
import type { Graphcomm } from "./topology/graphcomm.js";

/** An edge-weights argument of the distributed-graph constructors. */
export type Weights = readonly number[] | typeof UNWEIGHTED | typeof WEIGHTS_EMPTY | null;

/** @internal A distributed graph's edges at one rank, as `Create_dist_graph*` computed them. */
export interface DistGraphEdges {
  sources: number[];
  destinations: number[];
  /** `[sourceweights, destweights]`, or null when unweighted. */
  weights: [number[], number[]] | null;
}

/**
 * @internal The topology communicators' constructors. `topology/*.ts` extend `Comm` (which
 * extends this module's class), so this module cannot import them; they fill this table when
 * loaded (`index.ts` loads them).
 */
export const topologies: {
  cart?: (init: CommInit, dims: number[], periods: boolean[]) => Comm;
  graph?: (init: CommInit, index: number[], edges: number[]) => Comm;
  distGraph?: (init: CommInit, edges: DistGraphEdges) => Comm;
} = {};

/** A registered topology constructor (a missing one is a packaging bug). */
function topologyOf<K extends keyof typeof topologies>(kind: K): NonNullable<(typeof topologies)[K]> {
  const make = topologies[kind];
  if (!make) throw new TsmpiError("ERR_TSMPI_INTERNAL", `the ${kind} topology is not loaded (import tsmpi, not lib/comm.js)`);
  return make;
}

/** A list of non-negative integers (dims, index, degrees). */
function checkInts(value: unknown, name: string, min = 0, max = Infinity): number[] {
  if (!Array.isArray(value)) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of integers, got ${describeValue(value)}`);
  value.forEach((v, i) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `${name}[${i}] must be an integer in [${min}, ${max === Infinity ? "∞" : max}${max === Infinity ? ")" : "]"}, got ${describeValue(v)}`,
      );
    }
  });
  return [...(value as number[])];
}

/** A weights argument for `n` edges: null when unweighted. */
function checkWeights(value: unknown, n: number, name: string): number[] | null {
  if (value === null || value === undefined || value === UNWEIGHTED) return null;
  if (value === WEIGHTS_EMPTY) {
    if (n !== 0) throw new TsmpiError("ERR_TSMPI_ARG", `${name} may be WEIGHTS_EMPTY only with no edges, got ${n} edges`);
    return [];
  }
  const w = checkInts(value, name);
  if (w.length !== n) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must have one weight per edge (${n}), got ${w.length}`);
  return w;
}

/** @internal The topology-constructor chapter of `Comm` (see `comm-base.ts`). */
export abstract class CommTopology extends CommPersistent {
  /** `periods` as mpi4py takes it: null (none periodic), one boolean for all, or one per dimension. */
  #periods(periods: readonly boolean[] | boolean | null | undefined, ndims: number): boolean[] {
    if (periods === null || periods === undefined) return new Array<boolean>(ndims).fill(false);
    if (typeof periods === "boolean") return new Array<boolean>(ndims).fill(periods);
    if (!Array.isArray(periods) || periods.length !== ndims) {
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `periods must be a boolean or an array of ${ndims} booleans (one per dimension), got ${describeValue(periods)}`,
      );
    }
    return periods.map((p) => Boolean(p));
  }

  #cartSize(dims: unknown): number[] {
    const d = checkInts(dims, "dims", 1);
    const n = d.reduce((a, b) => a * b, 1);
    if (n > this.size)
      throw new TsmpiError("ERR_TSMPI_ARG", `dims ${describeValue(d)} need ${n} ranks, more than the communicator's ${this.size}`);
    return d;
  }

  /**
   * A Cartesian grid of `dims` over the first prod(dims) ranks (`MPI_Cart_create`), in row-major
   * order (the last dimension varies fastest); ranks beyond the grid get `null`. `reorder` is
   * accepted and ignored: rank r here is rank r in the grid. Collective; no messages.
   * @param periods whether each dimension wraps around: null (none), a boolean for all, or one per dimension.
   * @throws TsmpiError `ERR_TSMPI_ARG` for dims that are not positive integers or need more ranks than this communicator has, or periods of another length.
   *
   * @example
   * ```ts
   * const cart = comm.Create_cart(Compute_dims(comm.size, 2), [false, false])!;
   * const [left, right] = cart.Shift(1, 1);   // PROC_NULL at the borders
   * ```
   */
  Create_cart(dims: readonly number[], periods: readonly boolean[] | boolean | null = null, reorder = false): Cartcomm | null {
    void reorder;
    this._usable("Create_cart");
    const d = this.#cartSize(dims);
    const p = this.#periods(periods, d.length);
    const n = d.reduce((a, b) => a * b, 1);
    const init = this._derive((r) => (r < n ? 0 : UNDEFINED));
    return init && (topologyOf("cart")(init, d, p) as Cartcomm);
  }

  /**
   * The rank this process would have in `Create_cart(dims, periods)` (`MPI_Cart_map`): its rank
   * here when inside the grid, else `UNDEFINED`.
   */
  Cart_map(dims: readonly number[], periods: readonly boolean[] | boolean | null = null): number {
    const d = this.#cartSize(dims);
    this.#periods(periods, d.length);
    return this.rank < d.reduce((a, b) => a * b, 1) ? this.rank : UNDEFINED;
  }

  /** `index` and `edges` checked; mpi4py's extension: an `index` starting with 0 (CSR style) is accepted too. */
  #graphArgs(index: unknown, edges: unknown): { index: number[]; edges: number[] } {
    let ix = checkInts(index, "index");
    const ed = checkInts(edges, "edges");
    if (ix.length > 0 && ix[0] === 0 && ix[ix.length - 1] === ed.length) ix = ix.slice(1);
    if (ix.length > this.size)
      throw new TsmpiError("ERR_TSMPI_ARG", `the graph has ${ix.length} nodes, more than the communicator's ${this.size} ranks`);
    ix.forEach((v, i) => {
      if (v < (i > 0 ? ix[i - 1]! : 0) || v > ed.length)
        throw new TsmpiError(
          "ERR_TSMPI_ARG",
          `index must be non-decreasing and at most the number of edges (${ed.length}), got ${describeValue(index)}`,
        );
    });
    if ((ix.length > 0 ? ix[ix.length - 1]! : 0) !== ed.length) {
      throw new TsmpiError("ERR_TSMPI_ARG", `index's last entry must be the number of edges (${ed.length}), got ${describeValue(index)}`);
    }
    ed.forEach((e, i) => {
      if (e >= ix.length) throw new TsmpiError("ERR_TSMPI_RANK", `edges[${i}] must be a node in [0, ${ix.length}), got ${e}`);
    });
    return { index: ix, edges: ed };
  }

  /**
   * A graph topology over the first `index.length` ranks (`MPI_Graph_create`): node i's
   * neighbours are `edges[index[i-1]:index[i]]` (`index` cumulative, as MPI; one starting with 0
   * is accepted too, as mpi4py). Ranks beyond the graph get `null`; `reorder` is ignored.
   * Collective; no messages.
   * @throws TsmpiError `ERR_TSMPI_ARG` for an inconsistent index or more nodes than ranks, `ERR_TSMPI_RANK` for an edge to no node.
   */
  Create_graph(index: readonly number[], edges: readonly number[], reorder = false): Graphcomm | null {
    void reorder;
    this._usable("Create_graph");
    const g = this.#graphArgs(index, edges);
    const init = this._derive((r) => (r < g.index.length ? 0 : UNDEFINED));
    return init && (topologyOf("graph")(init, g.index, g.edges) as Graphcomm);
  }

  /** The rank this process would have in `Create_graph(index, edges)` (`MPI_Graph_map`), or `UNDEFINED`. */
  Graph_map(index: readonly number[], edges: readonly number[]): number {
    const g = this.#graphArgs(index, edges);
    return this.rank < g.index.length ? this.rank : UNDEFINED;
  }

  /**
   * A distributed graph where each rank names its own neighbours (`MPI_Dist_graph_create_adjacent`):
   * it receives from `sources` and sends to `destinations` (null: none). Weights: an array per
   * edge, null or `UNWEIGHTED` for none, `WEIGHTS_EMPTY` for weighted with no edges. Every rank
   * of this communicator is in it; `reorder` and `info` are ignored. Collective; no messages.
   * @throws TsmpiError `ERR_TSMPI_RANK` for a neighbour outside `[0, size)`, `ERR_TSMPI_ARG` for weights of the wrong length.
   */
  Create_dist_graph_adjacent(
    sources: readonly number[] | null,
    destinations: readonly number[] | null,
    sourceweights: Weights = null,
    destweights: Weights = null,
    info: unknown = null,
    reorder = false,
  ): Distgraphcomm {
    void info;
    void reorder;
    this._usable("Create_dist_graph_adjacent");
    const src = this.#neighbors(sources ?? [], "sources");
    const dst = this.#neighbors(destinations ?? [], "destinations");
    const sw = checkWeights(sourceweights, src.length, "sourceweights");
    const dw = checkWeights(destweights, dst.length, "destweights");
    const weights: [number[], number[]] | null = sw || dw ? [sw ?? src.map(() => 1), dw ?? dst.map(() => 1)] : null;
    const init = this._derive(() => 0)!;
    return topologyOf("distGraph")(init, { sources: src, destinations: dst, weights }) as Distgraphcomm;
  }

  /**
   * A distributed graph where any rank may name any edge (`MPI_Dist_graph_create`): for each
   * i, the edges `sources[i] → destinations[...]` (`degrees[i]` of them, consecutive). The
   * ranks exchange their edges, so each learns its own; a rank's neighbours are listed in the
   * order of the rank that named the edge, then of its list. `reorder` and `info` are ignored.
   * Collective.
   * @throws TsmpiError `ERR_TSMPI_ARG` for inconsistent lengths or weights, `ERR_TSMPI_RANK` for a rank outside `[0, size)` (on every rank).
   */
  async Create_dist_graph(
    sources: readonly number[],
    degrees: readonly number[],
    destinations: readonly number[],
    weights: Weights = null,
    info: unknown = null,
    reorder = false,
  ): Promise<Distgraphcomm> {
    void info;
    void reorder;
    this._usable("Create_dist_graph");
    let mine: number[][] = [];
    let weighted = false;
    let bad: TsmpiError | undefined;
    try {
      const src = this.#neighbors(sources, "sources");
      const deg = checkInts(degrees, "degrees");
      if (deg.length !== src.length)
        throw new TsmpiError("ERR_TSMPI_ARG", `degrees must have one entry per source (${src.length}), got ${deg.length}`);
      const total = deg.reduce((a, b) => a + b, 0);
      const dst = this.#neighbors(destinations, "destinations");
      if (dst.length !== total)
        throw new TsmpiError("ERR_TSMPI_ARG", `destinations must have sum(degrees) = ${total} entries, got ${dst.length}`);
      const w = checkWeights(weights, total, "weights");
      weighted = w !== null;
      let e = 0;
      src.forEach((s, i) => {
        for (let j = 0; j < deg[i]!; j++, e++) mine.push([s, dst[e]!, w ? w[e]! : 1]);
      });
    } catch (err) {
      // still take part, so the others fail alike instead of waiting
      bad = err as TsmpiError;
      mine = [];
    }
    const all = await this.allgather({ edges: mine, weighted, bad: bad ? bad.message : null });
    const failed = all.findIndex((a) => a.bad !== null);
    if (failed >= 0)
      throw bad ?? new TsmpiError("ERR_TSMPI_ARG", `Create_dist_graph: bad arguments on rank ${failed}: ${all[failed]!.bad}`);
    const edges: DistGraphEdges = { sources: [], destinations: [], weights: null };
    const sw: number[] = [];
    const dw: number[] = [];
    for (const { edges: list } of all) {
      for (const [s, d, w] of list) {
        if (d === this.rank) {
          edges.sources.push(s!);
          sw.push(w!);
        }
        if (s === this.rank) {
          edges.destinations.push(d!);
          dw.push(w!);
        }
      }
    }
    if (all.some((a) => a.weighted)) edges.weights = [sw, dw];
    const init = this._derive(() => 0)!;
    return topologyOf("distGraph")(init, edges) as Distgraphcomm;
  }

  /** A list of ranks of this communicator. */
  #neighbors(value: unknown, name: string): number[] {
    return checkInts(value, name).map((r, i) => {
      if (r >= this.size) throw new TsmpiError("ERR_TSMPI_RANK", `${name}[${i}] must be a rank in [0, ${this.size}), got ${r}`);
      return r;
    });
  }
}
