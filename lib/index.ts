/**
 * tsmpi: MPI-style message passing for Node.js. Importing this module initializes the rank, as
 * `from mpi4py import MPI` does: inside `tsmpirun` it joins the job; run with plain
 * `node script.js` it is a world of size 1. A script that finishes exits by itself. `cuda` is this
 * rank's GPU (see `tsmpi/cuda`), loaded on first use.
 *
 * @example
 * ```ts
 * import { COMM_WORLD as comm } from "tsmpi";
 * console.log(`Hello, World! I am process ${comm.rank} of ${comm.size}.`);
 * ```
 *
 * @module
 */
import { Comm, spawning } from "./comm.js";
import { Get_processor_name, Wtick, Wtime } from "./environ.js";
import { emptyGroup, type Group } from "./group.js";
import type { Intercomm } from "./intercomm.js";
// The topology communicators extend Comm and register their constructors with comm.ts when loaded.
import "./topology/cartcomm.js";
import "./topology/graphcomm.js";
import "./topology/distgraphcomm.js";
// So does the intercommunicator (Create_intercomm).
import "./intercomm.js";
import { Runtime, SELF_CONTEXT, WORLD_CONTEXT } from "./job/runtime.js";
// Spawning fills its part of comm.ts when loaded.
import { spawnedWorld } from "./spawn.js";
import type { PeerPath } from "./transport/path.js";
import type { WaitPolicy } from "./transport/polling.js";

const runtime = await Runtime.init();

// A spawned job's last ranks are its parents: not in its COMM_WORLD, reached through Get_parent().
const spawned = spawnedWorld(runtime);
spawning.parent = spawned.parent;

/** All ranks of the job (`MPI_COMM_WORLD`), named `MPI_COMM_WORLD`; in spawned ranks, the ranks spawned together. */
export const COMM_WORLD: Comm = new Comm(
  runtime,
  WORLD_CONTEXT,
  runtime.rank,
  Array.from({ length: spawned.size }, (_, i) => i),
  "MPI_COMM_WORLD",
);
/** Only this rank (`MPI_COMM_SELF`), named `MPI_COMM_SELF`. */
export const COMM_SELF: Comm = new Comm(runtime, SELF_CONTEXT, 0, [runtime.rank], "MPI_COMM_SELF");
/** The group with no members (`MPI_GROUP_EMPTY`). */
export const GROUP_EMPTY: Group = emptyGroup(runtime);

export { Comm, type BufferArg, type SendBufferArg, type VBufferArg, type WBufferArg, type Weights } from "./comm.js";
export { Group, type RankRange } from "./group.js";
export { Intercomm } from "./intercomm.js";
export { Topocomm } from "./topology/topocomm.js";
export { Cartcomm } from "./topology/cartcomm.js";
export { Graphcomm } from "./topology/graphcomm.js";
export { Distgraphcomm } from "./topology/distgraphcomm.js";
export { Compute_dims } from "./topology/dims.js";
export {
  ANY_SOURCE,
  ANY_TAG,
  PROC_NULL,
  ROOT,
  UNDEFINED,
  TAG_UB,
  APPNUM,
  IN_PLACE,
  IDENT,
  CONGRUENT,
  SIMILAR,
  UNEQUAL,
} from "./constants.js";
export { UNIVERSE_SIZE } from "./constants.js";
export { universeSize } from "./job/spawn.js";
export { COMM_NULL, COMM_TYPE_SHARED, CART, GRAPH, DIST_GRAPH, UNWEIGHTED, WEIGHTS_EMPTY } from "./constants.js";
export { Op, type LocalBufferArg, type UserFunction } from "./op.js";
export { THREAD_SINGLE, THREAD_FUNNELED, THREAD_SERIALIZED, THREAD_MULTIPLE, VERSION, SUBVERSION } from "./constants.js";
export { Get_version, Get_library_version, Query_thread, Is_thread_main, Get_processor_name, Wtime, Wtick } from "./environ.js";
export { TsmpiError, type TsmpiErrorCode } from "./errors.js";
export { Request } from "./request.js";
export { Prequest } from "./prequest.js";
export { Status } from "./status.js";
export type { TypedArray, TypedArrayConstructor } from "./serializer.js";
export type { PeerPath } from "./transport/path.js";
export type { WaitPolicy } from "./transport/polling.js";
// The GPU API of `tsmpi/cuda`, also here. Nothing is loaded or probed by importing it: the native
// addon loads, and CUDA is probed, on the first use of `cuda` or a DeviceArray.
export {
  cuda,
  DeviceArray,
  isDeviceArray,
  CudaCompileError,
  CudaEvent,
  type CudaApi,
  type DeviceInfo,
  type TypedArrayKind,
  type Backend,
  type PiCountOptions,
  type FloatOperand,
} from "./gpu/cuda.js";

