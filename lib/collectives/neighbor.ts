/**
 * Neighbourhood collectives (`MPI_Neighbor_allgather`, `MPI_Neighbor_alltoall` and their v
 * variants): each rank sends one block to each outgoing neighbour and receives one block from
 * each incoming neighbour, all at once; `PROC_NULL` neighbours (open Cartesian borders) move
 * nothing and leave their receive blocks untouched.
 *
 * Blocks are told apart by order only: all messages of one call share the call's tag, and
 * messages between two ranks match in the order they were posted (MPI's non-overtaking rule). A
 * rank can be the same neighbour twice (a periodic dimension of size 1 or 2, a graph's repeated
 * edge); the topology gives the order in which receives are posted (`recvOrder`) so that the
 * k-th message to a neighbour lands in the block MPI defines for it.
 *
 * Not supported yet: `Neighbor_alltoallw` (derived datatypes), DeviceArrays, persistent variants.
 *
 * @module
 */
import { PROC_NULL } from "../constants.js";
import type { TypedArray } from "../serializer.js";
import { bytesOfRange } from "./blocks.js";
import type { Channel } from "./channel.js";

/** Who a rank exchanges with in a neighbourhood collective. */
export interface NeighborPlan {
  /** Incoming neighbours, by receive block (`PROC_NULL` allowed). */
  readonly sources: readonly number[];
  /** Outgoing neighbours, by send block (`PROC_NULL` allowed); messages are sent in this order. */
  readonly destinations: readonly number[];
  /** The receive blocks in the order their receives are posted (a permutation of the sources' indices). */
  readonly recvOrder: readonly number[];
}

/**
 * Sends `blobs[i]` to `destinations[i]` and receives one message from each source; returns
 * them by receive block (`undefined` for `PROC_NULL`). `shared` says the blobs may be one array
 * sent several times (then each send borrows it).
 */
export async function neighborBlobs(
  ch: Channel,
  plan: NeighborPlan,
  blobs: readonly Uint8Array[],
  shared = false,
): Promise<(Uint8Array | undefined)[]> {
  const out = new Array<Uint8Array | undefined>(plan.sources.length).fill(undefined);
  const ops: Promise<unknown>[] = [];
  for (const j of plan.recvOrder) {
    const src = plan.sources[j]!;
    if (src !== PROC_NULL) ops.push(ch.recv(src).then((b) => (out[j] = b)));
  }
  plan.destinations.forEach((dest, i) => {
    if (dest !== PROC_NULL) ops.push(ch.send(dest, blobs[i]!, !shared));
  });
  await Promise.all(ops);
  return out;
}

/**
 * Typed-array blocks: block i of `send` (`sendCounts[i]` elements at `sendDispls[i]`) goes to
 * `destinations[i]`; block j of `recv` comes from `sources[j]`, which must send exactly
 * `recvCounts[j]` elements (else `ERR_TSMPI_COUNT` on both).
 */
export async function neighborArray(
  ch: Channel,
  plan: NeighborPlan,
  send: TypedArray,
  sendCounts: readonly number[],
  sendDispls: readonly number[],
  recv: TypedArray,
  recvCounts: readonly number[],
  recvDispls: readonly number[],
): Promise<void> {
  const ops: Promise<unknown>[] = [];
  for (const j of plan.recvOrder) {
    const src = plan.sources[j]!;
    if (src !== PROC_NULL) ops.push(ch.recv(src, bytesOfRange(recv, recvDispls[j]!, recvDispls[j]! + recvCounts[j]!)));
  }
  plan.destinations.forEach((dest, i) => {
    if (dest !== PROC_NULL) ops.push(ch.send(dest, bytesOfRange(send, sendDispls[i]!, sendDispls[i]! + sendCounts[i]!)));
  });
  await Promise.all(ops);
}
