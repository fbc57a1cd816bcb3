/**
 * `Cartcomm`: a communicator with a Cartesian grid (`MPI_Cart_*`), as in mpi4py: `dims`,
 * `periods`, `coords`, `Get_coords`, `Get_cart_rank`, `Shift`, `Sub`. Ranks are laid out in
 * row-major order (the last dimension varies fastest), the same rank as in the parent (no
 * reordering). Its neighbours are, per dimension, the −1 then the +1 neighbour, as MPI orders
 * them for the neighbourhood collectives.
 *
 * Not supported yet: reordering ranks to fit the machine (`reorder` is accepted, ignored).
 *
 * @module
 */
import type { CommInit } from "../comm-base.js";
import { topologies } from "../comm-topology.js";
import { CART, PROC_NULL } from "../constants.js";
import { TsmpiError, describeValue } from "../errors.js";
import type { NeighborPlan } from "../collectives/neighbor.js";
import { Topocomm } from "./topocomm.js";

/**
 * A communicator with a Cartesian topology; made by `comm.Create_cart(dims, periods)`.
 *
 * @example
 * ```ts
 * import { COMM_WORLD as comm, Compute_dims } from "tsmpi";
 * const cart = comm.Create_cart(Compute_dims(comm.size, 2), [true, false])!;
 * const [up, down] = cart.Shift(0, 1);     // wraps around in dimension 0
 * const [left, right] = cart.Shift(1, 1);  // PROC_NULL at the borders of dimension 1
 * ```
 */
export class Cartcomm extends Topocomm {
  readonly #dims: readonly number[];
  readonly #periods: readonly boolean[];
  readonly #coords: readonly number[];

  /** @internal Made by `Create_cart`, `Sub` and `dup`. */
  constructor(init: CommInit, dims: readonly number[], periods: readonly boolean[]) {
    super(init.rt, init.ctx, init.rank, init.group);
    this.#dims = Object.freeze([...dims]);
    this.#periods = Object.freeze([...periods]);
    this.#coords = Object.freeze(this.#coordsOf(init.rank));
  }

