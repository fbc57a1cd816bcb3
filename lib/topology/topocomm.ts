/**
 * `Topocomm`: what the three topology communicators (`Cartcomm`, `Graphcomm`, `Distgraphcomm`)
 * share, as in mpi4py: the neighbours (`inedges`, `outedges`, `degrees`) and the neighbourhood
 * collectives over them, blocking and nonblocking. The algorithms are in
 * `collectives/neighbor.ts`.
 *
 * Not supported yet: `Neighbor_alltoallw` (derived datatypes), persistent `*_init` variants,
 * DeviceArrays as neighbour buffers.
 *
 * @module
 */
import { neighborArray, neighborBlobs, type NeighborPlan } from "../collectives/neighbor.js";
import { packedDispls } from "../collectives/blocks.js";
import { Comm, type BufferArg, type VBufferArg } from "../comm.js";
import { TsmpiError, describeValue } from "../errors.js";
import type { Request } from "../request.js";
import { packObject, unpackObject, type TypedArray } from "../serializer.js";
import { checkBuffer, checkSameKind, checkVBuffer } from "../validate.js";

/** Checks a buffer-tier argument of a neighbour collective (host typed arrays only). */
function hostBuffer(value: unknown, name: string): TypedArray {
  return checkBuffer(value, name);
}

/** `n` blocks of `array`, evenly: block length `array.length / n` (0 blocks: length 0). */
function evenBlocks(array: TypedArray, n: number, name: string): { counts: number[]; displs: number[] } {
  if (n === 0) return { counts: [], displs: [] };
  if (array.length % n !== 0) {
    throw new TsmpiError("ERR_TSMPI_COUNT", `${name} must hold ${n} equal blocks (one per neighbour), got ${describeValue(array)}`);
  }
  const counts = new Array<number>(n).fill(array.length / n);
  return { counts, displs: packedDispls(counts) };
}

/**
 * A communicator with a topology: the base of {@link Cartcomm}, {@link Graphcomm} and
 * {@link Distgraphcomm}. Its neighbourhood collectives exchange with the topology's neighbours
 * only; a `PROC_NULL` neighbour (an open Cartesian border) sends nothing and its receive block
 * is left untouched (`undefined` in the object tier).
 */
export abstract class Topocomm extends Comm {
  /** Incoming and outgoing neighbours, in MPI's order for the topology. */
  abstract get inoutedges(): [number[], number[]];

  /** @internal Who this rank exchanges with, and the order receives are posted in. */
  protected _plan(): NeighborPlan {
    const [sources, destinations] = this.inoutedges;
    return { sources, destinations, recvOrder: sources.map((_, i) => i) };
  }

  /** Incoming neighbours. */
  get inedges(): number[] {
    return this.inoutedges[0];
  }

  /** Outgoing neighbours. */
  get outedges(): number[] {
    return this.inoutedges[1];
  }

  /** The numbers of incoming and outgoing neighbours. */
  get degrees(): [number, number] {
    const [i, o] = this.inoutedges;
    return [i.length, o.length];
  }

  /** The number of incoming neighbours. */
  get indegree(): number {
    return this.degrees[0];
  }

  /** The number of outgoing neighbours. */
  get outdegree(): number {
    return this.degrees[1];
  }

  // ------------------------------------------------------------------ object tier

  /**
   * Sends `sendobj` to every outgoing neighbour; returns what each incoming neighbour sent, in
   * `inedges` order (`MPI_Neighbor_allgather` of pickled objects in mpi4py).
   */
  neighbor_allgather<T>(sendobj: T): Promise<T[]> {
    return this._collective("neighbor_allgather", async (ch) => {
      const plan = this._plan();
      const blob = packObject(sendobj);
      const got = await neighborBlobs(
        ch,
        plan,
        plan.destinations.map(() => blob),
        true,
      );
      return got.map((b) => (b === undefined ? undefined : unpackObject(b)));
    });
  }

  /**
   * Sends `sendobj[i]` to outgoing neighbour i; returns what each incoming neighbour sent here,
   * in `inedges` order (`MPI_Neighbor_alltoall` of objects).
   * @throws TsmpiError `ERR_TSMPI_COUNT` when `sendobj` has not `outdegree` entries.
   */
  neighbor_alltoall<T>(sendobj: readonly T[]): Promise<T[]> {
    return this._collective("neighbor_alltoall", async (ch) => {
      const plan = this._plan();
      if (!Array.isArray(sendobj) || sendobj.length !== plan.destinations.length) {
        throw new TsmpiError(
          "ERR_TSMPI_COUNT",
          `sendobj must be an array with one entry per outgoing neighbour (${plan.destinations.length}), got ${describeValue(sendobj)}`,
        );
      }
      const got = await neighborBlobs(
        ch,
        plan,
        sendobj.map((v) => packObject(v)),
      );
      return got.map((b) => (b === undefined ? undefined : unpackObject(b)));
    });
  }

  // ------------------------------------------------------------------ buffer tier

