/**
 * The workers of `tsmpirun -m tsmpi/futures script`: ranks 1..N-1 of the job, shared by every
 * executor the script makes on rank 0. Kept on `globalThis` (under a registered symbol), so a
 * second copy of this module (a script that resolved tsmpi/futures to another path) sees the
 * same workers.
 *
 * @module
 */
import type { Comm } from "../comm.js";
import type { WorkerPlace } from "./protocol.js";

/** The shared workers: their communicator (a dup of COMM_WORLD), where each runs, sessions opened so far. */
export interface World {
  comm: Comm;
  places: WorkerPlace[];
  sessions: number;
}

const KEY = Symbol.for("tsmpi.futures.world");

/** The workers of `-m tsmpi/futures`, on rank 0 of such a job; else undefined. */
export function worldWorkers(): World | undefined {
  return (globalThis as { [KEY]?: World })[KEY];
}

/** Records the job's workers (rank 0 of `-m tsmpi/futures`). */
export function setWorldWorkers(world: World): void {
  (globalThis as { [KEY]?: World })[KEY] = world;
}
