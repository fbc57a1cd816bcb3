/**
 * `Graphcomm`: a communicator with a general graph topology (`MPI_Graph_*`), as in mpi4py:
 * `index`/`edges` in MPI's cumulative form, `Get_neighbors(rank)`, `Get_neighbors_count(rank)`.
 * Every rank knows the whole graph. A node's neighbours are both its incoming and outgoing
 * neighbours in the neighbourhood collectives, so the graph should be symmetric there.
 *
 * Not supported yet: reordering ranks (`reorder` is accepted, ignored).
 *
 * @module
 */
import type { CommInit } from "../comm-base.js";
import { topologies } from "../comm-topology.js";
import { GRAPH } from "../constants.js";
import { TsmpiError, describeValue } from "../errors.js";
import { Topocomm } from "./topocomm.js";

/**
 * A communicator with a graph topology; made by `comm.Create_graph(index, edges)`.
 *
 * @example
 * ```ts
 * // a ring: node i's neighbours are i-1 and i+1
 * const n = comm.size;
 * const index = Array.from({ length: n }, (_, i) => 2 * (i + 1));
 * const edges = Array.from({ length: n }, (_, i) => [(i - 1 + n) % n, (i + 1) % n]).flat();
 * const ring = comm.Create_graph(index, edges)!;
 * const fromNeighbours = await ring.neighbor_allgather(comm.rank);
 * ```
 */
export class Graphcomm extends Topocomm {
  readonly #index: readonly number[];
  readonly #edges: readonly number[];

  /** @internal Made by `Create_graph` and `dup`. */
  constructor(init: CommInit, index: readonly number[], edges: readonly number[]) {
    super(init.rt, init.ctx, init.rank, init.group);
    this.#index = Object.freeze([...index]);
    this.#edges = Object.freeze([...edges]);
  }

  protected override _like(init: CommInit): Graphcomm {
    return new Graphcomm(init, this.#index, this.#edges);
  }

  /** `GRAPH`. */
  override Get_topology(): number {
    return GRAPH;
  }

  /** `[nnodes, nedges]` (`MPI_Graphdims_get`). */
  Get_dims(): [number, number] {
    return [this.#index.length, this.#edges.length];
  }

  /** {@link Get_dims} as a property. */
  get dims(): [number, number] {
    return this.Get_dims();
  }

  /** The number of nodes. */
  get nnodes(): number {
    return this.#index.length;
  }

  /** The number of edges (each direction counted). */
  get nedges(): number {
    return this.#edges.length;
  }

  /** `[index, edges]` (`MPI_Graph_get`), `index` cumulative (without a leading 0). */
  Get_topo(): [number[], number[]] {
    return [[...this.#index], [...this.#edges]];
  }

  /** {@link Get_topo} as a property. */
  get topo(): [number[], number[]] {
    return this.Get_topo();
  }

  /** The cumulative neighbour counts: node i's neighbours are `edges[index[i-1]:index[i]]`. */
  get index(): number[] {
    return [...this.#index];
  }

  /** The neighbour lists of all nodes, one after the other. */
  get edges(): number[] {
    return [...this.#edges];
  }

  #node(rank: number): number {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.#index.length) {
      throw new TsmpiError("ERR_TSMPI_RANK", `rank must be an integer in [0, ${this.#index.length}), got ${describeValue(rank)}`);
    }
    return rank;
  }

  /**
   * The number of neighbours of `rank` (`MPI_Graph_neighbors_count`).
   * @throws TsmpiError `ERR_TSMPI_RANK` for a rank outside `[0, nnodes)`.
   */
  Get_neighbors_count(rank: number): number {
    const r = this.#node(rank);
    return this.#index[r]! - (r > 0 ? this.#index[r - 1]! : 0);
  }

  /**
   * The neighbours of `rank`, in the order given to `Create_graph` (`MPI_Graph_neighbors`).
   * @throws TsmpiError `ERR_TSMPI_RANK` for a rank outside `[0, nnodes)`.
   */
  Get_neighbors(rank: number): number[] {
    const r = this.#node(rank);
    return this.#edges.slice(r > 0 ? this.#index[r - 1]! : 0, this.#index[r]!);
  }

  /** This rank's number of neighbours. */
  get nneighbors(): number {
    return this.Get_neighbors_count(this.rank);
  }

  /** This rank's neighbours. */
  get neighbors(): number[] {
    return this.Get_neighbors(this.rank);
  }

  /** This rank's neighbours, as incoming and outgoing neighbours alike. */
  get inoutedges(): [number[], number[]] {
    const n = this.neighbors;
    return [n, [...n]];
  }
}

topologies.graph = (init, index, edges) => new Graphcomm(init, index, edges);