  /**
   * Sends `sendbuf` to every outgoing neighbour; block j of `recvbuf` (indegree blocks of
   * `sendbuf`'s length) gets incoming neighbour j's (`MPI_Neighbor_allgather`).
   * @throws TsmpiError `ERR_TSMPI_TYPE` (not typed arrays of one kind), `ERR_TSMPI_COUNT` (sizes).
   */
  Neighbor_allgather(sendbuf: BufferArg, recvbuf: BufferArg): Promise<void> {
    return this._collective("Neighbor_allgather", async (ch) => {
      const plan = this._plan();
      const s = hostBuffer(sendbuf, "sendbuf");
      const r = hostBuffer(recvbuf, "recvbuf");
      checkSameKind(s, r, "sendbuf and recvbuf");
      const n = plan.sources.length;
      if (r.length !== n * s.length) {
        throw new TsmpiError(
          "ERR_TSMPI_COUNT",
          `recvbuf must have indegree × ${s.length} = ${n * s.length} elements, got ${describeValue(r)}`,
        );
      }
      const recvCounts = new Array<number>(n).fill(s.length);
      const sendCounts = plan.destinations.map(() => s.length);
      await neighborArray(
        ch,
        plan,
        s,
        sendCounts,
        sendCounts.map(() => 0),
        r,
        recvCounts,
        packedDispls(recvCounts),
      );
    });
  }

  /**
   * {@link Neighbor_allgather} with per-neighbour counts: `recvbuf` is `[array, counts]` or
   * `[array, counts, displs]`, one entry per incoming neighbour (`MPI_Neighbor_allgatherv`).
   */
  Neighbor_allgatherv(sendbuf: BufferArg, recvbuf: VBufferArg): Promise<void> {
    return this._collective("Neighbor_allgatherv", async (ch) => {
      const plan = this._plan();
      const s = hostBuffer(sendbuf, "sendbuf");
      const r = checkVBuffer(recvbuf, plan.sources.length, "recvbuf");
      checkSameKind(s, r.array, "sendbuf and recvbuf");
      const sendCounts = plan.destinations.map(() => s.length);
      await neighborArray(
        ch,
        plan,
        s,
        sendCounts,
        sendCounts.map(() => 0),
        r.array,
        r.counts,
        r.displs,
      );
    });
  }

  /**
   * Block i of `sendbuf` (outdegree equal blocks) goes to outgoing neighbour i; block j of
   * `recvbuf` (indegree equal blocks) comes from incoming neighbour j (`MPI_Neighbor_alltoall`).
   */
  Neighbor_alltoall(sendbuf: BufferArg, recvbuf: BufferArg): Promise<void> {
    return this._collective("Neighbor_alltoall", async (ch) => {
      const plan = this._plan();
      const s = hostBuffer(sendbuf, "sendbuf");
      const r = hostBuffer(recvbuf, "recvbuf");
      checkSameKind(s, r, "sendbuf and recvbuf");
      const sb = evenBlocks(s, plan.destinations.length, "sendbuf");
      const rb = evenBlocks(r, plan.sources.length, "recvbuf");
      await neighborArray(ch, plan, s, sb.counts, sb.displs, r, rb.counts, rb.displs);
    });
  }

  /**
   * {@link Neighbor_alltoall} with per-neighbour counts and displacements on both sides:
   * `[array, counts, displs?]`, one entry per outgoing (send) or incoming (receive) neighbour.
   */
  Neighbor_alltoallv(sendbuf: VBufferArg, recvbuf: VBufferArg): Promise<void> {
    return this._collective("Neighbor_alltoallv", async (ch) => {
      const plan = this._plan();
      const s = checkVBuffer(sendbuf, plan.destinations.length, "sendbuf");
      const r = checkVBuffer(recvbuf, plan.sources.length, "recvbuf");
      checkSameKind(s.array, r.array, "sendbuf and recvbuf");
      await neighborArray(ch, plan, s.array, s.counts, s.displs, r.array, r.counts, r.displs);
    });
  }

  /** Nonblocking {@link Neighbor_allgather} (`MPI_Ineighbor_allgather`). */
  Ineighbor_allgather(sendbuf: BufferArg, recvbuf: BufferArg): Request<void> {
    return this._request(this.Neighbor_allgather(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Neighbor_allgatherv}. */
  Ineighbor_allgatherv(sendbuf: BufferArg, recvbuf: VBufferArg): Request<void> {
    return this._request(this.Neighbor_allgatherv(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Neighbor_alltoall}. */
  Ineighbor_alltoall(sendbuf: BufferArg, recvbuf: BufferArg): Request<void> {
    return this._request(this.Neighbor_alltoall(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Neighbor_alltoallv}. */
  Ineighbor_alltoallv(sendbuf: VBufferArg, recvbuf: VBufferArg): Request<void> {
    return this._request(this.Neighbor_alltoallv(sendbuf, recvbuf));
  }

  /** Nonblocking {@link neighbor_allgather}: the request's value is the list. */
  ineighbor_allgather<T>(sendobj: T): Request<T[]> {
    return this._request(this.neighbor_allgather(sendobj));
  }

  /** Nonblocking {@link neighbor_alltoall}. */
  ineighbor_alltoall<T>(sendobj: readonly T[]): Request<T[]> {
    return this._request(this.neighbor_alltoall(sendobj));
  }
}