/**
 * The intercommunicator to the ranks that spawned this one (`Comm.Get_parent()`); `null`
 * (`COMM_NULL`) when this rank was not spawned, or after `Disconnect()`.
 */
export function getParent(): Intercomm | null {
  return Comm.Get_parent();
}

/** Seconds since an arbitrary point in the past, with sub-microsecond resolution (`MPI_Wtime`; mpi4py's name: `Wtime`). */
export function wtime(): number {
  return Wtime();
}

/** The resolution of {@link wtime} in seconds (`MPI_Wtick`; mpi4py's name: `Wtick`). */
export function wtick(): number {
  return Wtick();
}

/** The name of the host this rank runs on (`MPI_Get_processor_name`; mpi4py's name: `Get_processor_name`). */
export function processorName(): string {
  return Get_processor_name();
}

/** This rank's index among the ranks on its host, and how many ranks share the host. */
export function localRank(): { rank: number; size: number } {
  return { rank: runtime.localRank, size: runtime.localSize };
}

/**
 * Finalizes now (`MPI_Finalize`): queued messages are handed over and the rank leaves the job.
 * Optional: a script that finishes does this by itself. Later calls reject with `ERR_TSMPI_FINALIZED`.
 */
export async function finalize(): Promise<void> {
  if (!runtime.finalized) await runtime.finalize();
}

/** How this rank reaches its peers and how it waits for same-host messages (see {@link transportInfo}). */
export interface TransportInfo {
  /** The path to each rank, by world rank: `self`, `shm` (shared memory), `ipc` (ZeroMQ, same host) or `tcp` (ZeroMQ, other hosts). */
  paths: PeerPath[];
  /** How this rank waits for shared-memory messages; null when it has no shared-memory inbox. */
  wait: WaitPolicy | null;
  /** Why same-host peers are not on shared memory, by world rank, where they are not. */
  refused: Record<number, string>;
  /** The endpoints this rank advertised (`ipc://`, `tcp://`, `shm://`). */
  endpoints: string[];
}

/**
 * The path this rank uses to each peer and its polling mode, as `tsmpirun --info -n N` and
 * `TSMPI_TRACE=transport` report them.
 *
 * @example
 * ```ts
 * import { transportInfo } from "tsmpi";
 * console.log(transportInfo().paths); // e.g. [ 'self', 'shm', 'tcp' ]
 * ```
 */
export function transportInfo(): TransportInfo {
  const t = runtime.transport;
  return {
    paths: t ? t.paths : ["self"],
    wait: t?.shared?.waitPolicy ?? null,
    refused: Object.fromEntries(t?.shmRefused ?? []),
    endpoints: t?.endpoints ?? [],
  };
}

/** True once tsmpi finalized (`MPI_Finalized`). */
export function isFinalized(): boolean {
  return runtime.finalized;
}

/** Whether tsmpi is initialized (`MPI_Initialized`, mpi4py's `Is_initialized`): true once imported, also after finalizing, as in MPI. */
export function Is_initialized(): boolean {
  return true;
}

/** Whether tsmpi finalized (`MPI_Finalized`, mpi4py's `Is_finalized`), as {@link isFinalized}. */
export function Is_finalized(): boolean {
  return runtime.finalized;
}
