/**
 * `Distgraphcomm`: a communicator with a distributed graph topology (`MPI_Dist_graph_*`), as in
 * mpi4py: each rank knows only its own incoming and outgoing neighbours (and their weights).
 * Made by `Create_dist_graph_adjacent` (each rank names its neighbours) or `Create_dist_graph`
 * (any rank names any edges; the ranks exchange them).
 *
 * Not supported yet: reordering ranks (`reorder` is accepted, ignored), `info` hints.
 *
 * @module
 */
import type { CommInit } from "../comm-base.js";
import { topologies, type DistGraphEdges } from "../comm-topology.js";
import { DIST_GRAPH } from "../constants.js";
import { Topocomm } from "./topocomm.js";

/**
 * A communicator with a distributed graph topology.
 *
 * @example
 * ```ts
 * const n = comm.size, r = comm.rank;
 * const g = comm.Create_dist_graph_adjacent([(r - 1 + n) % n], [(r + 1) % n]);
 * const [fromLeft] = await g.neighbor_alltoall([r]);
 * ```
 */
export class Distgraphcomm extends Topocomm {
  readonly #edges: DistGraphEdges;

  /** @internal Made by `Create_dist_graph_adjacent`, `Create_dist_graph` and `dup`. */
  constructor(init: CommInit, edges: DistGraphEdges) {
    super(init.rt, init.ctx, init.rank, init.group);
    this.#edges = edges;
  }

  protected override _like(init: CommInit): Distgraphcomm {
    return new Distgraphcomm(init, this.#edges);
  }

  /** `DIST_GRAPH`. */
  override Get_topology(): number {
    return DIST_GRAPH;
  }

  /** `[indegree, outdegree, weighted]` (`MPI_Dist_graph_neighbors_count`). */
  Get_dist_neighbors_count(): [number, number, boolean] {
    return [this.#edges.sources.length, this.#edges.destinations.length, this.#edges.weights !== null];
  }

  /**
   * `[sources, destinations, weights]` (`MPI_Dist_graph_neighbors`): weights is
   * `[sourceweights, destweights]`, or null when the graph is unweighted.
   */
  Get_dist_neighbors(): [number[], number[], [number[], number[]] | null] {
    const { sources, destinations, weights } = this.#edges;
    return [[...sources], [...destinations], weights && [[...weights[0]], [...weights[1]]]];
  }

  /** This rank's incoming (sources) and outgoing (destinations) neighbours. */
  get inoutedges(): [number[], number[]] {
    return [[...this.#edges.sources], [...this.#edges.destinations]];
  }
}

topologies.distGraph = (init, edges) => new Distgraphcomm(init, edges);