  protected override _like(init: CommInit): Cartcomm {
    return new Cartcomm(init, this.#dims, this.#periods);
  }

  /** `CART`. */
  override Get_topology(): number {
    return CART;
  }

  /** The number of dimensions (`MPI_Cartdim_get`). */
  Get_dim(): number {
    return this.#dims.length;
  }

  /** The number of dimensions. */
  get dim(): number {
    return this.#dims.length;
  }

  /** The number of dimensions. */
  get ndim(): number {
    return this.#dims.length;
  }

  /** `[dims, periods, coords]` (`MPI_Cart_get`): the grid's extents, whether each wraps, this rank's coordinates. */
  Get_topo(): [number[], boolean[], number[]] {
    return [[...this.#dims], [...this.#periods], [...this.#coords]];
  }

  /** {@link Get_topo} as a property. */
  get topo(): [number[], boolean[], number[]] {
    return this.Get_topo();
  }

  /** The grid's extent in each dimension. */
  get dims(): number[] {
    return [...this.#dims];
  }

  /** Whether each dimension wraps around. */
  get periods(): boolean[] {
    return [...this.#periods];
  }

  /** This rank's coordinates. */
  get coords(): number[] {
    return [...this.#coords];
  }

  #coordsOf(rank: number): number[] {
    const out = new Array<number>(this.#dims.length);
    for (let i = this.#dims.length - 1; i >= 0; i--) {
      out[i] = rank % this.#dims[i]!;
      rank = Math.floor(rank / this.#dims[i]!);
    }
    return out;
  }

  /**
   * The coordinates of `rank` (`MPI_Cart_coords`).
   * @throws TsmpiError `ERR_TSMPI_RANK` for a rank outside `[0, size)`.
   */
  Get_coords(rank: number): number[] {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new TsmpiError("ERR_TSMPI_RANK", `rank must be an integer in [0, ${this.size}), got ${describeValue(rank)}`);
    }
    return this.#coordsOf(rank);
  }

  /**
   * The rank at `coords` (`MPI_Cart_rank`); a coordinate outside a periodic dimension wraps.
   * @throws TsmpiError `ERR_TSMPI_ARG` for the wrong number of coordinates, `ERR_TSMPI_RANK` for one outside a non-periodic dimension.
   */
  Get_cart_rank(coords: readonly number[]): number {
    if (!Array.isArray(coords) || coords.length !== this.#dims.length) {
      throw new TsmpiError("ERR_TSMPI_ARG", `coords must be an array of ${this.#dims.length} integers, got ${describeValue(coords)}`);
    }
    let rank = 0;
    coords.forEach((c, i) => {
      const n = this.#dims[i]!;
      if (!Number.isInteger(c)) throw new TsmpiError("ERR_TSMPI_ARG", `coords[${i}] must be an integer, got ${describeValue(c)}`);
      if (!this.#periods[i] && (c < 0 || c >= n)) {
        throw new TsmpiError("ERR_TSMPI_RANK", `coords[${i}] must be in [0, ${n}) (dimension ${i} is not periodic), got ${c}`);
      }
      rank = rank * n + (((c % n) + n) % n);
    });
    return rank;
  }

  /**
   * The ranks to receive from and send to when data moves `disp` steps along `direction`
   * (`MPI_Cart_shift`): `[source, dest]`, `PROC_NULL` beyond a non-periodic border.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a direction outside `[0, ndim)` or a non-integer disp.
   */
  Shift(direction: number, disp: number): [number, number] {
    if (!Number.isInteger(direction) || direction < 0 || direction >= this.#dims.length) {
      throw new TsmpiError("ERR_TSMPI_ARG", `direction must be an integer in [0, ${this.#dims.length}), got ${describeValue(direction)}`);
    }
    if (!Number.isInteger(disp)) throw new TsmpiError("ERR_TSMPI_ARG", `disp must be an integer, got ${describeValue(disp)}`);
    const at = (step: number): number => {
      const c = [...this.#coords];
      const n = this.#dims[direction]!;
      c[direction] = c[direction]! + step;
      if (!this.#periods[direction] && (c[direction]! < 0 || c[direction]! >= n)) return PROC_NULL;
      return this.Get_cart_rank(c);
    };
    return [at(-disp), at(disp)];
  }

  /**
   * The sub-grid keeping the dimensions where `remain_dims` is true (`MPI_Cart_sub`): the ranks
   * that share this rank's coordinates in the dropped dimensions. Collective; no messages.
   * @throws TsmpiError `ERR_TSMPI_ARG` when `remain_dims` has not one entry per dimension.
   */
  Sub(remain_dims: readonly boolean[]): Cartcomm {
    if (!Array.isArray(remain_dims) || remain_dims.length !== this.#dims.length) {
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `remain_dims must be an array of ${this.#dims.length} booleans, got ${describeValue(remain_dims)}`,
      );
    }
    const keep = remain_dims.map(Boolean);
    // color: this rank's position in the grid of the dropped dimensions
    const init = this._derive((r) => this.#coordsOf(r).reduce((acc, c, i) => (keep[i] ? acc : acc * this.#dims[i]! + c), 0))!;
    return new Cartcomm(
      init,
      this.#dims.filter((_, i) => keep[i]),
      this.#periods.filter((_, i) => keep[i]),
    );
  }

  /** The −1 and +1 neighbour of each dimension, in that order (`Shift(d, 1)`), as incoming and outgoing neighbours alike. */
  get inoutedges(): [number[], number[]] {
    const n: number[] = [];
    for (let d = 0; d < this.#dims.length; d++) n.push(...this.Shift(d, 1));
    return [n, [...n]];
  }

  /**
   * @internal Receives are posted per dimension +1 block first: where both neighbours of a dimension are
   * one rank (extent 1 or 2, periodic), its first message (sent to its −1, i.e. here) belongs
   * in this rank's +1 block, its second in the −1 block, as MPI defines.
   */
  protected override _plan(): NeighborPlan {
    const [sources, destinations] = this.inoutedges;
    const recvOrder: number[] = [];
    for (let d = 0; d < this.#dims.length; d++) recvOrder.push(2 * d + 1, 2 * d);
    return { sources, destinations, recvOrder };
  }
}

topologies.cart = (init, dims, periods) => new Cartcomm(init, dims, periods);
